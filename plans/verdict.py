"""Where a verdict is decided: a phase's, a step's, the gate's step and a unit's, whatever way the unit ended.

Everything else records, shows or tells what these functions return. A unit ends in one of the ways of
``UnitEnd``; its outcome follows from that and from its steps' outcomes alone, and PASS means every step
passed, the gate's included (PASS is provisioned: the gate's step is PASS only once the identity is
committed, kept or pending a commit the ledger will finish).
"""

from __future__ import annotations

from enum import StrEnum

from linegate.plans import PROVISIONED, CommitStatus, Failure, Outcome, Plan, Status, StepOutcome, StepRecord

NOT_PASSED = frozenset({StepOutcome.FAIL, StepOutcome.ERROR})
SKIP_REASON = "not run: an earlier step did not pass"  # stop-on-failure's word for the steps it skips


class UnitEnd(StrEnum):
    """How a unit's test ended."""

    RAN = "ran"  # its steps and the gate ran to their end
    STOPPED = "stopped"  # the operator or a signal stopped the station mid-unit: ABORTED
    NOT_RECORDED = "not_recorded"  # its record could not be written: ERROR, whatever its steps said
    WORKER_LOST = "worker_lost"  # its worker died (signal, deadline, fault outside a step): ERROR


def phase_outcome(pytest_outcome: str, when: str, unit_fault: bool) -> str:
    """A pytest phase report's outcome in a step's words: ``pass``, ``skipped``, ``fail`` (the unit: an
    assertion or a limit in the call) or ``error`` (the station: an exception anywhere else)."""
    if pytest_outcome == "skipped":
        return "skipped"
    if pytest_outcome == "passed":
        return "pass"
    return "fail" if when == "call" and unit_fault else "error"


def step_outcome(phases: list[tuple[str, str]]) -> tuple[StepOutcome, str]:
    """A step's outcome and message from its phases' (outcome, message), setup to teardown: an error
    anywhere outweighs a failure, which outweighs a skip."""
    outcome, message = StepOutcome.PASS, ""
    for kind, said in phases:
        if kind == "skipped" and outcome is StepOutcome.PASS:
            outcome, message = StepOutcome.SKIPPED, said
        elif kind == "fail" and outcome in (StepOutcome.PASS, StepOutcome.SKIPPED):
            outcome, message = StepOutcome.FAIL, said
        elif kind in ("error", "failed") and outcome is not StepOutcome.ERROR:
            outcome, message = StepOutcome.ERROR, said
    return outcome, message


def stops_the_unit(step: StepRecord, plan: Plan | None) -> bool:
    """After ``step``: the unit's remaining steps are skipped (the plan's ``stop_on_failure``, default on)."""
    return (plan.stop_on_failure if plan is not None else True) and step.outcome in NOT_PASSED


def gate_step_outcome(gate_outcome: str, commit_status: CommitStatus, message: str) -> tuple[StepOutcome, str]:
    """The gate's step: the gate's own outcome (``pass``/``fail``/anything else an error), but never PASS
    unless the identity is provisioned."""
    outcome = {"pass": StepOutcome.PASS, "fail": StepOutcome.FAIL}.get(gate_outcome, StepOutcome.ERROR)
    if outcome is StepOutcome.PASS and commit_status not in PROVISIONED:
        return StepOutcome.ERROR, f"the gate passed a unit whose commit is {commit_status}: {message}".rstrip(": ")
    return outcome, message


def unit_outcome(steps: list[StepRecord] | tuple[StepRecord, ...], end: UnitEnd = UnitEnd.RAN) -> Outcome:
    if end is UnitEnd.STOPPED:
        return Outcome.ABORTED
    if end in (UnitEnd.NOT_RECORDED, UnitEnd.WORKER_LOST):
        return Outcome.ERROR
    if any(s.outcome is StepOutcome.ERROR for s in steps):
        return Outcome.ERROR
    if any(s.outcome is StepOutcome.FAIL for s in steps):
        return Outcome.FAIL
    return Outcome.PASS


def first_failure(steps: list[StepRecord] | tuple[StepRecord, ...]) -> Failure | None:
    """The first step that did not pass, named by its first failed measurement when it has one."""
    for step in steps:
        if step.outcome not in NOT_PASSED:
            continue
        for m in step.measurements:
            if m.status is Status.FAIL:
                units = f" {m.units}" if m.units else ""
                return Failure(step=step.name, measurement=m.name,
                               message=f"{m.name} = {m.value!r}{units} (limit {m.limit or 'none'}): {m.reason}")
        return Failure(step=step.name, message=step.message or f"step {step.outcome.value}")
    return None


def unit_verdict(steps: list[StepRecord] | tuple[StepRecord, ...], end: UnitEnd = UnitEnd.RAN, *,
                 why: str = "", where: str = "") -> tuple[Outcome, Failure | None]:
    """A unit's outcome and the failure it is recorded with. ``why``/``where``: for a unit whose record was
    not written (``where`` "record") or whose worker was lost (``where``: the step it was in, else "worker")."""
    outcome = unit_outcome(steps, end)
    if end is UnitEnd.NOT_RECORDED:
        return outcome, Failure(step=where or "record", message=why)
    if end is UnitEnd.WORKER_LOST:  # in a step: that step (ERROR, with why) or an earlier one; else the worker
        return outcome, (first_failure(steps) if where else None) or Failure(step=where or "worker", message=why)
    return outcome, first_failure(steps)


__all__ = ["NOT_PASSED", "SKIP_REASON", "UnitEnd", "first_failure", "gate_step_outcome", "phase_outcome",
           "step_outcome", "stops_the_unit", "unit_outcome", "unit_verdict"]
