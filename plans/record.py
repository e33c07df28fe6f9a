"""The unit record: everything known about one unit's run, frozen once written.

Reports and exports consume this record and nothing else. Its JSON form is
versioned (``schema_version``) and described by ``unit-record.schema.json``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from linegate.plans.limits import Status
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"  # the station or jig broke, not the unit
    ABORTED = "ABORTED"  # stopped by the operator


class StepOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasurementRecord(_Frozen):
    name: str
    value: Any
    units: str | None = None
    low: float | None = None
    high: float | None = None
    marginal_low: float | None = None
    marginal_high: float | None = None
    equals: Any = None
    regex: str | None = None
    limit: str = Field("", description="the limit in words, e.g. '0.05..0.12 A'")
    status: Status
    reason: str = ""


class StepRecord(_Frozen):
    name: str
    test: str
    outcome: StepOutcome
    started_at: datetime
    duration_s: float
    measurements: tuple[MeasurementRecord, ...] = ()
    message: str = Field("", description="why the step did not pass")
    output: str = Field("", description="captured stdout/stderr/log of the step")
    lock_wait_s: float = Field(0.0, description="seconds the step waited for shared instruments' locks")
    shared: tuple[str, ...] = Field((), description="shared (station-level) instruments the step held the lock of")


class PlanRef(_Frozen):
    name: str
    version: str
    sha256: str = Field(max_length=64, description="SHA-256 of the plan file, hex")
    path: str
    tests_sha256: str = Field("", description="SHA-256 of the station tests' Python files the plan ran")


class StationRef(_Frozen):
    name: str
    fixture: str
    socket: str
    operator: str = ""
    host: str = ""
    linegate_version: str


class Failure(_Frozen):
    step: str
    measurement: str | None = None
    message: str


class Attachment(_Frozen):
    name: str
    mime_type: str
    content: str = Field(description="text, or base64 for binary types")


class NvsWrite(_Frozen):
    namespace: str
    key: str
    bytes: int
    secret: bool = Field(False, description="the value is a secret and never shown")
    shown: str = Field("", description="the value as it may be shown: the value, or a redacted form")
    readback_ok: bool


class CommitStatus(StrEnum):
    """What became of a unit's identity at the cloud, as its record says (and the ledger agrees)."""

    COMMITTED = "committed"
    PENDING = "pending"  # queued: the drain commits it when the service answers; the record is rewritten then
    KEPT = "kept"  # committed to this unit on an earlier test
    NOT_ATTEMPTED = "not_attempted"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"


# A unit may PASS only with one of these; PENDING may later become COMMITTED, nothing else changes.
PROVISIONED = frozenset({CommitStatus.COMMITTED, CommitStatus.KEPT, CommitStatus.PENDING})
LATER = {CommitStatus.PENDING: frozenset({CommitStatus.COMMITTED})}


class ProvisioningRecord(_Frozen):
    service: str
    identity: str = Field(description="DSN / deviceId / SN / deviceKey; never a key or secret")
    written: tuple[NvsWrite, ...] = ()
    readback_ok: bool = False
    commit_status: CommitStatus
    reason: str = ""
    code: str | None = Field(None, description="the service's error code when the commit failed")
    attempts: int = 0
    response: dict[str, str] = Field(default_factory=dict, description="what the service answered, secrets removed")
    timings_ms: dict[str, float] = Field(default_factory=dict)


class PromptRecord(_Frozen):
    """A question a station test put to the operator, and the answer."""

    step: str
    ask: str = Field(description="confirm | choose | number | text")
    text: str
    answer: str
    who: str = Field(description="who answered: the operator's name at the panel, or 'terminal'")
    at: datetime
    options: tuple[str, ...] = ()


class RetestRecord(_Frozen):
    """The unit had failed before: how often, the plan's limit, and who let it past the limit and why."""

    failed_before: int = Field(description="failed tests (FAIL or ERROR) of the unit before this one, all stations")
    max_attempts: int = Field(description="the plan's retest limit")
    override_by: str = Field("", description="who let the unit past the limit: the operator's name, or ''")
    override_reason: str = Field("", description="why the unit was tested past the limit")
    override_at: datetime | None = None

    @property
    def overridden(self) -> bool:
        return bool(self.override_by)


class UnitRecord(_Frozen):
    schema_version: str = SCHEMA_VERSION
    record_id: str = Field(min_length=1, max_length=64, description="unique per unit test (a UUID)")
    outcome: Outcome
    unit: dict[str, str] = Field(description="the unit's identities: mac, serial, chip_id, ...")
    station: StationRef
    plan: PlanRef
    instruments: dict[str, str] = Field(default_factory=dict, description="name -> *IDN? answer")
    dut: dict[str, str] = Field(default_factory=dict, description="port, firmware fields")
    started_at: datetime
    ended_at: datetime
    duration_s: float
    steps: tuple[StepRecord, ...]
    failure: Failure | None = None
    attachments: tuple[Attachment, ...] = ()
    provisioning: ProvisioningRecord | None = None
    prompts: tuple[PromptRecord, ...] = Field((), description="the operator's answers to the station tests' questions")
    retest: RetestRecord | None = Field(None, description="set when the unit had failed before (plan's retest limit)")

    @property
    def stem(self) -> str:
        """File stem shared by this unit's HTML and JSON files."""
        ident = self.unit.get("serial") or self.unit.get("mac") or "unknown"
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in ident)
        return f"{safe}_{self.started_at.strftime('%Y%m%dT%H%M%S%f')[:-3]}"

    def measurements(self) -> list[tuple[StepRecord, MeasurementRecord]]:
        return [(step, m) for step in self.steps for m in step.measurements]
