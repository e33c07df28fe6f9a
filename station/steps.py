"""What pytest reports of one step, made into the step's record; the unit's serial transcript."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from linegate.drivers.dut import SerialLink
from linegate.plans import MeasurementRecord, Plan, StepRecord
from linegate.plans.verdict import step_outcome

SKIP_REASON = "not run: an earlier step did not pass"


def format_transcript(link: SerialLink) -> str:
    """The unit's serial traffic; secret writes were already redacted by the driver."""
    if not link.transcript:
        return ""
    t0 = link.transcript[0].t
    merged: list[tuple[float, str, str]] = []  # reads arrive in fragments: join runs of one direction
    for e in link.transcript:
        if merged and merged[-1][1] == e.direction:
            t, d, text = merged[-1]
            merged[-1] = (t, d, text + e.text)
        else:
            merged.append((e.t, e.direction, e.text))
    return "\n".join(f"{t - t0:9.4f} {d} {text}" for t, d, text in merged)


def step_record(phases: list[pytest.TestReport], plan: Plan | None, captured: str) -> StepRecord:
    """A step's record from pytest's setup/call/teardown reports of its item; ``captured``: what it printed."""
    setup = phases[0]
    item_name = setup.nodeid.rsplit("::", 1)[-1]
    name = getattr(setup, "lg_step", None) or item_name
    judged: list[tuple[str, str]] = []
    measurements: tuple[MeasurementRecord, ...] = ()
    output: list[str] = []
    lock_wait_s = 0.0
    shared: dict[str, None] = {}
    for report in phases:
        lock_wait_s += getattr(report, "lg_lock_wait_s", 0.0)
        shared.update(dict.fromkeys(getattr(report, "lg_shared", ())))
        kind = getattr(report, "lg_outcome", "pass")
        if report.when == "call":
            measurements = tuple(getattr(report, "lg_measurements", ()))
        said = _skip_reason(report) if kind == "skipped" else getattr(report, "lg_message", "")
        judged.append((kind, said or (report.longreprtext if kind in ("error", "failed") else said)))
        for title, content in report.sections:
            output.append(f"--- {title} ---\n{content}")
        if (report.failed and report.longreprtext and report.when != "call") or kind == "error":
            output.append(report.longreprtext)
    if captured:
        output.append(captured)
    outcome, message = step_outcome(judged)
    return StepRecord(
        name=name,
        test=_test_of(plan, name, setup.nodeid),
        outcome=outcome,
        started_at=datetime.fromtimestamp(setup.start, UTC),
        duration_s=sum(r.duration for r in phases),
        measurements=measurements,
        message=message,
        output="\n".join(output),
        lock_wait_s=lock_wait_s,
        shared=tuple(sorted(shared)),
    )

def _test_of(plan: Plan | None, name: str, nodeid: str) -> str:
    if plan is not None:
        try:
            return plan.step(name).test
        except KeyError:
            pass
    return nodeid


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return SKIP_REASON
