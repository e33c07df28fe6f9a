"""The unit record in the shape OpenHTF's JSON output callback writes, for tools that read OpenHTF records.

Top level, phase and measurement keys are OpenHTF's (``dut_id``, ``phases[].measurements{}`` with
``measured_value``, ``validators``, ``outcome``...); what OpenHTF has no field for (plan hash,
provisioning, instruments) goes into ``metadata``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from linegate.plans import MeasurementRecord, Outcome, StepOutcome, StepRecord, UnitRecord

# OpenHTF's unit descriptors for the units station tests use most.
_UNITS = {"A": ("ampere", "AMP"), "V": ("volt", "VLT"), "W": ("watt", "WTT"), "Hz": ("hertz", "HTZ"),
          "s": ("second", "SEC"), "ohm": ("ohm", "OHM"), "dBm": ("decibel milliwatt", "2Q"),
          "degC": ("degree Celsius", "CEL")}
_PHASE_OUTCOME = {StepOutcome.PASS: "PASS", StepOutcome.FAIL: "FAIL", StepOutcome.ERROR: "ERROR",
                  StepOutcome.SKIPPED: "SKIP"}
_PHASE_RESULT = {StepOutcome.PASS: "CONTINUE", StepOutcome.FAIL: "CONTINUE", StepOutcome.ERROR: "STOP",
                 StepOutcome.SKIPPED: "SKIP"}
_PHASE_OPTIONS = {"name": None, "timeout_s": None, "run_if": None, "requires_state": False, "force_repeat": False,
                  "repeat_on_measurement_fail": False, "repeat_on_timeout": False, "repeat_limit": None,
                  "run_under_pdb": False, "phase_name_case": "KEEP", "stop_on_measurement_fail": False}


def _ms(dt: Any) -> int:
    return int(dt.timestamp() * 1000)


def _validators(m: MeasurementRecord) -> list[str]:
    out = []
    if m.low is not None or m.high is not None:
        if m.low is not None and m.high is not None:
            out.append(f"{m.low:g} <= x <= {m.high:g}")
        elif m.low is not None:
            out.append(f"{m.low:g} <= x")
        else:
            out.append(f"x <= {m.high:g}")
    if m.regex is not None:
        out.append(f"'x' matches /{m.regex}/")
    if m.equals is not None:
        out.append(f"x == {m.equals!r}")
    return out


def _measurement(m: MeasurementRecord) -> dict[str, Any]:
    item: dict[str, Any] = {"name": m.name, "outcome": "FAIL" if m.status.value == "fail" else "PASS",
                            "validators": _validators(m)}
    if m.units:
        name, code = _UNITS.get(m.units, (m.units, m.units))
        item["units"] = {"name": name, "code": code, "suffix": m.units}
    item["measured_value"] = m.value
    return item


def _phase(step: StepRecord, index: int) -> dict[str, Any]:
    start = _ms(step.started_at)
    attachments = {}
    if step.output:
        data = step.output.encode()
        attachments["output.txt"] = {"mimetype": "text/plain", "sha1": hashlib.sha1(data).hexdigest(),
                                     "data": base64.b64encode(data).decode()}
    return {
        "measurements": {m.name: _measurement(m) for m in step.measurements},
        "options": {**_PHASE_OPTIONS, "name": step.name},
        "diagnosers": [],
        "subtest_name": None,
        "start_time_millis": start,
        "end_time_millis": start + int(step.duration_s * 1000),
        "attachments": attachments,
        "diagnosis_results": [],
        "failure_diagnosis_results": [],
        "result": {"phase_result": _PHASE_RESULT[step.outcome]},
        "outcome": _PHASE_OUTCOME[step.outcome],
        "marginal": any(m.status.value == "marginal" for m in step.measurements),
        "descriptor_id": int(hashlib.sha1(step.test.encode()).hexdigest()[:12], 16),
        "name": step.name,
        "codeinfo": {"name": step.test.rsplit("::", 1)[-1], "docstring": step.message or None, "sourcecode": ""},
    }


def openhtf_record(r: UnitRecord) -> dict[str, Any]:
    details = []
    if r.failure is not None:
        code = f"{r.failure.step}:{r.failure.measurement}" if r.failure.measurement else r.failure.step
        details.append({"code": code, "description": r.failure.message})
    metadata: dict[str, Any] = {
        "test_name": r.plan.name,
        "config": {},
        "linegate": {
            "schema_version": r.schema_version, "record_id": r.record_id, "plan_version": r.plan.version,
            "plan_sha256": r.plan.sha256, "tests_sha256": r.plan.tests_sha256, "station": r.station.model_dump(),
            "unit": r.unit,
            "instruments": r.instruments, "dut": r.dut,
            "provisioning": r.provisioning.model_dump(mode="json") if r.provisioning else None,
        },
    }
    attachments = {a.name: {"mimetype": a.mime_type,
                            "sha1": hashlib.sha1(a.content.encode()).hexdigest(),
                            "data": base64.b64encode(a.content.encode()).decode()} for a in r.attachments}
    phases = [_phase(s, i) for i, s in enumerate(r.steps)]
    if attachments and phases:
        phases[-1]["attachments"].update(attachments)
    return {
        "dut_id": r.unit.get("serial") or r.unit.get("mac") or r.record_id,
        "start_time_millis": _ms(r.started_at),
        "end_time_millis": _ms(r.ended_at),
        "outcome": {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.ERROR: "ERROR",
                    Outcome.ABORTED: "ABORTED"}[r.outcome],
        "outcome_details": details,
        "marginal": any(m.status.value == "marginal" for _, m in r.measurements()),
        "metadata": metadata,
        "phases": phases,
        "subtests": [],
        "branches": [],
        "diagnosers": [],
        "diagnoses": [],
        "log_records": [],
        "station_id": r.station.name,
        "code_info": {"name": r.plan.name, "docstring": None, "sourcecode": ""},
    }


def openhtf_json(r: UnitRecord) -> str:
    # Compact: with an indent, json falls back to its pure-Python encoder (~5x slower per unit).
    return json.dumps(openhtf_record(r), default=str)
