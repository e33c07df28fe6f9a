"""What a plan and a result are: pure data."""

from __future__ import annotations

from linegate.plans.errors import PlanError
from linegate.plans.limits import Limits, Status
from linegate.plans.plan import MeasurementSpec, Plan, StepSpec, load_plan
from linegate.plans.record import (
    PROVISIONED,
    Attachment,
    CommitStatus,
    Failure,
    MeasurementRecord,
    NvsWrite,
    Outcome,
    PlanRef,
    PromptRecord,
    ProvisioningRecord,
    StationRef,
    StepOutcome,
    StepRecord,
    UnitRecord,
)

__all__ = [
    "PROVISIONED",
    "Attachment",
    "CommitStatus",
    "Failure",
    "Limits",
    "MeasurementRecord",
    "MeasurementSpec",
    "NvsWrite",
    "Outcome",
    "Plan",
    "PlanError",
    "PlanRef",
    "PromptRecord",
    "ProvisioningRecord",
    "StationRef",
    "Status",
    "StepOutcome",
    "StepRecord",
    "StepSpec",
    "UnitRecord",
    "load_plan",
]
