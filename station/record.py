"""Build the frozen unit record from what the loop collected."""

from __future__ import annotations

import socket as socketlib
import uuid
from datetime import UTC, datetime

from linegate.fixtures.context import StationState, UnitUnderTest
from linegate.plans import (
    PROVISIONED,
    Attachment,
    MeasurementRecord,
    PlanRef,
    PromptRecord,
    ProvisioningRecord,
    StationRef,
    Status,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from linegate.plans.verdict import UnitEnd, gate_step_outcome, unit_verdict
from linegate.station.gate.gate import GateResult

from linegate import __version__

HOST = socketlib.gethostname()


def build_record(
    state: StationState,
    unit: UnitUnderTest,
    steps: list[StepRecord],
    started_at: datetime,
    *,
    aborted: bool = False,
    provisioning: ProvisioningRecord | None = None,
) -> UnitRecord:
    assert state.config is not None and state.plan is not None and state.jig is not None
    ended = datetime.now(UTC)
    dut_facts = dict(unit.facts)
    dut_facts.setdefault("port", state.jig.duts[unit.socket].port)
    outcome, failure = unit_verdict(steps, UnitEnd.STOPPED if aborted else UnitEnd.RAN)
    return UnitRecord(
        record_id=str(uuid.uuid4()),
        outcome=outcome,
        unit=dict(unit.identity),
        station=StationRef(
            name=state.config.station,
            fixture=state.config.path.name if state.config.path else "",
            socket=unit.socket,
            operator=unit.operator or state.config.operator,
            host=HOST,
            linegate_version=__version__,
        ),
        plan=PlanRef(
            name=state.plan.name,
            version=state.plan.version,
            sha256=state.plan.sha256,
            path=str(state.plan.path or ""),
            tests_sha256=state.plan.tests_sha256,
        ),
        instruments=state.jig.idns,
        dut=dut_facts,
        started_at=started_at,
        ended_at=ended,
        duration_s=(ended - started_at).total_seconds(),
        steps=tuple(steps),
        failure=failure,
        attachments=tuple(Attachment(name=n, mime_type=m, content=c) for n, m, c in unit.attachments),
        provisioning=provisioning,
        prompts=tuple(PromptRecord(step=a.step, ask=a.question.ask, text=a.question.text, answer=a.answer.value,
                                   who=a.answer.who, at=a.answer.at, options=a.question.options)
                      for a in unit.asked),
        retest=unit.retest,
    )


def skipped_step(name: str, test: str, why: str) -> StepRecord:
    return StepRecord(
        name=name,
        test=test,
        outcome=StepOutcome.SKIPPED,
        started_at=datetime.now(UTC),
        duration_s=0.0,
        message=why,
    )


def provision_step(result: GateResult, started_at: datetime, duration_s: float, output: str = "") -> StepRecord:
    """The gate's work as a step of the unit: the read-back check and the commit."""
    prov = result.record
    readback = MeasurementRecord(name="identity_readback", value=prov.readback_ok, equals=True,
                                 limit="== True", status=Status.PASS if prov.readback_ok else Status.FAIL,
                                 reason="" if prov.readback_ok else "read-back differs from what was written")
    committed = prov.commit_status in PROVISIONED
    commit = MeasurementRecord(name="commit_status", value=prov.commit_status, limit="committed, kept or pending",
                               status=Status.PASS if committed else Status.FAIL,
                               reason="" if committed else prov.reason)
    outcome, message = gate_step_outcome(result.outcome.value, prov.commit_status, result.message)
    measurements = (readback, commit) if prov.written or prov.readback_ok else (commit,)
    return StepRecord(
        name="provision",
        test=f"linegate gate: {prov.service}",
        outcome=outcome,
        started_at=started_at,
        duration_s=duration_s,
        measurements=measurements,
        message=message,
        output=output,
    )
