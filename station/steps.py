"""What pytest reports of one step, made into the step's record; the unit's serial transcript."""

from __future__ import annotations

from datetime import UTC, datetime

from linegate.drivers.dut import SerialLink
from linegate.fixtures.phases import PhaseResult
from linegate.plans import MeasurementRecord, Plan, StepRecord
from linegate.plans.verdict import step_outcome


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


def step_record(name: str, nodeid: str, phases: list[PhaseResult], plan: Plan | None, captured: str) -> StepRecord:
    """A step's record from what the plugin made of its setup/call/teardown (``phases``, from the item's
    stash); ``captured``: what it printed."""
    measurements: tuple[MeasurementRecord, ...] = ()
    output: list[str] = []
    shared: dict[str, None] = {}
    for phase in phases:
        shared.update(dict.fromkeys(phase.shared))
        if phase.when == "call":
            measurements = phase.measurements
        for title, content in phase.sections:
            output.append(f"--- {title} ---\n{content}")
        if (phase.failed and phase.longrepr and phase.when != "call") or phase.outcome == "error":
            output.append(phase.longrepr)
    if captured:
        output.append(captured)
    outcome, message = step_outcome([(p.outcome, p.message) for p in phases])
    return StepRecord(
        name=name,
        test=_test_of(plan, name, nodeid),
        outcome=outcome,
        started_at=datetime.fromtimestamp(phases[0].start, UTC),
        duration_s=sum(p.duration_s for p in phases),
        measurements=measurements,
        message=message,
        output="\n".join(output),
        lock_wait_s=sum(p.lock_wait_s for p in phases),
        shared=tuple(sorted(shared)),
    )


def _test_of(plan: Plan | None, name: str, nodeid: str) -> str:
    if plan is not None:
        try:
            return plan.step(name).test
        except KeyError:
            pass
    return nodeid
