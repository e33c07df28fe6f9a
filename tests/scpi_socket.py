"""A scripted SCPI instrument on a raw TCP socket of 127.0.0.1 (what a supply serves on port 5025/5555).

It speaks line-based SCPI to whatever connects (pyvisa-py's ``TCPIP0::127.0.0.1::<port>::SOCKET``)
and checks the exact traffic, PyMeasure style: (command, answer-or-None) pairs, every command in
order, every pair used. A command with no answer is a setting; a query scripted with ``None`` is
one the instrument leaves unanswered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from types import TracebackType


class ScpiSocketInstrument:
    def __init__(self, pairs: list[tuple[str, str | None]]) -> None:
        self.pairs = deque(pairs)
        self.problems: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"scpi-socket-{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        pending = b""
        while not self._stop.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                answer = self._answer(line.decode("ascii", "replace").strip())
                if answer is not None:
                    conn.sendall(answer.encode("ascii") + b"\n")

    def _answer(self, command: str) -> str | None:
        if not self.pairs:
            self.problems.append(f"unexpected {command!r}: no pairs left")
            return None
        expected, answer = self.pairs.popleft()
        if command != expected:
            self.problems.append(f"received {command!r}, expected {expected!r}")
            return None
        return answer

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=2)

    def __enter__(self) -> ScpiSocketInstrument:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def assert_all_used(self, wait_s: float = 1.0) -> None:
        deadline = time.monotonic() + wait_s  # a last setting may still be on its way
        while self.pairs and not self.problems and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.problems, self.problems
        assert not self.pairs, f"pairs never used: {list(self.pairs)}"
