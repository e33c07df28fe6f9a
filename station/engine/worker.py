"""A socket's worker: one process per socket, with its own warm pytest session (``StationLoop``), its
DUT link and its instruments, for the whole run.

It asks the supervisor for each unit, writes each unit's files itself (the record is on disk before
its verdict is told) and sends everything else as messages on its pipe: the typed events in their wire
form, the run index's row of each unit, requests to wake the pool refill or the commit drain, and, at
the end, why it stopped if that was not the end of the units. It dies with the supervisor.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

import pytest
from linegate.drivers.cloud import RetryPolicy
from linegate.fixtures.config import FixtureConfig
from linegate.fixtures.context import StationState
from linegate.fixtures.jig import Jig, JigError
from linegate.fixtures.locks import InstrumentLocks
from linegate.fixtures.operator import Answer, OperatorError, Question
from linegate.plans import Plan, UnitRecord
from linegate.reports import IndexRow, UnitReportRenderer
from linegate.station.engine.pipe import (
    EndReason,
    Events,
    FromWorker,
    GiveUnit,
    PromptReply,
    RecordRow,
    ToWorker,
    Wake,
    Wakeable,
    WantUnit,
    WorkerEnd,
)
from linegate.station.engine.sources import UnitStart
from linegate.station.events import Event, MeasurementTaken, Prompt, PromptAnswered, WorkerStarted
from linegate.station.faults import StationFault, fault_from, write_log
from linegate.station.gate.provisioning import Provisioning
from linegate.station.ledger.journal import Ledger
from linegate.station.loop import StationLoop
from linegate.station.output import salvage_record, write_unit_files
from linegate.station.results.store import ResultsStore

WORKERS_LOCK = "workers.lock"  # every live worker holds it shared; a starting supervisor waits for it


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs, sent to the new process (it must pickle)."""

    config: FixtureConfig  # the station's; the worker opens only ``socket``'s part and the shared instruments
    socket: str
    plan: Plan
    pytest_args: tuple[str, ...]
    run_dir: Path
    lock_dir: Path  # the station's shared instruments' locks
    workers_lock: Path | None = None  # held shared while the worker lives (its station's ledger's)
    ledger_url: str | None = None
    ledger_key: Path | None = None
    retry: RetryPolicy | None = None
    keep_records: bool = False
    results_url: str | None = None  # the station's local results store
    spawned_at: float = 0.0  # time.time() when the supervisor started the process
    env: tuple[tuple[str, str], ...] = ()  # the supervisor's environment then (a forked worker's is the server's)


class _Pipe:
    """The worker's end of its pipe (station/engine/pipe.py). A supervisor that is gone is the end of the worker."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._measurements: list[Event] = []

    def send(self, message: FromWorker) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, EOFError, OSError):
            os._exit(0)

    def recv(self) -> ToWorker:
        try:
            message: ToWorker = self.conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        return message

    def event(self, event: Event) -> None:
        """A step's measurements go with the step's end, in one message (they are told together)."""
        if isinstance(event, MeasurementTaken):
            self._measurements.append(event)
            return
        batch, self._measurements = (*self._measurements, event), []
        self.send(Events(batch))


class _RemoteUnits:
    """The units the supervisor hands this socket, one at a time."""

    def __init__(self, pipe: _Pipe, spec: WorkerSpec) -> None:
        self.pipe = pipe
        self.spec = spec

    def __iter__(self) -> Iterator[UnitStart]:
        self.pipe.event(WorkerStarted(self.spec.socket, pid=os.getpid(),
                                      startup_s=round(time.time() - self.spec.spawned_at, 4)))
        while True:
            self.pipe.send(WantUnit())
            message = self.pipe.recv()
            while not isinstance(message, GiveUnit):  # an answer to a question that timed out: nobody waits
                message = self.pipe.recv()
            if message.start is None:
                return
            yield message.start


class _SupervisorChannel:
    """The ``operator`` fixture's questions, through the supervisor to the panel or its terminal."""

    def __init__(self, pipe: _Pipe, state: StationState) -> None:
        self.pipe = pipe
        self.state = state

    def ask(self, question: Question) -> Answer:
        unit = self.state.unit
        assert unit is not None
        socket, index = unit.socket, unit.index
        self.pipe.event(Prompt(socket, index=index, prompt_id=question.prompt_id, text=question.text,
                               options=question.options, ask=question.ask, low=question.low, high=question.high,
                               units=question.units, regex=question.regex, image=question.image,
                               timeout_s=question.timeout_s))
        deadline = time.monotonic() + question.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pipe.conn.poll(left):
                self.pipe.event(PromptAnswered(socket, index=index, prompt_id=question.prompt_id, answer="",
                                               who="nobody answered in time"))
                raise OperatorError(f"nobody answered {question.text!r} within {question.timeout_s:g} s")
            message = self.pipe.recv()
            if not isinstance(message, PromptReply) or message.prompt_id != question.prompt_id:
                continue  # a late answer to an earlier question
            value, who = message.value, message.who
            if value is None:
                raise OperatorError(f"{question.text!r}: {who}")
            self.pipe.event(PromptAnswered(socket, index=index, prompt_id=question.prompt_id, answer=value, who=who))
            return Answer(value, who)


class _UnitFiles:
    """The unit's record, HTML report and OpenHTF export, written by the worker; its index row goes to
    the supervisor, which keeps the run's index."""

    def __init__(self, pipe: _Pipe, spec: WorkerSpec) -> None:
        self.pipe = pipe
        self.run_dir = spec.run_dir
        self.keep_records = spec.keep_records
        self._renderer = UnitReportRenderer()
        self.results = ResultsStore(spec.results_url, create=False) if spec.results_url else None

    def __call__(self, record: UnitRecord) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        json_path, _ = write_unit_files(self.run_dir, record, self._renderer, self.results)
        self.pipe.send(RecordRow(IndexRow.of(0, record), record if self.keep_records else None))
        return json_path

    def salvage(self, record: UnitRecord) -> None:
        salvage_record(self.run_dir, record)


def _die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux): the fork server, which ends with the supervisor,
    so no worker outlives its station."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the supervisor died before the call above
        os._exit(0)


def _abort(signum: int, frame: object) -> NoReturn:
    """SIGTERM from the supervisor: stop as Ctrl-C does (the unit is ABORTED, with its record)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def hold_workers_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd  # held until the process ends, however it ends


def main(spec: WorkerSpec, conn: Connection) -> None:
    """The worker process's entry point."""
    _die_with_parent()
    if spec.env:
        os.environ.clear()
        os.environ.update(spec.env)
    if spec.workers_lock is not None:
        hold_workers_lock(spec.workers_lock)
    signal.signal(signal.SIGTERM, _abort)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the supervisor
    pipe = _Pipe(conn)                            # alone acts on it, and stops each worker once (SIGTERM)
    try:
        _work(spec, pipe)
    except KeyboardInterrupt:
        pass
    except JigError as e:
        pipe.send(WorkerEnd(EndReason.JIG, str(e)))
    except Exception as e:  # outside any step: the worker dies; its unit is recorded, it is restarted
        _crash(pipe, spec, fault_from(e, f"socket {spec.socket}'s worker"))
    finally:
        conn.close()


def _crash(pipe: _Pipe, spec: WorkerSpec, fault: StationFault) -> NoReturn:
    """Tell why (the traceback goes to the run folder's log), then die: the supervisor buries the unit."""
    write_log(fault, spec.run_dir)
    pipe.send(WorkerEnd(EndReason.CRASH, fault.sentence, str(fault.log)))
    pipe.conn.close()
    os._exit(70)


def _work(spec: WorkerSpec, pipe: _Pipe) -> None:
    own = [s for s in spec.config.sockets if s.name == spec.socket]
    config = spec.config.model_copy(update={"sockets": tuple(own)})
    ledger = Ledger(spec.ledger_url, key_file=spec.ledger_key) if spec.ledger_url else None
    provisioning = None
    jig: Jig | None = None
    try:
        if ledger is not None and spec.plan.provisioning is not None:
            provisioning = Provisioning.in_worker(spec.plan.provisioning, config.cloud, ledger, retry=spec.retry,
                                                  ask=lambda what: pipe.send(Wake(Wakeable(what))))
            provisioning.set_run_dir(spec.run_dir)
        shared = len(spec.config.sockets) > 1
        # every process of this station on this host (its other sockets' workers, another run of it) takes
        # the station-level instruments through the station's locks
        station_instruments = [name for name, _ in config.instruments.items()]
        locks = InstrumentLocks(spec.lock_dir) if station_instruments else None
        with locks.hold(station_instruments) if locks and shared else nullcontext():
            jig = Jig.open(config)  # *IDN? and error-queue checks: the shared instruments' traffic too
        jig.shares_station_instruments = shared
        jig.safe_state()  # a restarted worker: whatever its predecessor left on, off
        state = StationState(config=config, plan=spec.plan, jig=jig, locks=locks)
        state.operator_channel = _SupervisorChannel(pipe, state)
        loop = StationLoop(state, iter(_RemoteUnits(pipe, spec)), _UnitFiles(pipe, spec), provisioning,
                           events=pipe.event)
        try:
            code = pytest.main(list(spec.pytest_args), plugins=[loop])
        except KeyboardInterrupt:
            code = pytest.ExitCode.INTERRUPTED
        if loop.collect_errors:
            pipe.send(WorkerEnd(EndReason.LINE, loop.collect_errors[0]))
        elif code == pytest.ExitCode.USAGE_ERROR:
            pipe.send(WorkerEnd(EndReason.LINE, f"{spec.plan.path}: pytest refused the plan's station tests"))
        elif loop.fault is not None and loop.fault_outside_units:
            _crash(pipe, spec, loop.fault)
        elif loop.fault is not None:
            pipe.send(WorkerEnd(EndReason.FAULT, loop.fault.sentence, loop.fault.details))
        elif code == pytest.ExitCode.INTERRUPTED:
            pipe.send(WorkerEnd(EndReason.STOPPED))
    finally:
        if jig is not None:
            jig.close()
        if provisioning is not None:
            provisioning.stop()
        if ledger is not None:
            ledger.close()
