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
        self._send_lock = threading.Lock()
        self._asks: queue.Queue[str | None] = queue.Queue()
        # A source whose sockets wait apart (each for its own scan) is asked for each socket on a thread of
        # its own; any other (a terminal prompt, the simulated line) one socket at a time.
        self.concurrent = bool(getattr(source, "concurrent", False))
        if not self.concurrent:
            threading.Thread(target=self._run, name="unit-source", daemon=True).start()

    def ask(self, socket: str) -> None:
        if self.concurrent:
            threading.Thread(target=self._answer, args=(socket,), name=f"unit-source-{socket}", daemon=True).start()
        else:
            self._asks.put(socket)

    def take(self) -> tuple[str, UnitStart | Exception | None]:
        answer: tuple[str, UnitStart | Exception | None] = self.answers.recv()
        return answer

    def _run(self) -> None:
        while (socket := self._asks.get()) is not None:
            self._answer(socket)

    def _answer(self, socket: str) -> None:
        try:
            start: UnitStart | Exception | None = self.source.next_unit(socket)
        except Exception as e:  # told to the supervisor: a station fault
            start = e
        try:
            with self._send_lock:
                self._tell.send((socket, start))
        except OSError:
            pass  # the run is over

    def close(self) -> None:
        self._asks.put(None)  # a thread may be in a prompt: it is a daemon, and ends with the process
        if callable(stop := getattr(self.source, "stop", None)):
            stop()
        for conn in (self.answers, self._tell):
            conn.close()



