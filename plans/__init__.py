"""What a plan and a result are: pure data."""

from __future__ import annotations

from linegate.plans.errors import PlanError
from linegate.plans.limits import Limits, Status
from linegate.plans.plan import MeasurementSpec, Plan, StepSpec, load_plan
from linegate.plans.record import (
    Attachment,
    Failure,
    MeasurementRecord,
    Outcome,
    PlanRef,
    StationRef,
    StepOutcome,
    StepRecord,
    UnitRecord,
)

__all__ = [
    "Attachment",
    "Failure",
    "Limits",
    "MeasurementRecord",
    "MeasurementSpec",
    "Outcome",
    "Plan",
    "PlanError",
    "PlanRef",
    "StationRef",
    "Status",
    "StepOutcome",
    "StepRecord",
    "StepSpec",
    "UnitRecord",
    "load_plan",
]
