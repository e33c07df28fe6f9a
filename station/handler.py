"""Who puts the next unit in the socket: the simulated line, or an operator."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count

from linegate.fixtures.jig import Jig
from linegate.fixtures.sim.jig import SimulatedLine


@dataclass(frozen=True)
class UnitStart:
    socket: str
    index: int
    serial: str | None = None


def simulated_units(line: SimulatedLine, jig: Jig, total: int) -> Iterator[UnitStart]:
    """Insert ``total`` fresh units, socket after socket (the first ones are already in)."""
    sockets = [s.name for s in line.config.sockets]
    for index in range(total):
        socket = sockets[index % len(sockets)]
        unit = line.insert(socket, jig, fresh=index >= len(sockets))
        yield UnitStart(socket=socket, index=index + 1, serial=unit.serial)


def operator_units(
    sockets: Sequence[str], total: int | None, serials: Sequence[str] | None
) -> Iterator[UnitStart]:
    """Real fixtures: the operator (or a robot handler) loads each unit.

    With a terminal the operator confirms each unit; without one (a robot
    handler, CI) the station proceeds as soon as the previous unit is done.
    """
    planned: Iterator[str | None] = iter(serials) if serials else (None for _ in range(total or 1))
    for index, serial in zip(count(1), planned, strict=False):
        socket = sockets[(index - 1) % len(sockets)]
        if sys.stdin.isatty():
            label = f" {serial}" if serial else ""
            try:
                input(f"Load unit{label} into socket {socket} and press Enter (Ctrl-C to stop) ")
            except EOFError:
                return
        yield UnitStart(socket=socket, index=index, serial=serial)
