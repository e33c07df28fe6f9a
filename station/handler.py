"""Real fixtures: an operator (or a robot handler) puts the next unit in the socket."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from linegate.station.engine.sources import UnitStart

__all__ = ["OperatorUnits", "UnitStart"]


class OperatorUnits:
    """``total`` units, or one per serial (``--sn``), loaded by hand.

    With a terminal the operator confirms each unit; without one (a robot
    handler, CI) the station proceeds as soon as the previous unit is done.
    """

    def __init__(self, total: int | None, serials: Sequence[str] | None) -> None:
        self._serials = list(serials or ())
        self._total = len(self._serials) or total or 1
        self._index = 0

    def next_unit(self, socket: str) -> UnitStart | None:
        if self._index >= self._total:
            return None
        serial = self._serials[self._index] if self._serials else None
        if sys.stdin.isatty():
            label = f" {serial}" if serial else ""
            try:
                input(f"Load unit{label} into socket {socket} and press Enter (Ctrl-C to stop) ")
            except EOFError:  # the operator's input ended: no more units
                self._total = self._index
                return None
        self._index += 1
        return UnitStart(socket=socket, index=self._index, serial=serial)
