"""What the engine is given: a source of units and a way to look at a DUT.

The engine never asks whether the line is simulated. The simulated line is one source of units
(it inserts a fresh module into a freed socket), an operator loading units (or ``--sn``) another;
a real station has no DUT probe, or one that asks the operator or the DUT.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the ledger audit uses these interfaces and has no use for the instrument drivers
    from linegate.fixtures.jig import Jig

# namespace -> key -> value: what a DUT's NVS holds
Holdings = dict[str, dict[str, bytes]]


@dataclass(frozen=True)
class UnitStart:
    socket: str
    index: int
    serial: str | None = None


class UnitSource(Protocol):
    """Who puts the next unit in a socket."""

    def prepare(self, jig: Jig) -> None:
        """The open jig, given once before the first unit (a simulated line drives its bench per unit)."""

    def next_unit(self, socket: str) -> UnitStart | None:
        """The unit now in ``socket``, which has just become free; ``None``: the line has no more units."""


class DutProbe(Protocol):
    """A way to look at what a DUT holds, for recovery and for the audit."""

    def probe(self, mac: str) -> Holdings | None:
        """What the DUT with ``mac`` holds; ``None`` when that DUT is not at hand."""

    def at_hand(self) -> Iterable[str]:
        """MACs of every DUT this probe can look at unasked (the audit checks them all); may be none."""


def unit_starts(source: UnitSource, jig: Jig, sockets: Sequence[str]) -> Iterator[UnitStart]:
    """Units from ``source``, socket after socket, until it has no more."""
    if not sockets:
        return
    source.prepare(jig)
    for socket in cycle(sockets):
        start = source.next_unit(socket)
        if start is None:
            return
        yield start
