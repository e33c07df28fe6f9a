"""Questions QA asks a results store: the units that match some filters, and one unit's whole history.

Times are aware datetimes in UTC (SQLite keeps them as UTC wall time without an offset; they are read
back as UTC). ``parse_when`` reads what a user types: an ISO 8601 date or date and time; one without an
offset is in the local time of the machine asking.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from linegate.plans import Outcome
from linegate.station.results import schema
from linegate.station.results.reader import ResultsReader
from linegate.station.results.rows import as_utc
from linegate.station.results.store import ResultsError, ResultsStore, first_line, secrets_of, shown_url
from sqlalchemy import ColumnElement, Engine, Row, Select, and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

OUTCOMES = tuple(o.value for o in Outcome)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 1_000_000_000  # SQLite counts to 2**63 - 1; a billion rows is past what a query prints anyway
_HEX = re.compile(r"[0-9a-fA-F]{1,64}")
Source = ResultsReader | ResultsStore | Engine  # a reader for the questions; a station's own store or an engine too


class QueryError(ResultsError):
    """A filter that cannot be applied (an unknown outcome, a time that does not parse). One line."""


@dataclass(frozen=True)
class UnitRow:
    """One test of one unit, as the ``units`` table keeps it."""

    record_id: str
    serial: str
    mac: str
    station: str
    socket: str
    host: str
    operator: str
    plan_name: str
    plan_version: str
    plan_sha256: str
    outcome: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    failure_step: str | None
    failure_measurement: str | None
    failure_message: str | None
    failure_key: str | None
    retest_override: str | None
    record_path: str
    report_path: str

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values: the times as ISO 8601 with their offset."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class HistoryRow(UnitRow):
    """A test in a unit's history, with its provisioning (``None`` when the unit did not reach the gate)."""

    service: str | None
    identity: str | None
    commit_status: str | None
    matched_by: str  # "serial": this test carried the serial asked; "mac": only the MAC the serial had


UNIT_COLUMNS = tuple(f.name for f in fields(UnitRow))
HISTORY_COLUMNS = tuple(f.name for f in fields(HistoryRow))


@dataclass(frozen=True)
class UnitFilter:
    """What ``units`` matches; ``None`` matches anything. ``plan``: the plan's name, or a prefix of its
    sha256. ``since`` is inclusive, ``until`` exclusive. ``limit`` keeps the most recent matches."""

    serial: str | None = None
    mac: str | None = None
    station: str | None = None
    socket: str | None = None
    plan: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome.upper() not in OUTCOMES:
            raise QueryError(f"outcome {self.outcome!r}: not one of {', '.join(OUTCOMES)}")
        for name in ("since", "until"):
            when = getattr(self, name)
            if when is not None and when.tzinfo is None:
                raise QueryError(f"{name} {when.isoformat()}: a time needs its offset (an aware datetime)")
        if self.limit is not None and not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit {self.limit}: must be 1 to {MAX_LIMIT}")


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date (``2026-11-01``) or date and time (``2026-11-01T08:30``, ``...Z``, ``...+08:00``)
    as an aware datetime in UTC. A date is its local midnight; with ``end_of_day`` (for ``until``) the
    next midnight, so ``until 2026-11-01`` includes that whole day. No offset: the local time zone."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value) + timedelta(days=1 if end_of_day else 0)
            when = datetime(day.year, day.month, day.day)
        else:
            when = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError as e:
        raise QueryError(f"{text!r}: not an ISO 8601 date or time (2026-11-01, 2026-11-01T08:30, "
                         "2026-11-01T08:30:00+08:00)") from e
    if when.tzinfo is None:
        when = when.astimezone()  # the local zone of this machine, as the user read the clock
    return when.astimezone(UTC)


def units(source: Source, where: UnitFilter) -> list[UnitRow]:
    """The tests that match, oldest first; past ``limit``, the most recent ones."""
    u = schema.units.c
    conditions: list[ColumnElement[bool]] = []
    for name in ("serial", "mac", "station", "socket"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(u[name] == value)
    if where.outcome is not None:
        conditions.append(u.outcome == where.outcome.upper())
    if where.plan is not None:
        by_name = u.plan_name == where.plan
        conditions.append(or_(by_name, u.plan_sha256.startswith(where.plan.lower(), autoescape=True))
                          if _HEX.fullmatch(where.plan) else by_name)
    if where.since is not None:
        conditions.append(u.started_at >= where.since.astimezone(UTC))
    if where.until is not None:
        conditions.append(u.started_at < where.until.astimezone(UTC))
    query = (select(*(u[name] for name in UNIT_COLUMNS)).where(and_(True, *conditions))
             .order_by(u.started_at.desc(), u.record_id.desc()).limit(where.limit))
    return [_unit_row(row) for row in _fetch(source, query)][::-1]


def history(source: Source, serial: str) -> list[HistoryRow]:
    """Every test of the unit labelled ``serial``, on every station, oldest first, with its provisioning.

    The unit is followed by its serial and by every MAC a test under that serial recorded: a unit
    relabelled with a new serial (same MAC) still shows its tests under the other label. One hop only:
    the other serials found through a MAC are not followed to further MACs."""
    u, p = schema.units.c, schema.provisioning.c
    macs = sorted(row[0] for row in _fetch(source, select(u.mac).distinct().where(u.serial == serial, u.mac != "")))
    columns = [*(u[name] for name in UNIT_COLUMNS), p.service, p.identity, p.commit_status]
    joined = schema.units.outerjoin(schema.provisioning, p.record_id == u.record_id)
    rows = [_history_row(row, "serial") for row in _fetch(source, select(*columns).select_from(joined)
                                                          .where(u.serial == serial))]
    if macs:  # two queries, each on its own index (an OR of the two is a scan on some databases)
        rows += [_history_row(row, "mac") for row in _fetch(source, select(*columns).select_from(joined)
                                                             .where(u.mac.in_(macs), u.serial != serial))]
    return sorted(rows, key=lambda r: (r.started_at, r.record_id))


def _fetch(source: Source, query: Select[Any]) -> list[Row[Any]]:
    engine = source if isinstance(source, Engine) else source.engine
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    except SQLAlchemyError as e:
        if isinstance(source, ResultsReader):
            raise source.error(e) from e
        url = engine.url.render_as_string(hide_password=False)
        shown = source.shown if isinstance(source, ResultsStore) else shown_url(url)
        said = first_line(e)
        for secret in secrets_of(url):  # a driver's message may quote the connection string
            said = said.replace(secret, "***")
        raise ResultsError(f"{shown}: cannot read the results store: {said}") from e


def _unit_values(row: Row[Any]) -> dict[str, Any]:
    values = {name: row._mapping[name] for name in UNIT_COLUMNS}
    values["started_at"], values["ended_at"] = as_utc(values["started_at"]), as_utc(values["ended_at"])
    return values


def _unit_row(row: Row[Any]) -> UnitRow:
    return UnitRow(**_unit_values(row))


def _history_row(row: Row[Any], matched_by: str) -> HistoryRow:
    m = row._mapping
    return HistoryRow(**_unit_values(row), service=m["service"], identity=m["identity"],
                      commit_status=m["commit_status"], matched_by=matched_by)


__all__ = ["DEFAULT_LIMIT", "HISTORY_COLUMNS", "MAX_LIMIT", "OUTCOMES", "UNIT_COLUMNS", "HistoryRow", "QueryError",
           "UnitFilter", "UnitRow", "history", "parse_when", "units"]
