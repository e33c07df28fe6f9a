"""The lot summary: what QA needs to decide whether a lot ships, from unit records (files or in memory).

A unit is one physical module (its MAC, else its serial); a test is one record. Yield counts units whose
last test passed; first-pass yield units whose first test passed; retests are tests beyond the first.
The same summary comes from the results database (``reports.lot_db``); both feed one renderer.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from linegate.plans import Failure, Outcome, UnitRecord
from linegate.reports.histogram import Axis, bin_counts, grid_cell, grid_histogram, histogram_axis, histogram_svg
from linegate.reports.lot_stats import LimitSet, MeasurementStats, Moments, main_limits
from linegate.reports.pareto import failure_key
from linegate.reports.sockets import SocketTally, SocketYield

_OURS = Path(str(resources.files("linegate.reports") / "templates"))
ROWS_SHOWN = 1000  # the units table lists the most recent tests; a lot of 100,000 says how many there are

Value = tuple[str, str, str, float | None, float | None, float, bool]  # step, name, units, low, high, value, failed


@dataclass(slots=True)
class LotTest:
    """What the lot summary needs of one unit record."""

    unit_key: str
    serial: str
    mac: str
    station: str
    socket: str
    outcome: str
    started_at: datetime
    ended_at: datetime
    plan: str
    report: str
    failure_step: str | None = None
    failure_key: str | None = None
    failure_message: str = ""
    commit_status: str | None = None
    identity: str = ""
    values: list[Value] = field(default_factory=list)


def plan_label(name: str, version: str, sha256: str) -> str:
    return f"{name} v{version} (sha256 {sha256[:12]})"


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _number(value: Any) -> bool:
    return type(value) is float or type(value) is int  # not bool, not str


def lot_test_from_record(r: UnitRecord) -> LotTest:
    t = LotTest(unit_key=r.unit.get("mac") or r.unit.get("serial") or r.record_id, serial=r.unit.get("serial", ""),
                mac=r.unit.get("mac", ""), station=r.station.name, socket=r.station.socket,
                outcome=r.outcome.value,
                started_at=_utc(r.started_at), ended_at=_utc(r.ended_at),
                plan=plan_label(r.plan.name, r.plan.version, r.plan.sha256), report=f"{r.stem}.html")
    if r.failure is not None:
        t.failure_step, t.failure_key, t.failure_message = r.failure.step, failure_key(r.failure), r.failure.message
    if r.provisioning is not None:
        t.commit_status, t.identity = r.provisioning.commit_status.value, r.provisioning.identity
    t.values = [(step.name, m.name, m.units or "", m.low, m.high, float(m.value), m.status.value == "fail")
                for step, m in r.measurements() if _number(m.value)]
    return t


def lot_test_from_json(data: dict[str, Any], report: str) -> LotTest:
    """The same from a record's parsed JSON, without building the whole model (the 10,000-file lot's cost)."""
    unit, station, plan = data["unit"], data["station"], data["plan"]
    t = LotTest(unit_key=unit.get("mac") or unit.get("serial") or data["record_id"], serial=unit.get("serial", ""),
                mac=unit.get("mac", ""), station=station["name"], socket=station["socket"],
                outcome=Outcome(data["outcome"]).value,
                started_at=_utc(datetime.fromisoformat(data["started_at"])),
                ended_at=_utc(datetime.fromisoformat(data["ended_at"])),
                plan=plan_label(plan["name"], plan["version"], plan["sha256"]), report=report)
    if data.get("failure") is not None:
        failure = Failure.model_validate(data["failure"])
        t.failure_step, t.failure_key, t.failure_message = failure.step, failure_key(failure), failure.message
    prov = data.get("provisioning")
    if prov is not None:
        t.commit_status, t.identity = str(prov["commit_status"]), str(prov.get("identity", ""))
    t.values = [(step["name"], m["name"], m.get("units") or "", m.get("low"), m.get("high"), float(value),
                 m["status"] == "fail")
                for step in data["steps"] for m in step.get("measurements", ())
                if type(value := m.get("value")) is float or type(value) is int]
    return t


@dataclass
class LotSummary:
    title: str
    tests: int
    units: int
    passed_units: int
    first_pass_units: int
    retests: int
    outcomes: Counter[str]
    pareto: list[tuple[str, int, float]]  # (failure key, count, cumulative %)
    measurements: list[MeasurementStats]
    provisioning: Counter[str]
    rows: list[dict[str, str]]  # the most recent tests, newest first
    sockets: SocketYield
    started: str = ""
    ended: str = ""
    plans: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def yield_pct(self) -> float:
        return 100.0 * self.passed_units / self.units if self.units else 0.0

    @property
    def fpy_pct(self) -> float:
        return 100.0 * self.first_pass_units / self.units if self.units else 0.0


def pareto_of(failures: Counter[str]) -> list[tuple[str, int, float]]:
    total, running, bars = sum(failures.values()), 0, []
    for label, count in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0])):
        running += count
        bars.append((label, count, 100.0 * running / total))
    return bars


def socket_label(station: str, socket: str, stations: int) -> str:
    """The socket as the lot names it: ``A``, or ``st1 A`` when the lot spans stations (each has an A)."""
    return f"{station} {socket}" if stations > 1 else socket


def row_of(index: int, t: LotTest, stations: int) -> dict[str, str]:
    return {"index": str(index), "socket": socket_label(t.station, t.socket, stations), "serial": t.serial,
            "mac": t.mac, "outcome": t.outcome,
            "failure": t.failure_message[:100], "identity": t.identity, "commit": t.commit_status or "",
            "report": t.report, "started": t.started_at.strftime("%Y-%m-%d %H:%M:%S")}


def summarize(records: Iterable[UnitRecord], title: str = "lot") -> LotSummary:
    return summarize_tests([lot_test_from_record(r) for r in records], title)


def summarize_tests(tests: Iterable[LotTest], title: str = "lot") -> LotSummary:
    ordered = sorted(tests, key=lambda t: t.started_at)
    first: dict[str, bool] = {}
    last: dict[str, bool] = {}
    failures: Counter[str] = Counter()
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    passing: dict[tuple[str, str], list[float]] = defaultdict(list)
    failed: Counter[tuple[str, str]] = Counter()
    limits: dict[tuple[str, str], Counter[LimitSet]] = defaultdict(Counter)
    cells: dict[tuple[tuple[str, str], LimitSet], Counter[int]] = defaultdict(Counter)
    tally = SocketTally()
    stations = len({t.station for t in ordered})
    for t in ordered:
        passed = t.outcome == Outcome.PASS
        first.setdefault(t.unit_key, passed)
        last[t.unit_key] = passed
        tally.add(t.unit_key, socket_label(t.station, t.socket, stations), t.outcome, t.failure_step)
        if t.failure_key is not None:
            failures[t.failure_key] += 1
        for step, name, units, low, high, value, fail in t.values:
            key = (step, name)
            values[key].append(value)
            if passed:
                passing[key].append(value)
            failed[key] += fail
            limits[key][(units, low, high)] += 1
            if low is not None and high is not None and high > low:
                cells[(key, (units, low, high))][grid_cell(value, low, high)] += 1
    measurements = []
    for key in sorted(values):
        units, low, high = main = main_limits(limits[key])
        overall = Moments.of(values[key])
        axis, counts = histogram_of(overall, main, cells.get((key, main)), values[key])
        measurements.append(MeasurementStats(key[0], key[1], units, low, high, failed=failed[key], overall=overall,
                                             passing=Moments.of(passing[key]), axis=axis, counts=counts))
    shown = range(len(ordered), max(0, len(ordered) - ROWS_SHOWN), -1)
    return LotSummary(
        title=title, tests=len(ordered), units=len(last), passed_units=sum(last.values()),
        first_pass_units=sum(first.values()), retests=len(ordered) - len(last),
        outcomes=Counter(t.outcome for t in ordered), pareto=pareto_of(failures), measurements=measurements,
        provisioning=Counter(t.commit_status for t in ordered if t.commit_status is not None),
        rows=[row_of(i, ordered[i - 1], stations) for i in shown], sockets=tally.result(),
        started=ordered[0].started_at.isoformat(timespec="seconds") if ordered else "",
        ended=max(t.ended_at for t in ordered).isoformat(timespec="seconds") if ordered else "",
        plans=sorted({t.plan for t in ordered}),
    )


def histogram_of(overall: Moments, limits: LimitSet, cells: Counter[int] | None,
                 values: list[float] | None) -> tuple[Axis, list[int]]:
    """Between two limits, the whole cells of the values tested against them (``grid_histogram``); else an
    axis over the values (and the one limit) with ``values`` counted into its bins (None: the database will)."""
    _, low, high = limits
    if cells and low is not None and high is not None and high > low:
        return grid_histogram(cells, low, high)
    axis = histogram_axis(overall.smallest, overall.largest, low, high)
    return axis, bin_counts(values, axis) if values is not None else [0] * axis.bins


class LotRenderer:
    def __init__(self) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_OURS)),
                                 autoescape=jinja2.select_autoescape(["j2"]))
        self._page = env.get_template("lot.html.j2")

    def render(self, lot: LotSummary) -> str:
        charts = {(s.step, s.name): histogram_svg(s.counts, s.axis, s.low, s.high, s.units)
                  for s in lot.measurements if s.axis is not None}
        return self._page.render(lot=lot, charts=charts, generated=datetime.now(UTC).isoformat(timespec="seconds"),
                                 fmt=_fmt)


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _record_files(run_dir: Path) -> list[Path]:
    names = sorted(n for n in os.listdir(run_dir) if n.endswith(".json") and n != "run.json" and n[0] != ".")
    return [run_dir / n for n in names]


def load_records(run_dir: Path) -> list[UnitRecord]:
    """Every unit record of a run folder (``*.json`` except ``run.json``)."""
    return [UnitRecord.model_validate_json(p.read_bytes()) for p in _record_files(run_dir)]


def load_tests(run_dir: Path) -> list[LotTest]:
    """What the lot needs of every unit record of a run folder. ValueError names a file that is no record."""
    tests = []
    for p in _record_files(run_dir):
        try:
            tests.append(lot_test_from_json(json.loads(p.read_bytes()), p.with_suffix(".html").name))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{p}: not a unit record ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    return tests


def write_lot(run_dir: Path, out: Path | None = None, records: Sequence[UnitRecord] | None = None) -> Path:
    tests = [lot_test_from_record(r) for r in records] if records is not None else load_tests(run_dir)
    target = out or run_dir / "lot.html"
    write_summary(summarize_tests(tests, title=run_dir.name), target)
    return target


def write_summary(lot: LotSummary, target: Path) -> Path:
    target.write_text(LotRenderer().render(lot), encoding="utf-8")
    return target
