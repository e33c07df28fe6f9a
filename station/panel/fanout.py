"""Push to N browsers: each subscriber has a bounded queue filled from any thread, emptied in its event loop.

``publish`` never blocks and never raises: it appends under a short lock and wakes the subscriber's loop
only when it waits (``call_soon_threadsafe``); the stream pauses ``FLUSH_S`` after each write, so at a
high rate the messages go out in batches: fewer wake-ups and writes, at most ``FLUSH_S`` later.
A subscriber whose queue is full (a slow browser) is not given more: its queue is emptied and marked,
and its next ``get`` answers ``RESYNC`` (the stream then sends the whole state again). The supervisor's
thread is never held up by a browser.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from enum import Enum

FLUSH_S = 0.025  # after a write, the stream gathers for this long (at most 40 writes a second per browser)
QUEUE_LIMIT = 256  # messages waiting for one browser before it is resynced
MAX_SUBSCRIBERS = 32


class Signal(Enum):
    RESYNC = "resync"  # the subscriber fell behind: send the whole state
    CLOSED = "closed"  # the panel is stopping
    IDLE = "idle"  # nothing within the wait: time for a keep-alive


class Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = QUEUE_LIMIT) -> None:
        self._loop = loop
        self._limit = limit
        self._lock = threading.Lock()
        self._items: deque[str] = deque()
        self._wake = asyncio.Event()
        self._pending = False  # a wake-up is scheduled
        self._behind = False
        self._closed = False
        self.dropped = 0  # times it was resynced

    def put(self, message: str) -> None:
        """From any thread; never blocks."""
        with self._lock:
            if self._closed or self._behind:
                return
            if len(self._items) >= self._limit:
                self._items.clear()
                self._behind = True
                self.dropped += 1
            else:
                self._items.append(message)
            if self._pending:
                return
            self._pending = True
        self._schedule_wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._schedule_wake()

    def _schedule_wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # its loop is closed: the server is gone
            with self._lock:
                self._closed = True

    async def get(self, timeout: float) -> list[str] | Signal:
        """The waiting messages in order, or a signal; in the subscriber's loop."""
        while True:
            with self._lock:
                if self._closed:
                    return Signal.CLOSED
                if self._behind:
                    self._behind, self._pending = False, False
                    return Signal.RESYNC
                if self._items:  # still "pending": what comes until the next wait needs no wake-up
                    taken = list(self._items)
                    self._items.clear()
                    return taken
                self._pending = False
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):  # no task per wait, unlike wait_for
                    await self._wake.wait()
            except TimeoutError:
                return Signal.IDLE


class FanOut:
    def __init__(self, limit: int = QUEUE_LIMIT, max_subscribers: int = MAX_SUBSCRIBERS) -> None:
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._limit = limit
        self._max = max_subscribers

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscription | None:
        """None when there are already as many subscribers as allowed."""
        with self._lock:
            if len(self._subs) >= self._max:
                return None
            sub = Subscription(loop, self._limit)
            self._subs = [*self._subs, sub]
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if s is not sub]

    def publish(self, message: str) -> None:
        for sub in self._subs:  # a copy-on-write list: no lock needed to read it
            sub.put(message)

    def close(self) -> None:
        with self._lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.close()

    def __len__(self) -> int:
        return len(self._subs)
