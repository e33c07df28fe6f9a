"""The lot summary: what QA needs to decide whether a lot ships, from the run's unit records.

A unit is one physical module (its MAC, else its serial); a test is one record. Yield counts units whose
last test passed; first-pass yield units whose first test passed; retests are tests beyond the first.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import jinja2
from linegate.plans import Outcome, UnitRecord
from linegate.reports.histogram import histogram_svg
from linegate.reports.sockets import SocketTally, SocketYield

_OURS = Path(str(resources.files("linegate.reports") / "templates"))


@dataclass
class MeasurementStats:
    step: str
    name: str
    units: str
    low: float | None
    high: float | None
    values: list[float] = field(default_factory=list)
    failed: int = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def sigma(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan

    @property
    def cpk(self) -> float | None:
        """min(USL - mean, mean - LSL) / (3 sigma) over the limits that exist; None without limits or spread."""
        sigma = self.sigma
        if not self.values or math.isnan(sigma) or sigma == 0 or (self.low is None and self.high is None):
            return None
        sides = [(self.high - self.mean) if self.high is not None else math.inf,
                 (self.mean - self.low) if self.low is not None else math.inf]
        return min(sides) / (3 * sigma)


@dataclass
class LotSummary:
    title: str
    tests: int
    units: int
    passed_units: int
    first_pass_units: int
    retests: int
    outcomes: Counter[str]
    pareto: list[tuple[str, int, float]]  # (step: measurement, count, cumulative %)
    measurements: list[MeasurementStats]
    provisioning: Counter[str]
    rows: list[dict[str, str]]
    sockets: SocketYield
    started: str = ""
    ended: str = ""
    plans: list[str] = field(default_factory=list)

    @property
    def yield_pct(self) -> float:
        return 100.0 * self.passed_units / self.units if self.units else 0.0

    @property
    def fpy_pct(self) -> float:
        return 100.0 * self.first_pass_units / self.units if self.units else 0.0


def _unit_key(r: UnitRecord) -> str:
    return r.unit.get("mac") or r.unit.get("serial") or r.record_id


def summarize(records: Iterable[UnitRecord], title: str = "lot") -> LotSummary:
    ordered = sorted(records, key=lambda r: r.started_at)
    by_unit: dict[str, list[UnitRecord]] = defaultdict(list)
    for r in ordered:
        by_unit[_unit_key(r)].append(r)
    failures: Counter[str] = Counter()
    stats: dict[tuple[str, str], MeasurementStats] = {}
    provisioning: Counter[str] = Counter()
    rows = []
    tally = SocketTally()
    for i, r in enumerate(ordered, 1):
        tally.add(_unit_key(r), r)
        if r.failure is not None:
            failures[f"{r.failure.step}: {r.failure.measurement or r.failure.message[:60]}"] += 1
        for step, m in r.measurements():
            value = m.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            key = (step.name, m.name)
            s = stats.get(key)
            if s is None:
                s = stats[key] = MeasurementStats(step.name, m.name, m.units or "", m.low, m.high)
            s.values.append(float(value))
            s.failed += m.status.value == "fail"
        if r.provisioning is not None:
            provisioning[r.provisioning.commit_status] += 1
        rows.append({"index": str(i), "socket": r.station.socket, "serial": r.unit.get("serial", ""),
                     "mac": r.unit.get("mac", ""),
                     "outcome": r.outcome.value, "failure": r.failure.message[:100] if r.failure else "",
                     "identity": r.provisioning.identity if r.provisioning else "",
                     "commit": r.provisioning.commit_status if r.provisioning else "",
                     "report": f"{r.stem}.html", "started": r.started_at.strftime("%Y-%m-%d %H:%M:%S")})
    total_failures = sum(failures.values())
    pareto, running = [], 0
    for label, count in failures.most_common():
        running += count
        pareto.append((label, count, 100.0 * running / total_failures))
    return LotSummary(
        title=title,
        tests=len(ordered),
        units=len(by_unit),
        passed_units=sum(tests[-1].outcome is Outcome.PASS for tests in by_unit.values()),
        first_pass_units=sum(tests[0].outcome is Outcome.PASS for tests in by_unit.values()),
        retests=len(ordered) - len(by_unit),
        outcomes=Counter(r.outcome.value for r in ordered),
        pareto=pareto,
        measurements=sorted(stats.values(), key=lambda s: (s.step, s.name)),
        provisioning=provisioning,
        rows=rows,
        sockets=tally.result(),
        started=ordered[0].started_at.isoformat(timespec="seconds") if ordered else "",
        ended=ordered[-1].ended_at.isoformat(timespec="seconds") if ordered else "",
        plans=sorted({f"{r.plan.name} v{r.plan.version} (sha256 {r.plan.sha256[:12]})" for r in ordered}),
    )


class LotRenderer:
    def __init__(self) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_OURS)),
                                 autoescape=jinja2.select_autoescape(["j2"]))
        self._page = env.get_template("lot.html.j2")

    def render(self, lot: LotSummary) -> str:
        charts = {(s.step, s.name): histogram_svg(s.values, s.low, s.high, s.units) for s in lot.measurements}
        return self._page.render(lot=lot, charts=charts, generated=datetime.now(UTC).isoformat(timespec="seconds"),
                                 fmt=_fmt)


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def load_records(run_dir: Path) -> list[UnitRecord]:
    """Every unit record of a run folder (``*.json`` except ``run.json``)."""
    return [UnitRecord.model_validate_json(p.read_bytes()) for p in sorted(run_dir.glob("*.json"))
            if p.name != "run.json" and not p.name.startswith(".")]


def write_lot(run_dir: Path, out: Path | None = None, records: Sequence[UnitRecord] | None = None) -> Path:
    lot = summarize(records if records is not None else load_records(run_dir), title=run_dir.name)
    target = out or run_dir / "lot.html"
    target.write_text(LotRenderer().render(lot), encoding="utf-8")
    return target
