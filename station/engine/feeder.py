"""The unit source, asked on a thread of its own: an operator answering a prompt (or a handler that is
slow to load a unit) must not hold up the supervisor, which meanwhile reads the other sockets' events
and watches their deadlines."""

from __future__ import annotations

import queue
import threading
from multiprocessing.connection import Pipe

from linegate.station.engine.sources import UnitSource, UnitStart


class UnitFeeder:
    """``ask(socket)`` asks the source for the unit in ``socket``; the answer comes as ``(socket, start)``
    (``start`` a ``UnitStart``, ``None`` for no more units, or the exception the source raised) on
    ``answers``, a connection the supervisor waits on with its workers' pipes."""

    def __init__(self, source: UnitSource) -> None:
        self.source = source
        self.answers, self._tell = Pipe(duplex=False)
        self._asks: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="unit-source", daemon=True)
        self._thread.start()

    def ask(self, socket: str) -> None:
        self._asks.put(socket)

    def take(self) -> tuple[str, UnitStart | Exception | None]:
        answer: tuple[str, UnitStart | Exception | None] = self.answers.recv()
        return answer

    def _run(self) -> None:
        while (socket := self._asks.get()) is not None:
            try:
                start: UnitStart | Exception | None = self.source.next_unit(socket)
            except Exception as e:  # told to the supervisor: a station fault
                start = e
            self._tell.send((socket, start))

    def close(self) -> None:
        self._asks.put(None)  # the thread may be in a prompt: it is a daemon, and ends with the process
        for conn in (self.answers, self._tell):
            conn.close()



