"""Synthetic unit records for report tests and benchmarks (no line needed)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from linegate.plans import (
    Failure,
    MeasurementRecord,
    Outcome,
    PlanRef,
    ProvisioningRecord,
    StationRef,
    Status,
    StepOutcome,
    StepRecord,
    UnitRecord,
)

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def make_record(index: int, *, mac: str | None = None, measurements: int = 20, rng: random.Random | None = None,
                fail: bool = False, error: bool = False, minutes: float = 0.0, socket: str = "A",
                aborted: bool = False, fail_step: int = 1) -> UnitRecord:
    rng = rng or random.Random(index)
    started = T0 + timedelta(minutes=minutes or index)
    steps = []
    failure = None
    for s in range(max(1, measurements // 5)):
        ms = []
        for k in range(5 if measurements >= 5 else measurements):
            value = rng.gauss(0.080, 0.004)
            status = Status.PASS
            if fail and s == fail_step and k == 0:
                value, status = 0.25, Status.FAIL
            ms.append(MeasurementRecord(name=f"current_{s}_{k}", value=round(value, 5), units="A", low=0.06,
                                        high=0.1, limit="0.06..0.1 A", status=status,
                                        reason="above high" if status is Status.FAIL else ""))
        outcome = StepOutcome.FAIL if any(m.status is Status.FAIL for m in ms) else StepOutcome.PASS
        if error and s == 2:
            outcome = StepOutcome.ERROR
        steps.append(StepRecord(name=f"step_{s}", test=f"t.py::test_{s}", outcome=outcome,
                                started_at=started + timedelta(seconds=s), duration_s=0.01,
                                measurements=tuple(ms), message="instrument timeout" if outcome is StepOutcome.ERROR
                                else ""))
        if outcome is StepOutcome.FAIL and failure is None:
            failure = Failure(step=f"step_{s}", measurement=ms[0].name, message=f"{ms[0].name} = 0.25 A: above high")
        if outcome is StepOutcome.ERROR and failure is None:
            failure = Failure(step=f"step_{s}", message="instrument timeout")
    outcome = Outcome.ABORTED if aborted else Outcome.ERROR if error else Outcome.FAIL if fail else Outcome.PASS
    prov = None
    if outcome is Outcome.PASS:
        prov = ProvisioningRecord(service="ayla", identity=f"AC000W{index:09d}", readback_ok=True,
                                  commit_status="committed", attempts=1)
    return UnitRecord(
        record_id=str(uuid.UUID(int=index)), outcome=outcome,
        unit={"mac": mac or f"24:0a:c4:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}",
              "serial": f"LG{index:08d}"},
        station=StationRef(name="st1", fixture="f.yaml", socket=socket, linegate_version="0.1.0"),
        plan=PlanRef(name="p", version="1", sha256="0" * 64, path="p.yaml"),
        started_at=started, ended_at=started + timedelta(seconds=2), duration_s=2.0, steps=tuple(steps),
        failure=failure, provisioning=prov,
    )
