"""A way to look at what a DUT holds: what recovery and the ledger's audit are given (the engine's unit
sources provide one; a real station may have none)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

# namespace -> key -> value: what a DUT's NVS holds
Holdings = dict[str, dict[str, bytes]]


class DutProbe(Protocol):
    """A way to look at what a DUT holds, for recovery and for the audit."""

    def probe(self, mac: str) -> Holdings | None:
        """What the DUT with ``mac`` holds; ``None`` when that DUT is not at hand."""

    def at_hand(self) -> Iterable[str]:
        """MACs of every DUT this probe can look at unasked (the audit checks them all); may be none."""


__all__ = ["DutProbe", "Holdings"]
