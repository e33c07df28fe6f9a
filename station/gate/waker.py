"""A background thread (not a socket's worker process) that does its work when woken or after a pause."""

from __future__ import annotations

import threading
from typing import Self


class WakeableThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> float:
        """One round of work; returns how long to rest unless woken (0: go again at once)."""
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            rest = self.tick()
            if rest > 0:
                self._wake.wait(rest)
                self._wake.clear()
