"""What the engine is given: a source of units and a way to look at a DUT.

The engine never asks whether the line is simulated. The simulated line is one source of units
(it inserts a fresh module into a freed socket), an operator loading units (or ``--sn``) another;
a real station has no DUT probe, or one that asks the operator or the DUT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle
from typing import TYPE_CHECKING, Protocol

from linegate.plans.record import RetestRecord

if TYPE_CHECKING:  # the ledger audit uses these interfaces and has no use for the instrument drivers
    from linegate.fixtures.jig import Jig

@dataclass(frozen=True)
class UnitStart:
    """A unit now in ``socket``. ``bench``: what the handler does to the socket's instruments for this
    unit, run where the jig is open (a socket's worker); it must pickle (a module-level function or a
    ``functools.partial`` of one), since the unit source runs in the supervisor."""

    socket: str
    index: int
    serial: str | None = None
    bench: Callable[[Jig], None] | None = None
    operator: str | None = None  # who loaded it (the name entered at the panel); None: the fixture file's
    retest: RetestRecord | None = None  # its earlier failures and any override of the plan's retest limit


class UnitSource(Protocol):
    """Who puts the next unit in a socket."""

    def next_unit(self, socket: str) -> UnitStart | None:
        """The unit now in ``socket``, which has just become free; ``None``: the line has no more units."""


def unit_starts(source: UnitSource, sockets: Sequence[str]) -> Iterator[UnitStart]:
    """Units from ``source``, socket after socket, until it has no more (one process tests them in turn)."""
    if not sockets:
        return
    for socket in cycle(sockets):
        start = source.next_unit(socket)
        if start is None:
            return
        yield start
