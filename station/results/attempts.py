"""The retest limit: how often a unit has failed, counted in the results stores, and the refusal.

A unit's failed tests (FAIL or ERROR) are counted in the station's local store and, when the station has
one, in the central store every station syncs to: a unit failed on another station counts too. A test
the operator stopped (ABORTED) is the station's doing and does not count; a PASS does not reset the
count. When the central store does not answer, the local count is used and the console says so once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from linegate.plans.plan import RetestSpec
from linegate.plans.record import RetestRecord
from linegate.station.results.rows import as_utc
from linegate.station.results.schema import units
from linegate.station.results.store import (
    ResultsStore,
    first_line,
    open_engine,
    results_url,
    shown_url,
)
from sqlalchemy import Engine, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError

COUNTED = ("FAIL", "ERROR")
CENTRAL_TIMEOUT_S = 3
CENTRAL_RETRY_S = 30.0  # after the central store failed to answer, the local count until then


@dataclass(frozen=True)
class Failed:
    """One failed test of a unit, as the results store has it."""

    record_id: str
    serial: str
    mac: str
    outcome: str
    failure: str  # the failure's key (step: measurement), else its message, else the outcome
    station: str
    socket: str
    at: datetime


@dataclass(frozen=True)
class Failures:
    """A unit's failed tests, oldest first; ``note`` says when the count is this station's only."""

    failed: tuple[Failed, ...]
    note: str = ""


class Attempts(Protocol):
    """Where a unit's failed tests are counted."""

    def failures(self, unit: str) -> Failures:
        """The failed tests of the unit whose serial or MAC is ``unit``, on every station counted."""


def failures_in(engine: Engine, unit: str) -> list[Failed]:
    """The failed tests of ``unit`` (serial or MAC) in one store."""
    query = (select(units.c.record_id, units.c.serial, units.c.mac, units.c.outcome, units.c.failure_key,
                    units.c.failure_message, units.c.station, units.c.socket, units.c.started_at)
             .where(or_(units.c.serial == unit, units.c.mac == unit), units.c.outcome.in_(COUNTED))
             .order_by(units.c.started_at))
    with engine.connect() as conn:
        return [Failed(record_id=r.record_id, serial=r.serial, mac=r.mac, outcome=r.outcome,
                       failure=r.failure_key or r.failure_message or r.outcome, station=r.station,
                       socket=r.socket, at=as_utc(r.started_at))
                for r in conn.execute(query)]


def _answers_without_tests(engine: Engine) -> bool:
    """The store answers but holds no tests table: nothing failed there."""
    try:
        return not inspect(engine).has_table(units.name)
    except SQLAlchemyError:
        return False


def merged(lists: Iterable[list[Failed]]) -> tuple[Failed, ...]:
    """One list, each test once (a synced test is in the local and the central store), oldest first."""
    seen: dict[str, Failed] = {}
    for failed in lists:
        for f in failed:
            seen.setdefault(f.record_id, f)
    return tuple(sorted(seen.values(), key=lambda f: f.at))


class StoreAttempts:
    """Failed tests counted in the local store and, when given, a central store opened at first use.

    ``say`` is told once when the central store stops answering (and once when it answers again); while
    it is away it is tried again every ``CENTRAL_RETRY_S`` seconds, the local count used meanwhile."""

    def __init__(self, *stores: ResultsStore | Engine, central: str | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self._engines = [s.engine if isinstance(s, ResultsStore) else s for s in stores]
        self.central_url = results_url(central) if central else None
        self._say = say or (lambda text: print(text, flush=True))
        self._central: Engine | None = None
        self._away_until = 0.0
        self._away = ""
        self._lock = threading.Lock()

    def failures(self, unit: str) -> Failures:
        lists = [failures_in(engine, unit) for engine in self._engines]
        central = self._central_engine()
        note = ""
        if central is not None:
            try:
                lists.append(failures_in(central, unit))
                self._answered()
            except SQLAlchemyError as e:
                if _answers_without_tests(central):  # a central store no station has sent to yet
                    self._answered()
                else:
                    self._went_away(first_line(e))
        if self.central_url is not None and self._away:
            note = f"counted on this station only: the central store {shown_url(self.central_url)} is away"
        return Failures(merged(lists), note)

    def _central_engine(self) -> Engine | None:
        with self._lock:
            if self.central_url is None or time.monotonic() < self._away_until:
                return None
            if self._central is None:
                try:
                    self._central = central_engine(self.central_url)
                except Exception as e:  # ResultsError: no driver, a URL that does not parse
                    self._went_away(first_line(e))
                    return None
            return self._central

    def _went_away(self, why: str) -> None:
        self._away_until = time.monotonic() + CENTRAL_RETRY_S
        if not self._away:
            self._say(f"retest: the central results store {shown_url(self.central_url or '')} does not answer "
                      f"({why}): failures are counted on this station only until it does")
        self._away = why

    def _answered(self) -> None:
        if self._away:
            self._say(f"retest: the central results store {shown_url(self.central_url or '')} answers again")
        self._away = ""

    def close(self) -> None:
        if self._central is not None:
            self._central.dispose()


def central_engine(url: str) -> Engine:
    """An engine on a central store that gives up connecting after ``CENTRAL_TIMEOUT_S`` (PostgreSQL)."""
    return open_engine(url, connect_timeout_s=CENTRAL_TIMEOUT_S)


@dataclass(frozen=True)
class Rework:
    """A unit refused before testing: it has failed the plan's limit of times."""

    serial: str
    failures: Failures
    max_attempts: int

    @property
    def last(self) -> Failed:
        return self.failures.failed[-1]

    def fields(self) -> dict[str, str | int]:
        """The refusal's parts, for the panel's catalogue message."""
        last = self.last
        return {"serial": self.serial, "count": len(self.failures.failed), "failure": last.failure,
                "station": last.station, "socket": last.socket or "-", "at": shown_time(last.at),
                "note": self.failures.note}

    def message(self) -> str:
        f = self.fields()
        note = f"; {f['note']}" if f["note"] else ""
        return (f"send to rework: {f['serial']} failed {f['count']} times (last: {f['failure']} on {f['station']} "
                f"socket {f['socket']} at {f['at']}){note}")


class ReworkRefused(Exception):
    """A unit over the retest limit was handed to the station without an override."""

    def __init__(self, rework: Rework) -> None:
        super().__init__(rework.message())
        self.rework = rework


MAX_REASON = 200


def reason_problem(reason: str) -> str | None:
    """The one rule for an override's reason wherever it is typed (terminal, --override-reason, panel): 1 to
    200 printable characters once its spaces are folded; what is wrong, or None."""
    text = " ".join(reason.split())
    if not text:
        return "the reason is empty"
    if len(text) > MAX_REASON:
        return f"the reason is {len(text)} characters (at most {MAX_REASON})"
    if not text.isprintable():
        return "the reason holds control characters"
    return None


class RetestPolicy:
    """The plan's retest limit over ``attempts``; overrides granted (by serial) until the unit starts."""

    def __init__(self, spec: RetestSpec, attempts: Attempts) -> None:
        self.spec = spec
        self.attempts = attempts
        self._overrides: dict[str, tuple[str, str, datetime]] = {}  # serial -> who, why, when
        self._lock = threading.Lock()

    def check(self, serial: str) -> Rework | None:
        """The refusal when ``serial`` has failed the limit of times and no override was granted."""
        with self._lock:
            if serial in self._overrides:
                return None
        found = self.attempts.failures(serial)
        if len(found.failed) < self.spec.max_attempts:
            return None
        return Rework(serial, found, self.spec.max_attempts)

    def override(self, serial: str, by: str, reason: str) -> None:
        """Let ``serial`` be tested once past the limit; its record says who let it and why."""
        if not by.strip() or (problem := reason_problem(reason)) is not None:
            raise ValueError(f"an override needs who grants it and why: {problem or 'no one named'}")
        with self._lock:
            self._overrides[serial] = (" ".join(by.split()), " ".join(reason.split()), datetime.now(UTC))

    def admit(self, serial: str | None) -> RetestRecord | None:
        """What the unit's record says of its earlier failures as it starts (consuming its override);
        raises ``ReworkRefused`` for a unit over the limit without one."""
        if not serial:
            return None
        found = self.attempts.failures(serial)
        with self._lock:
            granted = self._overrides.pop(serial, None) if len(found.failed) >= self.spec.max_attempts else None
        if len(found.failed) >= self.spec.max_attempts and granted is None:
            raise ReworkRefused(Rework(serial, found, self.spec.max_attempts))
        if not found.failed and granted is None:
            return None
        by, reason, at = granted or ("", "", None)
        return RetestRecord(failed_before=len(found.failed), max_attempts=self.spec.max_attempts, override_by=by,
                            override_reason=reason, override_at=at)


def shown_time(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


__all__ = [
    "Attempts",
    "Failed",
    "Failures",
    "RetestPolicy",
    "Rework",
    "ReworkRefused",
    "StoreAttempts",
    "failures_in",
    "merged",
    "shown_time",
]
