"""What the supervisor knows of each socket: its worker's phase, and the unit in flight as its events
tell it (enough to record the unit ERROR when the worker dies or hangs)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from linegate.fixtures.config import FixtureConfig
from linegate.plans import (
    MeasurementRecord,
    Plan,
    PlanRef,
    ProvisioningRecord,
    StationRef,
    Status,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from linegate.plans.verdict import UnitEnd, unit_verdict
from linegate.station.engine.sources import UnitStart
from linegate.station.events import (
    Event,
    MeasurementTaken,
    ProvisioningStarted,
    StepFinished,
    StepStarted,
    UnitStarted,
    Verdict,
)
from linegate.station.record import HOST

from linegate import __version__


class SocketPhase(StrEnum):
    STARTING = "starting"  # worker spawned, opening its jig and collecting the plan
    TESTING = "testing"  # a unit is in the socket
    FINISHING = "finishing"  # told there are no more units; exiting
    EXITED = "exited"  # ended by itself
    DEAD = "dead"  # died or was killed; restarted unless retired
    RETIRED = "retired"  # out of service for the rest of the run


TRANSITIONS: dict[SocketPhase, frozenset[SocketPhase]] = {
    SocketPhase.STARTING: frozenset({SocketPhase.TESTING, SocketPhase.FINISHING, SocketPhase.DEAD,
                                     SocketPhase.EXITED}),
    SocketPhase.TESTING: frozenset({SocketPhase.TESTING, SocketPhase.FINISHING, SocketPhase.DEAD,
                                    SocketPhase.EXITED}),
    SocketPhase.FINISHING: frozenset({SocketPhase.EXITED, SocketPhase.DEAD}),
    SocketPhase.DEAD: frozenset({SocketPhase.STARTING, SocketPhase.RETIRED}),
    SocketPhase.EXITED: frozenset(),
    SocketPhase.RETIRED: frozenset(),
}


class IllegalPhase(Exception):
    pass


@dataclass
class UnitTrace:
    """The unit in flight, from its worker's events."""

    start: UnitStart
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # as the events came (records are made only for a unit that is lost: the supervisor stays light)
    steps: list[tuple[StepFinished, datetime, list[MeasurementTaken]]] = field(default_factory=list)
    measurements: list[MeasurementTaken] = field(default_factory=list)
    step: str = ""  # the step running now ("" between steps)
    step_started: datetime | None = None
    deadline: float | None = None  # monotonic: the supervisor kills the worker after it
    timeout_s: float | None = None
    mac: str = ""
    serial: str | None = None
    told: bool = False  # its verdict came: its record is on disk

    def see(self, event: Event, plan: Plan, grace_s: float) -> None:
        if isinstance(event, UnitStarted):
            self.serial = event.serial
        elif isinstance(event, StepStarted):
            self.step, self.step_started, self.measurements = event.step, event.at, []
            self.timeout_s = plan.timeout_of(plan.step(event.step)) if _has(plan, event.step) else None
            self.deadline = time.monotonic() + self.timeout_s + grace_s if self.timeout_s else None
        elif isinstance(event, MeasurementTaken):
            self.measurements.append(event)
        elif isinstance(event, StepFinished):
            self.steps.append((event, self.step_started or event.at, self.measurements))
            self.step, self.deadline, self.measurements = "", None, []
        elif isinstance(event, ProvisioningStarted):
            self.mac = event.mac
        elif isinstance(event, Verdict):
            self.told = True

    def lost(self, config: FixtureConfig, plan: Plan, why: str,
             provisioning: ProvisioningRecord | None) -> UnitRecord:
        """The unit's record when its worker died: ERROR, its finished steps, the step it was in."""
        steps = [StepRecord(name=e.step, test=_test_of(plan, e.step), outcome=StepOutcome(e.outcome),
                            started_at=at, duration_s=e.duration_s, measurements=_measured(taken), message=e.message)
                 for e, at, taken in self.steps]
        now = datetime.now(UTC)
        if self.step:
            steps.append(StepRecord(name=self.step, test=_test_of(plan, self.step), outcome=StepOutcome.ERROR,
                                    started_at=self.step_started or now,
                                    duration_s=(now - (self.step_started or now)).total_seconds(),
                                    measurements=_measured(self.measurements), message=why))
        outcome, failure = unit_verdict(steps, UnitEnd.WORKER_LOST, why=why, where=self.step)
        socket = next(s for s in config.sockets if s.name == self.start.socket)
        unit = {k: v for k, v in (("serial", self.serial or self.start.serial), ("mac", self.mac)) if v}
        return UnitRecord(
            record_id=str(uuid.uuid4()), outcome=outcome, unit=unit,
            station=StationRef(name=config.station, fixture=config.path.name if config.path else "",
                               socket=self.start.socket, operator=config.operator, host=HOST,
                               linegate_version=__version__),
            plan=PlanRef(name=plan.name, version=plan.version, sha256=plan.sha256, path=str(plan.path or ""),
                         tests_sha256=plan.tests_sha256),
            dut={"port": socket.dut.port}, started_at=self.started_at, ended_at=now,
            duration_s=(now - self.started_at).total_seconds(), steps=tuple(steps),
            failure=failure, provisioning=provisioning,
            retest=self.start.retest)


def _measured(taken: list[MeasurementTaken]) -> tuple[MeasurementRecord, ...]:
    return tuple(MeasurementRecord(name=m.name, value=m.value, units=m.units, limit=m.limit, status=Status(m.status))
                 for m in taken)


def _has(plan: Plan, step: str) -> bool:
    return any(s.name == step for s in plan.steps)


def _test_of(plan: Plan, step: str) -> str:
    return plan.step(step).test if _has(plan, step) else step


@dataclass
class Slot:
    """One socket: its worker process and pipe, its phase, the unit in it."""

    socket: str
    process: BaseProcess | None = None
    conn: Connection | None = None
    phase: SocketPhase = SocketPhase.STARTING
    trace: UnitTrace | None = None
    deaths_in_a_row: int = 0
    pid: int = 0
    asked_by: int = 0  # the worker a unit was asked for
    held: UnitStart | None = None  # a unit loaded for a worker that died before it was handed over

    def move(self, to: SocketPhase) -> None:
        if to not in TRANSITIONS[self.phase]:
            raise IllegalPhase(f"socket {self.socket}: cannot go to {to} from {self.phase}")
        self.phase = to

    @property
    def live(self) -> bool:
        return self.phase in (SocketPhase.STARTING, SocketPhase.TESTING, SocketPhase.FINISHING)
