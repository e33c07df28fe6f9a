"""Scripted event streams for the operator panel's tests: real Event objects, as a worker would send them."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from linegate.station.events import (
    Event,
    MeasurementTaken,
    Prompt,
    RecordWritten,
    StepFinished,
    StepStarted,
    UnitStarted,
    Verdict,
    WorkerStarted,
)


@dataclass
class Step:
    name: str
    outcome: str = "pass"
    measurements: list[tuple[str, float, str, str, str]] = field(default_factory=list)  # name value units limit st
    duration_s: float = 0.4
    message: str = ""


PLAN = [
    Step("power_on", measurements=[("vbus", 5.02, "V", "4.75 ≤ x ≤ 5.25 V", "pass"),
                                   ("idle_current", 0.182, "A", "x ≤ 0.25 A", "pass")]),
    Step("firmware_version", measurements=[("version", 1.42, "", "= 1.42", "pass")]),
    Step("rf_power", measurements=[("tx_dbm", 17.9, "dBm", "16 ≤ x ≤ 20 dBm", "pass"),
                                   ("rssi", -48.0, "dBm", "x ≥ -60 dBm", "pass")]),
    Step("led_check"),
    Step("provision"),
]


def started(socket_name: str, pid: int = 4242) -> WorkerStarted:
    return WorkerStarted(socket_name, pid=pid, startup_s=0.8)


def unit_begin(socket_name: str, index: int, serial: str | None, steps: int = len(PLAN)) -> UnitStarted:
    return UnitStarted(socket_name, index=index, serial=serial, steps=steps)


def step_events(socket_name: str, index: int, step: Step, number: int, of: int = len(PLAN),
                at: datetime | None = None) -> list[Event]:
    at = at or datetime.now(UTC)
    done = at + timedelta(seconds=step.duration_s)
    events: list[Event] = [StepStarted(socket_name, index=index, step=step.name, number=number, of=of, at=at)]
    events += [MeasurementTaken(socket_name, index=index, step=step.name, name=n, value=v, units=u or None, limit=lim,
                                status=st, at=done) for n, v, u, lim, st in step.measurements]
    events.append(StepFinished(socket_name, index=index, step=step.name, outcome=step.outcome,
                               duration_s=step.duration_s, message=step.message, at=done))
    return events


def prompt(socket_name: str, index: int, prompt_id: str, text: str, options: tuple[str, ...] = ()) -> Prompt:
    return Prompt(socket_name, index=index, prompt_id=prompt_id, text=text, options=options)


def unit_end(socket_name: str, index: int, serial: str | None, outcome: str, failure: str = "",
             record: Path | None = None) -> list[Event]:
    events: list[Event] = [Verdict(socket_name, index=index, outcome=outcome, failure=failure, serial=serial,
                                   mac=f"24:0a:c4:00:00:{index % 256:02x}", commit_status="committed")]
    if record is not None:
        events.append(RecordWritten(socket_name, index=index, record_id=f"rec-{index}", path=str(record)))
    return events


def whole_unit(socket_name: str, index: int, serial: str, fail_step: str | None = None,
               record: Path | None = None) -> list[Event]:
    """A unit from start to record: every step of PLAN passes, or ``fail_step`` fails and the rest skip."""
    events: list[Event] = [unit_begin(socket_name, index, serial)]
    failed = ""
    for number, step in enumerate(PLAN, 1):
        if failed:
            step = Step(step.name, outcome="skipped", duration_s=0.0)
        elif step.name == fail_step:
            step = Step(step.name, outcome="fail", measurements=[("tx_dbm", 12.1, "dBm", "16 ≤ x ≤ 20 dBm", "fail")],
                        message="tx_dbm 12.1 dBm is below 16 dBm")
            failed = f"Step {step.name} failed: tx_dbm 12.1 dBm is below its limit 16 dBm."
        events += step_events(socket_name, index, step, number)
    return events + unit_end(socket_name, index, serial, "FAIL" if failed else "PASS", failed, record)


def outside_ip() -> str | None:
    """This machine's address on its way out (not loopback), or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 9))
            ip = str(s.getsockname()[0])
        except OSError:
            return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def wait_state(client: httpx.Client, url: str, check: Callable[[dict], bool], timeout: float = 30) -> dict:
    """The panel's state (``GET url/api/state``) once ``check`` holds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        state = client.get(url + "api/state").json()
        if check(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout} s: {state}")
