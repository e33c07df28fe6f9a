"""The run's results sync: a thread of the supervisor's process sending the station's outbox (``sync.py``) while
the line runs, and telling its lag as ``results_sync`` events; the line never waits for the central store."""

from __future__ import annotations

import logging
import random
import threading
import time

from linegate.station.events import EventSink, ResultsSync
from linegate.station.results.store import ResultsError
from linegate.station.results.sync import Lag, Outbox, SyncError, scrubbed
from sqlalchemy.exc import SQLAlchemyError

POLL_S = 0.5  # how often the thread looks for new units
REPORT_EVERY_S = 2.0  # at most one results_sync event this often
AGE_EVERY_S = 30.0  # while behind and nothing else changes, the lag is told again this often
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
FINAL_TRY_S = 10.0  # at the end of a run, how long the last try may take

log = logging.getLogger(__name__)


def backoff_s(failures: int) -> float:
    """The wait after ``failures`` failed tries in a row: doubling from 0.5 s to 10 s, jittered so that
    the stations of a line do not all knock at once when the central store comes back."""
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, failures - 1)) * random.uniform(0.8, 1.0))


class BackgroundSync:
    """The sync of one station's run: a thread sending the outbox while the line runs, reporting its lag
    to ``events`` (``results_sync``, when it changes, at most every ``report_every_s``)."""

    def __init__(self, outbox: Outbox, events: EventSink | None = None, *, poll_s: float = POLL_S,
                 report_every_s: float = REPORT_EVERY_S) -> None:
        self.outbox = outbox
        self.events = events
        self.poll_s, self.report_every_s = poll_s, report_every_s
        self.sent = 0
        self._failures = 0
        self._error = ""
        self._reachable: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown: tuple[int, str, bool | None, int] | None = None
        self._shown_at = float("-inf")
        self.last: Lag | None = None

    def start(self, events: EventSink | None = None) -> BackgroundSync:
        if events is not None:
            self.events = events
        self._thread = threading.Thread(target=self._loop, name="results-sync", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        next_try = 0.0
        while True:
            if time.monotonic() >= next_try:
                self._try(stop=self._stop)
                next_try = time.monotonic() + (self.poll_s if not self._failures else backoff_s(self._failures))
            self._report()
            if self._stop.wait(self.poll_s):
                return

    def _try(self, *, deadline: float | None = None, stop: threading.Event | None = None) -> None:
        try:
            self.sent += self.outbox.push(deadline=deadline, stop=stop)
        except SyncError as e:
            self._failed(e.reason, central=e.central)
            return
        except Exception as e:  # a bug in the sync: said like an error, the line goes on, the next try may pass
            self._failed(scrubbed(f"{type(e).__name__}: {e}", self.outbox.url), central=False)
            return
        if self._failures:
            self.outbox.note_error("")
        self._failures, self._error, self._reachable = 0, "", True

    def _failed(self, error: str, *, central: bool) -> None:
        self._failures += 1
        self._error = error
        if central:
            self._reachable = False
        self.outbox.note_error(error)

    def _report(self, *, force: bool = False) -> Lag | None:
        try:
            behind, oldest = self.outbox.lag()
            refused = self.outbox.set_aside()
        except SQLAlchemyError:
            return self.last  # the local store is busy: the next round tells
        self.last = Lag(behind, oldest, self._error, self._reachable, refused)
        shown = (behind, self._error, self._reachable, refused)
        now = time.monotonic()
        stale = behind > 0 and now - self._shown_at >= AGE_EVERY_S  # the oldest unit's age, told again
        due = (shown != self._shown or stale) and now - self._shown_at >= self.report_every_s
        if self.events is not None and (force or due):
            self._shown, self._shown_at = shown, now
            try:
                self.events(ResultsSync("", target=self.outbox.target, behind=behind,
                                        oldest_s=self.last.oldest_s(), reachable=self._reachable, error=self._error,
                                        set_aside=refused))
            except Exception:  # a view that fails must not stop the sync
                log.exception("results sync: telling the lag failed")
        return self.last

    def finish(self, deadline_s: float = FINAL_TRY_S) -> Lag:
        """Stop the thread, try once more for at most ``deadline_s``, tell the lag as it is left."""
        self._halt()
        self._try(deadline=time.monotonic() + deadline_s)
        lag = self._report(force=True)
        if lag is None:
            raise ResultsError(f"{self.outbox.local.url.database}: cannot count the units left in the outbox")
        return lag

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self._halt()
        self.outbox.close()


__all__ = ["FINAL_TRY_S", "BackgroundSync", "backoff_s"]
