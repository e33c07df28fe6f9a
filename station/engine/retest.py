"""The retest limit at the door: every unit a source hands out is admitted by the plan's ``RetestPolicy``.

An operator's source (the terminal, the panel) refuses a unit over the limit as its serial comes in and
may take an override; this wrapper then gives each unit its record's ``retest`` part (the earlier failures,
the override). A unit over the limit that reached it without an override (``--sn`` is checked before the
run; another station failed the unit meanwhile) is not tested: the console says why and the source is
asked for the next unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from linegate.station.engine.sources import UnitSource, UnitStart
from linegate.station.events import EventSink
from linegate.station.results.attempts import RetestPolicy, ReworkRefused


class RetestChecked:
    """``source``'s units, each admitted by ``policy`` (``UnitStart.retest`` set)."""

    def __init__(self, source: UnitSource, policy: RetestPolicy, say: Callable[[str], None] | None = None) -> None:
        self.source = source
        self.policy = policy
        self.concurrent = bool(getattr(source, "concurrent", False))
        self._say = say or (lambda text: print(text, flush=True))

    def next_unit(self, socket: str) -> UnitStart | None:
        while (start := self.source.next_unit(socket)) is not None:
            try:
                return replace(start, retest=self.policy.admit(start.serial))
            except ReworkRefused as e:
                self._say(f"socket {socket}: {e}; not tested")
        return None

    def stop(self) -> None:
        if callable(stop := getattr(self.source, "stop", None)):
            stop()

    def bind_events(self, events: EventSink) -> None:
        if callable(bind := getattr(self.source, "bind_events", None)):
            bind(events)
