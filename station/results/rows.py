"""A unit record as the results store's rows: one pure function, used for the local and the central store."""

from __future__ import annotations

import socket as socketlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linegate.plans import UnitRecord
from linegate.reports.histogram import grid_cell
from linegate.reports.pareto import failure_key

_RUNS = uuid.UUID("6f1c1f43-3a0e-4e55-9a53-1c51c0f1e1a4")


def run_id_of(run_dir: Path | str, host: str | None = None) -> str:
    """The run's id: the same in every process writing to the run folder, different on every host."""
    return str(uuid.uuid5(_RUNS, f"{host or socketlib.gethostname()}|{Path(run_dir).resolve()}"))


def unit_key_of(record: UnitRecord) -> str:
    return record.unit.get("mac") or record.unit.get("serial") or record.record_id


def as_utc(when: datetime) -> datetime:
    """Aware, in UTC: a store gives back the UTC times it keeps (SQLite without their offset)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def run_row(record: UnitRecord, run_dir: Path | str) -> dict[str, Any]:
    return {"run_id": run_id_of(run_dir, record.station.host or None), "station": record.station.name,
            "host": record.station.host, "run_dir": str(Path(run_dir).resolve()),
            "started_at": as_utc(record.started_at), "linegate_version": record.station.linegate_version}


Rows = dict[str, list[dict[str, Any]]]


def _override(record: UnitRecord) -> str | None:
    """Who let the unit past the plan's retest limit, and why ("by: reason"); None when nobody did."""
    retest = record.retest
    return f"{retest.override_by}: {retest.override_reason}" if retest is not None and retest.overridden else None


def unit_rows(record: UnitRecord, *, run_id: str, record_path: str = "", report_path: str = "") -> Rows:
    """The rows of every table but ``runs`` for one record (``revision`` is set by the store)."""
    failure = record.failure
    unit = {
        "record_id": record.record_id, "run_id": run_id, "unit_key": unit_key_of(record),
        "serial": record.unit.get("serial", ""), "mac": record.unit.get("mac", ""),
        "station": record.station.name, "socket": record.station.socket, "host": record.station.host,
        "operator": record.station.operator, "fixture": record.station.fixture,
        "plan_name": record.plan.name, "plan_version": record.plan.version, "plan_sha256": record.plan.sha256,
        "outcome": record.outcome.value, "started_at": as_utc(record.started_at), "ended_at": as_utc(record.ended_at),
        "duration_s": record.duration_s,
        "failure_step": failure.step if failure else None,
        "failure_measurement": failure.measurement if failure else None,
        "failure_message": failure.message if failure else None,
        "failure_key": failure_key(failure) if failure else None,
        "retest_override": _override(record), "record_path": record_path, "report_path": report_path,
        "linegate_version": record.station.linegate_version,
    }
    steps: list[dict[str, Any]] = []
    measurements: list[dict[str, Any]] = []
    for step_idx, step in enumerate(record.steps):
        steps.append({"record_id": record.record_id, "idx": step_idx, "name": step.name, "test": step.test,
                      "outcome": step.outcome.value, "started_at": as_utc(step.started_at),
                      "duration_s": step.duration_s, "message": step.message, "lock_wait_s": step.lock_wait_s})
        for m in step.measurements:
            number = isinstance(m.value, int | float) and not isinstance(m.value, bool)
            measurements.append({
                "record_id": record.record_id, "idx": len(measurements), "step_idx": step_idx, "step": step.name,
                "name": m.name, "value": float(m.value) if number else None,
                "text": None if number or m.value is None else str(m.value), "units": m.units or "",
                "low": m.low, "high": m.high, "limit": m.limit, "status": m.status.value, "reason": m.reason,
                "cell": grid_cell(float(m.value), m.low, m.high) if number and m.low is not None
                and m.high is not None and m.high > m.low else None})
    prov = record.provisioning
    provisioning = [] if prov is None else [{
        "record_id": record.record_id, "service": prov.service, "identity": prov.identity,
        "commit_status": prov.commit_status.value, "readback_ok": prov.readback_ok, "reason": prov.reason,
        "code": prov.code, "attempts": prov.attempts}]
    attachments = [{"record_id": record.record_id, "idx": i, "name": a.name, "mime_type": a.mime_type,
                    "size": len(a.content)} for i, a in enumerate(record.attachments)]
    return {"unit_tests": [unit], "steps": steps, "measurements": measurements, "provisioning": provisioning,
            "attachments": attachments}
