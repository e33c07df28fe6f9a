"""The station's outbox: what its local results store holds and the central store (``--results URL``) lacks.

Every unit's rows go into the local store first (``store.py``); the sync sends the units whose local
``revision`` is past the one the central store is known to have (``sync_state``, per target), in
batches, each in one central transaction, then advances ``sync_state``. A kill between the central
commit and the local update sends the batch again: ``put_rows`` replaces by ``record_id``, so nothing is
doubled. ``BackgroundSync`` runs it in a thread of the supervisor's process and reports its lag as
``results_sync`` events; the line never waits for the central store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linegate.fixtures.config import central_problem
from linegate.station.migrations.runner import SchemaError, ensure
from linegate.station.results import set_aside
from linegate.station.results.migrations import SCHEMA
from linegate.station.results.rows import Rows
from linegate.station.results.schema import CHILDREN, runs, store_identity, sync_state, units
from linegate.station.results.set_aside import refused_for_content, where_refused
from linegate.station.results.store import (
    ResultsError,
    ResultsStore,
    first_line,
    open_engine,
    open_reader,
    put_rows,
    results_url,
    secrets_of,
    shown_url,
)
from sqlalchemy import Connection, Engine, case, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

BATCH = 200  # units per central transaction


log = logging.getLogger(__name__)


class SyncError(Exception):
    """One batch could not be sent: one line naming the store, never a password. ``central``: the central
    store's fault (it does not answer, refuses), else the local one's."""

    def __init__(self, store: str, reason: str, *, central: bool) -> None:
        super().__init__(f"{store}: {reason}")
        self.reason = reason  # without the store's name: the sync state and the lag name it already
        self.central = central


@dataclass(frozen=True)
class Lag:
    behind: int  # units the central store lacks
    oldest: datetime | None  # the end of the oldest of them
    error: str = ""  # the last try's, "" when it went through
    reachable: bool | None = None  # the central store answered the last try (None: not tried yet)
    set_aside: int = 0  # units it refused for what they hold, kept in the outbox

    def oldest_s(self, now: datetime | None = None) -> float | None:
        if self.oldest is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.oldest).total_seconds())


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives back the UTC times it stored without their zone; PostgreSQL needs it."""
    return {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v for k, v in row.items()}


def scrubbed(text: str, url: str) -> str:
    """``text`` without the URL's passwords (user part, ``?password=``), wherever a driver put them."""
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return text


class Outbox:
    """The local store's units the central one lacks, and sending them. Not thread-safe: one sender."""

    def __init__(self, local: ResultsStore, central_url: str) -> None:
        self.local = local.engine
        self.reader = open_reader(local.url)  # lag and batches read a snapshot, never holding the workers' lock
        if (problem := central_problem(central_url)) is not None:
            raise ResultsError(f"the central results store: {problem}")
        self.url = results_url(central_url)
        self.target = shown_url(self.url)
        try:
            self.central: Engine = open_engine(self.url)  # a URL that does not parse is refused here, at start
        except ResultsError as e:
            raise ResultsError(scrubbed(str(e), self.url)) from None
        self._central_id: str | None = None  # the central store's identity, once reached
        self.sent = 0  # units sent by this outbox, counted batch by batch (a failed push keeps its progress)

    def close(self) -> None:
        self.central.dispose()
        self.reader.dispose()

    # -- the local side ----------------------------------------------------------------
    def _synced(self, conn: Connection) -> int:
        return conn.execute(select(sync_state.c.revision).where(sync_state.c.target == self.target)).scalar() or 0

    def lag(self) -> tuple[int, datetime | None]:
        """Units not yet in the central store, and the end of the oldest of them."""
        with self.reader.begin() as conn:
            since = self._synced(conn)
            count, oldest = conn.execute(select(func.count(), func.min(units.c.ended_at))
                                         .where(units.c.revision > since)).one()
        if isinstance(oldest, str):  # SQLite's min() of a DateTime column is its stored text
            oldest = datetime.fromisoformat(oldest)
        return int(count), oldest.replace(tzinfo=UTC) if oldest is not None and oldest.tzinfo is None else oldest

    def set_aside(self) -> int:
        """Units the central store refused for what they hold, set aside (``set_aside.py``)."""
        with self.reader.begin() as conn:
            return set_aside.count(conn, self.target)

    def _batch(self, size: int) -> tuple[int, list[dict[str, Any]], Rows]:
        """The next ``size`` units past the synced revision with their children and runs; one snapshot."""
        with self.reader.begin() as conn:
            since = self._synced(conn)
            found = [_aware(dict(r)) for r in conn.execute(
                select(units).where(units.c.revision > since).order_by(units.c.revision).limit(size)).mappings()]
            if not found:
                return since, [], {}
            run_rows, rows = _with_children(conn, found)
        return max(u["revision"] for u in found), run_rows, rows

    def _batch_of(self, ids: list[str]) -> tuple[list[dict[str, Any]], Rows]:
        with self.reader.begin() as conn:
            found = [_aware(dict(r)) for r in conn.execute(
                select(units).where(units.c.record_id.in_(ids)).order_by(units.c.revision)).mappings()]
            return _with_children(conn, found) if found else ([], {})

    def _advance(self, revision: int, error: str = "", *, refused: dict[str, tuple[int, str]] | None = None,
                 sent: Sequence[str] = ()) -> None:
        """Record that the central store has every unit up to ``revision`` (never moving back) but the
        ``refused`` ones, which are set aside; ``sent`` are no longer."""
        now = datetime.now(UTC)
        with self.local.begin() as conn:
            done = conn.execute(update(sync_state).where(sync_state.c.target == self.target).values(
                revision=case((sync_state.c.revision < revision, revision), else_=sync_state.c.revision),
                synced_at=now if not error else sync_state.c.synced_at, last_error=error))
            if done.rowcount == 0:
                conn.execute(insert(sync_state).values(target=self.target, revision=revision,
                                                       synced_at=None if error else now, last_error=error,
                                                       store_id=self._central_id))
            if refused or sent:
                set_aside.note(conn, self.target, refused or {}, list(sent))

    def _reach(self) -> None:
        """First contact: the central store's schema made or checked (under Alembic's version: never a newer
        one), and its identity compared with the one the sync state was kept for. Another store under the same
        URL (dropped and made again, restored from a backup, a host name moved) gets everything again."""
        if self._central_id is not None:
            return
        try:
            ensure(self.central, SCHEMA, self.target)
            with self.central.connect() as conn:
                central_id = conn.execute(select(store_identity.c.store_id)).scalar()
        except SQLAlchemyError as e:
            raise SyncError(self.target, scrubbed(first_line(e), self.url), central=True) from e
        except SchemaError as e:  # newer or older than this linegate, or not a results store: said, not sent
            raise SyncError(self.target, scrubbed(str(e).split(": ", 1)[-1], self.url), central=True) from e
        with self.local.begin() as conn:
            kept = conn.execute(select(sync_state.c.store_id, sync_state.c.revision)
                                .where(sync_state.c.target == self.target)).first()
            if kept is None:
                conn.execute(insert(sync_state).values(target=self.target, revision=0, store_id=central_id,
                                                       last_error=""))
            elif kept.store_id in (None, central_id):
                conn.execute(update(sync_state).where(sync_state.c.target == self.target)
                             .values(store_id=central_id))
            else:
                log.warning("results sync: %s is not the store this station sent to before (its identity changed): "
                            "sending every unit again", self.target)
                conn.execute(update(sync_state).where(sync_state.c.target == self.target)
                             .values(store_id=central_id, revision=0))
        self._central_id = central_id

    def note_error(self, error: str) -> None:
        """Keep the last error beside the sync state (``last_error``), password-free; best effort."""
        try:
            self._advance(0, error)
        except SQLAlchemyError:
            pass

    # -- sending ------------------------------------------------------------------------
    def push(self, *, deadline: float | None = None, stop: threading.Event | None = None, size: int = BATCH) -> int:
        """Send batches until the central store has everything (or ``deadline``, a ``time.monotonic()``,
        passes, or ``stop`` is set); the units sent. Raises SyncError."""
        self._reach()
        sent = 0
        while not (stop is not None and stop.is_set()) and (deadline is None or time.monotonic() < deadline):
            try:
                revision, run_rows, rows = self._batch(size)
            except SQLAlchemyError as e:
                raise SyncError(str(self.local.url.database), f"cannot read the outbox: {first_line(e)}",
                                central=False) from e
            if not rows:
                break
            refused = self._send_sorted(run_rows, rows)
            ids = [u["record_id"] for u in rows["unit_tests"]]
            try:
                self._advance(revision, refused=refused, sent=[i for i in ids if i not in refused])
            except SQLAlchemyError as e:
                raise SyncError(str(self.local.url.database), f"cannot note what was sent: {first_line(e)}",
                                central=False) from e
            for record_id, (_, reason) in refused.items():
                log.info("results sync: %s refused unit %s, set aside in the outbox (the others go on): %s",
                            self.target, record_id, reason)
            sent += len(ids) - len(refused)
            self.sent += len(ids) - len(refused)
        return sent

    def retry_set_aside(self, size: int = BATCH) -> tuple[int, int]:
        """Send the units set aside again (the central store may take them now); (sent, still refused)."""
        self._reach()
        with self.reader.begin() as conn:
            ids = set_aside.standing_ids(conn, self.target)
        sent = refused_count = 0
        for start in range(0, len(ids), size):
            run_rows, rows = self._batch_of(ids[start:start + size])
            if not rows:
                continue
            refused = self._send_sorted(run_rows, rows)
            done = [u["record_id"] for u in rows["unit_tests"] if u["record_id"] not in refused]
            with self.local.begin() as conn:
                set_aside.note(conn, self.target, refused, done)
            sent, refused_count = sent + len(done), refused_count + len(refused)
            self.sent += len(done)
        return sent, refused_count

    def _send_sorted(self, run_rows: list[dict[str, Any]], rows: Rows) -> dict[str, tuple[int, str]]:
        """Send the batch; when the central store refuses a row of it, its halves, until the refused units
        stand alone: those (record id -> revision, reason) are returned, the others are in the store."""
        try:
            self._send(run_rows, rows)
            return {}
        except _Refused as e:
            found = rows["unit_tests"]
            if len(found) == 1:
                return {found[0]["record_id"]: (found[0]["revision"], e.reason)}
            refused: dict[str, tuple[int, str]] = {}
            for part in (found[:len(found) // 2], found[len(found) // 2:]):
                ids = {u["record_id"] for u in part}
                sub = {name: [r for r in table if r["record_id"] in ids] for name, table in rows.items()}
                wanted = {u["run_id"] for u in part}
                refused |= self._send_sorted([r for r in run_rows if r["run_id"] in wanted], sub)
            return refused

    def _send(self, run_rows: list[dict[str, Any]], rows: Rows) -> None:
        try:
            with self.central.begin() as conn:
                put_rows(conn, run_rows, rows)
        except SQLAlchemyError as e:
            if refused_for_content(e):
                raise _Refused(where_refused(e) + scrubbed(first_line(e), self.url)) from e
            self._central_id = None  # reached again before the next batch: it may be another store by then
            raise SyncError(self.target, scrubbed(first_line(e), self.url), central=True) from e


class _Refused(Exception):
    """The central store refused a row of the batch for what it holds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _with_children(conn: Connection, found: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Rows]:
    ids = [u["record_id"] for u in found]
    rows = {"unit_tests": found} | {t.name: [_aware(dict(r)) for r in conn.execute(
        select(t).where(t.c.record_id.in_(ids))).mappings()] for t in CHILDREN}
    run_rows = [_aware(dict(r)) for r in conn.execute(
        select(runs).where(runs.c.run_id.in_({u["run_id"] for u in found}))).mappings()]
    return run_rows, rows


__all__ = ["BATCH", "Lag", "Outbox", "SyncError", "scrubbed"]
