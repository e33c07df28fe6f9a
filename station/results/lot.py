"""The lot summary from the results database: every count, sum and histogram bin aggregated by the
database (GROUP BY, window functions), so 100,000 units summarise in seconds; the same ``LotSummary``
as from the record files (``reports.lot``), for the one renderer.

Per measurement, one pass groups by limit set and by whether the test passed, with the sum and sum of
squares of ``value - shift`` (the limits' middle: no cancellation); the groups merge into the overall and
the passing moments in Python. A second pass counts the histogram bins once the axes are known, with the
axis arithmetic of ``Axis.bin_of``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linegate.plans import Outcome
from linegate.reports.lot import ROWS_SHOWN, LotSummary, histogram_of, pareto_of, plan_label, socket_label
from linegate.reports.lot_stats import LimitSet, MeasurementStats, Moments, main_limits
from linegate.reports.sockets import SocketStats, judged
from linegate.station.results.reader import ResultsReader
from linegate.station.results.rows import as_utc
from linegate.station.results.schema import measurements, provisioning, units
from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ColumnElement

AXES_PER_QUERY = 400  # SQLite allows 500 SELECTs in one UNION


@dataclass(frozen=True)
class LotFilter:
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    station: str | None = None
    plan: str | None = None  # the plan's name, or its SHA-256 (or a prefix of 6 hex digits or more)

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(units.c.started_at >= _utc(self.since))
        if self.until is not None:
            found.append(units.c.started_at < _utc(self.until))
        if self.station is not None:
            found.append(units.c.station == self.station)
        if self.plan is not None:
            plan = self.plan.strip()
            hexed = len(plan) >= 6 and all(c in "0123456789abcdef" for c in plan.lower())
            found.append(or_(units.c.plan_name == plan, units.c.plan_sha256.startswith(plan.lower()))
                         if hexed else units.c.plan_name == plan)
        return found


def _utc(when: datetime) -> datetime:
    """Aware, in UTC (the store keeps UTC; SQLite keeps it without the offset)."""
    return (when if when.tzinfo is not None else when.astimezone()).astimezone(UTC)


def lot_from_store(url_or_path: str | Path, lot: LotFilter | None = None, title: str = "") -> LotSummary:
    """The lot summary of a results store (a SQLite file or a database URL), read-only (``ResultsReader``:
    nothing is made, migrated or written). ResultsError names the store (never its password) when it cannot
    be read."""
    with ResultsReader(url_or_path, what="read the lot", pragmas=_BIG_READS) as store:
        try:
            with store.engine.connect() as conn:
                return summarize_db(conn, lot, title=title or store.shown, source=store.shown)
        except SQLAlchemyError as e:
            raise store.error(e) from e


_BIG_READS = (
    "PRAGMA mmap_size=1073741824",  # the scans read the file mapped, not copied page by page
    "PRAGMA cache_size=-131072",  # the GROUP BY's sort in memory (128 MiB), not in temp files
)


def summarize_db(conn: Connection, lot: LotFilter | None = None, title: str = "lot", source: str = "",
                 rows_shown: int = ROWS_SHOWN) -> LotSummary:
    lot = lot or LotFilter()
    where = lot.conditions()
    picked = select(units.c.record_id).where(*where)
    stations = conn.execute(select(func.count(func.distinct(units.c.station))).where(*where)).scalar_one()
    summary = LotSummary(title=title, tests=0, units=0, passed_units=0, first_pass_units=0, retests=0,
                         outcomes=Counter(), pareto=[], measurements=[], provisioning=Counter(), rows=[],
                         sockets=judged([]), source=source)
    sockets = _tally_units(conn, where, summary, stations)
    for station, socket, step, count in conn.execute(
            select(units.c.station, units.c.socket, units.c.failure_step, func.count())
            .where(*where, units.c.outcome.in_([Outcome.FAIL.value, Outcome.ERROR.value]),
                   units.c.failure_step.is_not(None))
            .group_by(units.c.station, units.c.socket, units.c.failure_step)):
        sockets[socket_label(station, socket, stations)].failing_steps[step] += count
    summary.sockets = judged(list(sockets.values()))
    summary.pareto = pareto_of(Counter(dict(conn.execute(
        select(units.c.failure_key, func.count()).where(*where, units.c.failure_key.is_not(None))
        .group_by(units.c.failure_key)).all())))
    prov = select(provisioning.c.commit_status, func.count()).group_by(provisioning.c.commit_status)
    summary.provisioning = Counter(dict(conn.execute(
        prov.where(provisioning.c.record_id.in_(picked)) if where else prov).all()))
    first, last = conn.execute(select(func.min(units.c.started_at), func.max(units.c.ended_at)).where(*where)).one()
    summary.started = as_utc(first).isoformat(timespec="seconds") if first is not None else ""
    summary.ended = as_utc(last).isoformat(timespec="seconds") if last is not None else ""
    summary.plans = sorted(plan_label(*p) for p in conn.execute(
        select(units.c.plan_name, units.c.plan_version, units.c.plan_sha256).where(*where).distinct()))
    summary.measurements = _measurements(conn, where, picked)
    summary.rows = _recent_rows(conn, where, summary.tests, stations, rows_shown)
    return summary


def _tally_units(conn: Connection, where: list[ColumnElement[bool]], summary: LotSummary,
                 stations: int) -> dict[str, SocketStats]:
    """Tests, units, yields and the per-socket counts from one grouped pass over the ranked tests."""
    u = units.c
    newest_first = (u.started_at.desc(), u.record_id.desc())
    oldest_first = (u.started_at, u.record_id)
    nth = func.row_number().over(partition_by=u.unit_key, order_by=oldest_first)
    ranked = select(  # one sort per partition: the unit's tests, the unit's tests in this socket
        u.station, u.socket, u.outcome, case((nth == 1, 1), else_=0).label("first"),
        case((nth == func.count().over(partition_by=u.unit_key), 1), else_=0).label("last"),
        case((func.row_number().over(partition_by=(u.station, u.socket, u.unit_key), order_by=newest_first) == 1,
              1), else_=0).label("socket_last"),
    ).where(*where).subquery()
    r = ranked.c
    sockets: dict[str, SocketStats] = {}
    for station, socket, outcome, first, last, socket_last, count in conn.execute(
            select(r.station, r.socket, r.outcome, r.first, r.last, r.socket_last, func.count())
            .group_by(r.station, r.socket, r.outcome, r.first, r.last, r.socket_last)):
        label = socket_label(station, socket, stations)
        s = sockets.setdefault(label, SocketStats(label))
        passed = outcome == Outcome.PASS
        summary.tests += count
        summary.outcomes[outcome] += count
        s.tests += count
        s.outcomes[outcome] += count
        if first:
            summary.units += count
            summary.first_pass_units += count * passed
            s.first_tests += count
            s.first_pass += count * passed
        if last:
            summary.passed_units += count * passed
        if socket_last:
            s.units += count
            s.passed_units += count * passed
    summary.retests = summary.tests - summary.units
    return sockets


def _shift(low: float | None, high: float | None) -> float:
    if low is not None and high is not None:
        return (low + high) / 2
    return low if low is not None else high if high is not None else 0.0


def _measurement_rows(where: list[ColumnElement[bool]], *, not_passed: bool = False) -> Select[Any]:
    """Measurement rows with ``value - shift``, the failed flag and the grid cell: a plain scan for the whole
    store, read by record key for the units a filter or the outcome picks."""
    m = measurements.c
    shift = func.coalesce((m.low + m.high) / 2, m.low, m.high, 0.0)  # _shift(low, high), cheaper than a CASE
    columns = (m.step, m.name, m.units, m.low, m.high, m.value, (m.value - shift).label("d"),
               case((m.status == "fail", 1), else_=0).label("fail"), m.cell)
    query = select(*columns).where(m.value.is_not(None))
    if not where and not not_passed:
        return query  # the whole table, in storage order
    chosen = [*where, units.c.outcome != Outcome.PASS.value] if not_passed else where
    return query.where(m.record_id.in_(select(units.c.record_id).where(*chosen)))  # read by the record's key


def _unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column as a group key SQLite cannot read from the (step, name) index: reading the rows in that
    index's order is a random read per row, slower than one scan and a sort."""
    return func.coalesce(column, column)


def _measurements(conn: Connection, where: list[ColumnElement[bool]], picked: Select[Any]) -> list[MeasurementStats]:
    """One grouped pass over the lot's measurements (per limit set and grid cell) and a small one over the
    tests that did not pass; the passing tests' sums are the difference."""
    overall: dict[tuple[str, str], Moments] = defaultdict(Moments)
    totals: dict[tuple[tuple[str, str], LimitSet], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    failed: Counter[tuple[str, str]] = Counter()
    limits: dict[tuple[str, str], Counter[LimitSet]] = defaultdict(Counter)
    cells: dict[tuple[tuple[str, str], LimitSet], Counter[int]] = defaultdict(Counter)
    for step, name, unit, low, high, at, n, s1, s2, smallest, largest, fails in _grouped(conn, where):
        key, limit_set = (step, name), (unit or "", low, high)
        overall[key] += Moments.from_sums(n, _shift(low, high), s1, s2, smallest, largest)
        total = totals[(key, limit_set)]
        total[0], total[1], total[2] = total[0] + n, total[1] + s1, total[2] + s2
        failed[key] += fails
        limits[key][limit_set] += n
        if at is not None:
            cells[(key, limit_set)][at] += n
    passing: dict[tuple[str, str], Moments] = defaultdict(Moments)
    w = _measurement_rows(where, not_passed=True).subquery().c
    others = {((step, name), (unit or "", low, high)): (n, s1, s2) for step, name, unit, low, high, n, s1, s2 in
              conn.execute(select(_unindexed(w.step), w.name, w.units, w.low, w.high, func.count(), func.sum(w.d),
                                  func.sum(w.d * w.d)).group_by(_unindexed(w.step), w.name, w.units, w.low, w.high))}
    for (key, limit_set), (n, s1, s2) in totals.items():
        n_o, s1_o, s2_o = others.get((key, limit_set), (0, 0.0, 0.0))
        passing[key] += Moments.from_sums(int(n - n_o), _shift(*limit_set[1:]), s1 - s1_o, s2 - s2_o,
                                          math.nan, math.nan)  # the passing tests' extremes are not shown
    stats = []
    for key in sorted(overall):
        main = main_limits(limits[key])
        axis, counts = histogram_of(overall[key], main, cells.get((key, main)), None)
        stats.append(MeasurementStats(key[0], key[1], main[0], main[1], main[2], failed=failed[key],
                                      overall=overall[key], passing=passing[key], axis=axis, counts=counts))
    unbinned = [s for s in stats if not sum(s.counts)]  # without two limits: counted on their axis
    for i in range(0, len(unbinned), AXES_PER_QUERY):
        _count_bins(conn, where, picked, unbinned[i:i + AXES_PER_QUERY])
    return stats


def _grouped(conn: Connection, where: list[ColumnElement[bool]]) -> list[tuple[Any, ...]]:
    """Per measurement, limit set and grid cell: count, sums of ``value - shift`` and its square, extremes,
    failures. Grouped by measurement, limits and cell (the index's order), with the units' extremes
    to check that each group had one unit; a measurement whose groups mixed units (a plan changed them
    mid-lot) is grouped again with the units in the key."""
    found, mixed = [], set()
    for step, name, at, n, s1, s2, smallest, largest, fails, unit, last_unit, low, high in conn.execute(
            _by_cell(where)):
        if unit == last_unit:  # the limits are the group's own
            found.append((step, name, unit, low, high, at, n, s1, s2, smallest, largest, fails))
        else:
            mixed.add((step, name))
    if mixed:
        found = [row for row in found if (row[0], row[1]) not in mixed]
        again = _measurement_rows(where).where(tuple_(measurements.c.step, measurements.c.name)
                                                                  .in_(sorted(mixed))).subquery().c
        keys = (_unindexed(again.step), again.name, again.units, again.low, again.high, again.cell)
        found += conn.execute(select(*keys, func.count(), func.sum(again.d), func.sum(again.d * again.d),
                                     func.min(again.value), func.max(again.value), func.sum(again.fail))
                              .group_by(*keys)).all()
    return found


def _by_cell(where: list[ColumnElement[bool]]) -> Select[Any]:
    """Grouped in the order of the ``measurements_lot`` index (measurement, limits, cell): read from the index
    alone, without a sort."""
    v = _measurement_rows(where).subquery().c
    return select(v.step, v.name, v.cell, func.count(), func.sum(v.d), func.sum(v.d * v.d),
                  func.min(v.value), func.max(v.value), func.sum(v.fail), func.min(v.units), func.max(v.units),
                  v.low, v.high).group_by(v.step, v.name, v.low, v.high, v.cell)


def _count_bins(conn: Connection, where: list[ColumnElement[bool]], picked: Select[Any],
                stats: list[MeasurementStats]) -> None:
    axes = union_all(*[select(literal(s.step, String).label("step"), literal(s.name, String).label("name"),
                              literal(s.axis.lo, Float).label("lo"), literal(s.axis.width, Float).label("width"))
                       for s in stats if s.axis is not None]).cte("axes")
    m = measurements.c
    scaled = (m.value - axes.c.lo) / axes.c.width
    if conn.dialect.name != "sqlite":  # SQLite's CAST truncates; elsewhere it rounds (the values are >= lo)
        scaled = func.floor(scaled)
    rows = select(m.step, m.name, cast(scaled, Integer).label("bin")) \
        .join_from(measurements, axes, and_(axes.c.step == m.step, axes.c.name == m.name)) \
        .where(m.value.is_not(None))
    if where:
        rows = rows.where(m.record_id.in_(picked))
    b = rows.subquery().c
    by_key = {(s.step, s.name): s for s in stats}
    for step, name, index, count in conn.execute(select(b.step, b.name, b.bin, func.count())
                                                 .group_by(b.step, b.name, b.bin)):
        s = by_key[(step, name)]
        assert s.axis is not None
        s.counts[min(s.axis.bins - 1, max(0, index))] += count


def _recent_rows(conn: Connection, where: list[ColumnElement[bool]], tests: int, stations: int,
                 shown: int) -> list[dict[str, str]]:
    u, p = units.c, provisioning.c
    query = select(u.station, u.socket, u.serial, u.mac, u.outcome, u.failure_message, p.identity, p.commit_status,
                   u.report_path, u.started_at) \
        .join_from(units, provisioning, p.record_id == u.record_id, isouter=True) \
        .where(*where).order_by(u.started_at.desc(), u.record_id.desc()).limit(shown)
    rows = []
    for k, (station, socket, serial, mac, outcome, message, identity, commit, report, started) in enumerate(
            conn.execute(query)):
        rows.append({"index": str(tests - k), "socket": socket_label(station, socket, stations), "serial": serial,
                     "mac": mac, "outcome": outcome, "failure": (message or "")[:100], "identity": identity or "",
                     "commit": commit or "", "report": report,
                     "started": as_utc(started).strftime("%Y-%m-%d %H:%M:%S")})
    return rows


