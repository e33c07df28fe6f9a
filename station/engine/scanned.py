"""Units started by scanning their serial into the socket's tile on the operator panel.

Each socket waits for its own scan; a scan of the wrong form is refused with the reason and starts
nothing; a serial already tested in this run is refused once with a warning and started when scanned
again (the retest confirmed); a scan for a socket that is not waiting for a unit is refused. The station's
event stream is told (``UnitWanted``) the moment a socket takes a scan and when it no longer does: the
panel shows a socket ready from that event, never before. A unit over
the plan's retest limit is refused ("send to rework"); ``override`` then starts it, recording who let it
past the limit and why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from linegate.plans.serial import SerialSpec, refusal
from linegate.station.engine.sources import UnitStart
from linegate.station.events import EventSink, UnitWanted
from linegate.station.results.attempts import RetestPolicy, Rework


class ScannedUnits:
    """A ``UnitSource`` fed by ``submit(socket, serial)`` (the panel); ``next_unit`` waits for the scan."""

    concurrent = True  # each socket waits for its own scan: the supervisor asks for them side by side

    def __init__(self, total: int | None, rule: SerialSpec | None = None, retest: RetestPolicy | None = None,
                 rework_text: Callable[[Rework], str] = Rework.message,
                 say: Callable[[str], None] | None = None) -> None:
        """``rework_text``: the refusal of a unit over the retest limit in the operator's words; ``say``: the
        console, told of each such refusal and override."""
        self.total = total  # None: until the station is stopped
        self.rule = rule
        self.retest = retest
        self._rework_text = rework_text
        self._rework: dict[str, str] = {}  # socket -> the serial refused for rework there, until an override
        self._say = say or (lambda text: print(text, flush=True))
        self.tested: set[str] = set()
        self._index = 0
        self._waiting: dict[str, str | None] = {}  # socket -> the serial scanned for it (None: not yet)
        self._retest: dict[str, str] = {}  # socket -> a tested serial scanned once
        self._stopped = False
        self._changed = threading.Condition()
        self.events: EventSink | None = None  # the station's event stream: told when a socket takes a scan

    def submit(self, socket: str, serial: str) -> tuple[bool, str]:
        serial = serial.strip()
        with self._changed:
            if socket not in self._waiting or self._waiting[socket] is not None:
                return False, f"socket {socket} is not waiting for a unit"
            if (why := refusal(serial, self.rule)) is not None:
                return False, f"{why}; nothing tested"
        rework = self.retest.check(serial) if self.retest is not None else None  # a query: not under the lock
        with self._changed:
            if socket not in self._waiting or self._waiting[socket] is not None:
                return False, f"socket {socket} is not waiting for a unit"
            if rework is not None:
                self._rework[socket] = serial
                self._say(f"socket {socket}: refused: {rework.message()}")
                return False, self._rework_text(rework)
            self._rework.pop(socket, None)
            if serial in self.tested and self._retest.get(socket) != serial:
                self._retest[socket] = serial
                return False, f"{serial} was already tested in this run: scan it again to test it again"
            self._retest.pop(socket, None)
            self._waiting[socket] = serial
            self._changed.notify_all()
        return True, ""

    def overridable(self, socket: str, serial: str) -> bool:
        """``serial`` was the last scan refused for rework in ``socket``: an override may start it."""
        with self._changed:
            return self._rework.get(socket) == serial.strip()

    def override(self, socket: str, serial: str, by: str, reason: str) -> tuple[bool, str]:
        """Start ``serial``, refused for rework in ``socket``, past the retest limit: ``by`` says ``reason``."""
        serial = serial.strip()
        with self._changed:
            if socket not in self._waiting or self._waiting[socket] is not None:
                return False, f"socket {socket} is not waiting for a unit"
            if self.retest is None or self._rework.get(socket) != serial:
                return False, f"{serial} was not refused for rework in socket {socket}: scan it first"
            self.retest.override(serial, by, reason)
            self._say(f"socket {socket}: {serial} tested past the retest limit: {by} says {reason!r}")
            del self._rework[socket]
            self._retest.pop(socket, None)
            self._waiting[socket] = serial
            self._changed.notify_all()
        return True, ""

    def waiting(self) -> list[str]:
        with self._changed:
            return [s for s, serial in self._waiting.items() if serial is None]

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def next_unit(self, socket: str) -> UnitStart | None:
        with self._changed:
            closed = self._done()
            if not closed:
                self._waiting[socket] = None
        if closed:
            self._tell(UnitWanted(socket, wanted=False))
            return None
        self._tell(UnitWanted(socket))  # only now does a scan for ``socket`` start a unit
        with self._changed:
            while self._waiting[socket] is None and not self._stopped and not self._done():
                self._changed.wait(0.5)
            serial = self._waiting.pop(socket)
            if serial is not None:
                self._index += 1
                self.tested.add(serial)
                return UnitStart(socket=socket, index=self._index, serial=serial)
        self._tell(UnitWanted(socket, wanted=False))
        return None

    def bind_events(self, events: EventSink) -> None:
        """The station's event stream (the supervisor's): told when a socket takes a scan."""
        self.events = events

    def _tell(self, event: UnitWanted) -> None:
        if self.events is not None:
            self.events(event)

    def _done(self) -> bool:
        return self._stopped or (self.total is not None and self._index >= self.total)
