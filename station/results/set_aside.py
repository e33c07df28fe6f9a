"""Units a central store refused for what they hold: set aside in the outbox so that the others go on.

A batch the central store refuses because of a row in it (a value too long or out of range, a
constraint, a row past the server's limits) is sent again in halves until the refused units stand
alone; those are kept here, per target, with the store's reason, and the outbox's cursor moves past
them. They stay in the local store, are counted by the lag, listed by ``linegate results outbox``, and
sent again by ``linegate results sync --retry-set-aside`` (once the central store takes them) or when
the station rewrites them (a new revision). Any other failure (connection, deadlock, a schema that is
not this linegate's) is the store's, not a row's: the whole batch is tried again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linegate.station.results.rows import as_utc
from linegate.station.results.schema import set_aside, units
from sqlalchemy import Connection, and_, delete, func, insert, select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

# SQLSTATE classes that name a row: data exception, integrity constraint violation, program limit
# exceeded (an index entry past PostgreSQL's 2704 bytes). A unique violation is two senders of the
# same units at one moment: sent again, it goes.
_ROW_CLASSES = ("22", "23", "54")
_RACES = frozenset({"23505"})
_SQLITE_RACES = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
_SQLITE_ROW = ("SQLITE_CONSTRAINT", "SQLITE_TOOBIG", "SQLITE_MISMATCH", "SQLITE_RANGE")


def refused_for_content(e: SQLAlchemyError) -> bool:
    """The store refused a row for what it holds (sending it again would fail again), not for its own state."""
    orig = getattr(e, "orig", None)
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state:
        return state[:2] in _ROW_CLASSES and state not in _RACES
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str) and name:
        return name.startswith(_SQLITE_ROW) and name not in _SQLITE_RACES
    return isinstance(e, DataError | IntegrityError)


def where_refused(e: SQLAlchemyError) -> str:
    """``table.column: `` when the server says where (PostgreSQL's diagnostics), else ''."""
    diag = getattr(getattr(e, "orig", None), "diag", None)
    table, column = getattr(diag, "table_name", None), getattr(diag, "column_name", None)
    if table and column:
        return f"{table}.{column}: "
    return f"{table}: " if table else ""


@dataclass(frozen=True)
class SetAside:
    record_id: str
    revision: int
    reason: str
    at: datetime
    serial: str = ""
    station: str = ""
    ended_at: datetime | None = None


def _current(target: str) -> Any:
    """The set-aside rows still standing: their unit not rewritten since (a rewrite is sent again)."""
    return and_(set_aside.c.target == target, units.c.record_id == set_aside.c.record_id,
                units.c.revision == set_aside.c.revision)


def count(conn: Connection, target: str) -> int:
    return int(conn.execute(select(func.count()).select_from(set_aside.join(units, _current(target)))).scalar_one())


def listed(conn: Connection, target: str | None = None) -> dict[str, list[SetAside]]:
    """Per target, the units set aside and still standing, oldest first."""
    query = (select(set_aside.c.target, set_aside.c.record_id, set_aside.c.revision, set_aside.c.reason,
                    set_aside.c.set_aside_at, units.c.serial, units.c.station, units.c.ended_at)
             .join(units, and_(units.c.record_id == set_aside.c.record_id, units.c.revision == set_aside.c.revision))
             .order_by(set_aside.c.target, set_aside.c.set_aside_at, set_aside.c.record_id))
    if target is not None:
        query = query.where(set_aside.c.target == target)
    found: dict[str, list[SetAside]] = {}
    for row in conn.execute(query):
        found.setdefault(row.target, []).append(SetAside(
            row.record_id, row.revision, row.reason, as_utc(row.set_aside_at), row.serial, row.station,
            as_utc(row.ended_at) if row.ended_at is not None else None))
    return found


def standing_ids(conn: Connection, target: str) -> list[str]:
    return list(conn.execute(select(set_aside.c.record_id).select_from(set_aside.join(units, _current(target)))
                             .order_by(set_aside.c.set_aside_at, set_aside.c.record_id)).scalars())


def note(conn: Connection, target: str, refused: dict[str, tuple[int, str]], sent: list[str]) -> None:
    """In the caller's transaction: ``refused`` (record id -> revision, reason) set aside, ``sent`` no longer."""
    gone = [*sent, *refused]
    if gone:
        conn.execute(delete(set_aside).where(set_aside.c.target == target, set_aside.c.record_id.in_(gone)))
    if refused:
        now = datetime.now(UTC)
        conn.execute(insert(set_aside), [{"target": target, "record_id": i, "revision": revision, "reason": reason,
                                          "set_aside_at": now} for i, (revision, reason) in refused.items()])


__all__ = ["SetAside", "count", "listed", "note", "refused_for_content", "standing_ids", "where_refused"]
