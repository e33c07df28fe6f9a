"""The supervisor: one worker process per socket, the next unit to whichever socket is free.

The supervisor owns what there is one of per station: the unit source, the ledger's background work
(pool refill, commit drain), the run's outputs (index, lot, JUnit), the event stream and its views,
and the watchdog. A worker that dies (an exception outside a step, SIGKILL, a segfault) or hangs in a
step past its deadline and a grace period (killed here) has its unit recorded ERROR, that unit's
identity recovered, and is restarted, which puts the socket's instruments in their safe state; the
other sockets go on testing.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, assert_never

from linegate.fixtures.config import FixtureConfig
from linegate.fixtures.jig import JigError
from linegate.plans import Plan
from linegate.station.engine import worker
from linegate.station.engine.feeder import UnitFeeder
from linegate.station.engine.options import NO_SERVICES, LineOptions, StationServices
from linegate.station.engine.pipe import (
    AnswerFor,
    EndReason,
    Events,
    FromWorker,
    GiveUnit,
    InboxMessage,
    RecordRow,
    StopRequest,
    Wake,
    Wakeable,
    WantUnit,
    WorkerEnd,
)
from linegate.station.engine.processes import death, kill, send, worker_context
from linegate.station.engine.prompts import Inbox, OpenPrompts, TerminalPrompts
from linegate.station.engine.sockets import Slot, SocketPhase, UnitTrace
from linegate.station.engine.sources import UnitSource, UnitStart
from linegate.station.events import (
    Event,
    Prompt,
    PromptAnswered,
    RecordWritten,
    Verdict,
    WorkerDied,
    WorkerStarted,
)
from linegate.station.faults import StationFault, fault_from
from linegate.station.gate.provisioning import Provisioning
from linegate.station.gate.recovery import recover
from linegate.station.ledger.probe import DutProbe
from linegate.station.output import RunWriter

DUT_SETTLE_S = 0.3  # before looking at a dead worker's DUT: the last command sent may still be executing
MAX_DEATHS_IN_A_ROW = 3  # a socket whose worker dies this often without finishing a unit is retired
STOP_WAIT_S = 30.0  # on a stop, how long the workers have to record their units' ABORTED


class LineStopped(Exception):
    """A worker found the line cannot run (its plan's station tests do not load): one line."""


class Supervisor:
    def __init__(self, config: FixtureConfig, plan: Plan, *, units: UnitSource, probe: DutProbe | None,
                 writer: RunWriter, pytest_args: list[str], lock_dir: Path, workers_lock: Path | None = None,
                 provisioning: Provisioning | None = None, options: LineOptions,
                 services: StationServices = NO_SERVICES) -> None:
        self.config = config
        self.plan = plan
        self.units = units
        self.probe = probe
        self.writer = writer
        self.provisioning = provisioning
        self.ledger = ledger = services.ledger
        self.events = events = services.events
        if events is not None and callable(bind := getattr(units, "bind_events", None)):
            bind(events)  # a source that waits for scans tells the views when a socket takes one
        self.grace_s = options.grace_s
        self.slots = {s.name: Slot(s.name) for s in config.sockets}
        self.fault: StationFault | None = None
        self.line_error: str | None = None
        self.jig_error: str | None = None
        self.aborted = False
        self.stopping = False
        self._killed_for: dict[str, str] = {}
        self._last_death = ""
        self._errors: dict[str, EndReason] = {}  # socket -> why its worker said it ended
        self._ctx = worker_context()
        self.feeder = UnitFeeder(units)
        self.inbox = Inbox()
        self.prompts = OpenPrompts(self.inbox)
        self._stopped_sockets: set[str] = set()
        self.panel = False  # a panel answers questions (set by the caller that serves one)
        self.operator: str | None = None  # the name entered at the panel: every unit's record from now
        self._terminal: TerminalPrompts | None = None
        self._spec = worker.WorkerSpec(
            config=config, socket="", plan=plan, pytest_args=tuple(pytest_args), run_dir=writer.run_dir,
            lock_dir=lock_dir, workers_lock=workers_lock,
            ledger_url=ledger.url if ledger is not None and provisioning is not None else None,
            ledger_key=ledger.key_file if ledger is not None else None,
            retry=provisioning.retry if provisioning is not None else None, keep_records=options.keep_records,
            results_url=writer.results.url if writer.results is not None else None)

    # -- the run -------------------------------------------------------------------------
    def run(self) -> None:
        """Until every socket's worker has ended; a KeyboardInterrupt (Ctrl-C, SIGTERM) stops the workers,
        each recording its unit ABORTED, and sets ``aborted``."""
        try:
            for slot in self.slots.values():
                self._spawn(slot)
            while any(slot.live for slot in self.slots.values()):
                self._step(0.1)
        except KeyboardInterrupt:
            self.aborted = True
            self._stop_workers()
        finally:
            self.close()
            self.feeder.close()
            self.inbox.close()
        if self.line_error is not None:
            raise LineStopped(self.line_error)
        if self.jig_error is not None:
            raise JigError(self.jig_error)

    def _step(self, timeout: float) -> None:
        live = [s for s in self.slots.values() if s.live and s.conn is not None and s.process is not None]
        waitables: list[Any] = [s.conn for s in live] + [s.process.sentinel for s in live if s.process]
        ready = wait([*waitables, self.feeder.answers, self.inbox.conn], timeout=timeout)
        if self.feeder.answers in ready:
            self._unit_for(*self.feeder.take())
        if self.inbox.conn in ready:
            self._from_inbox(self.inbox.take())
        for slot in live:
            if slot.conn in ready:
                self._read(slot)
        for slot in live:
            assert slot.process is not None
            if slot.process.sentinel in ready:
                self._read(slot)  # what it sent before it ended
                self._ended(slot)
        self._watch()

    def _spawn(self, slot: Slot) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        spec = replace(self._spec, socket=slot.socket, spawned_at=time.time(), env=tuple(os.environ.items()))
        process = self._ctx.Process(target=worker.main, args=(spec, child), name=f"linegate-socket-{slot.socket}",
                                    daemon=True)
        process.start()
        child.close()
        slot.process, slot.conn, slot.pid, slot.trace = process, parent, process.pid or 0, None

    # -- messages ------------------------------------------------------------------------
    def _read(self, slot: Slot) -> None:
        conn = slot.conn
        assert conn is not None
        try:
            while conn.poll():
                self._handle(slot, conn.recv())
        except (EOFError, OSError):
            pass

    def _handle(self, slot: Slot, message: FromWorker) -> None:
        match message:
            case WantUnit():
                self._next_unit(slot)
            case Events(events):
                for event in events:
                    self._event(slot, event)
            case RecordRow(row, record):
                self.writer.add(row, record)
            case Wake(what):
                self._wake(what)
            case WorkerEnd():
                self._worker_error(slot, message)
            case _:
                assert_never(message)

    def _wake(self, what: Wakeable) -> None:
        prov = self.provisioning
        if prov is None:
            return
        thread = prov.pool if what is Wakeable.POOL else prov.drain
        if thread is not None:
            thread.wake()

    def _next_unit(self, slot: Slot) -> None:
        if slot.trace is not None and slot.trace.told:  # a whole unit, and the worker lived on
            slot.deaths_in_a_row = 0
        slot.trace = None
        if self.stopping:
            self._give(slot, None)
        elif slot.held is not None:  # loaded for a worker that died before it got it
            start, slot.held = slot.held, None
            self._give(slot, start)
        else:
            slot.asked_by = slot.pid
            self.feeder.ask(slot.socket)

    def _unit_for(self, socket: str, start: UnitStart | Exception | None) -> None:
        slot = self.slots[socket]
        if isinstance(start, Exception):
            self.fault = self.fault or fault_from(start, f"the unit source ({type(self.units).__name__})")
            self.stopping = True
            start = None
        if slot.asked_by != slot.pid or not slot.live:
            slot.held = start  # its worker died meanwhile: the unit waits in the socket for the new one
            return
        self._give(slot, start)

    def _give(self, slot: Slot, start: UnitStart | None) -> None:
        assert slot.conn is not None
        if start is not None and self.operator:
            start = replace(start, operator=self.operator)
        if start is None:
            slot.trace = None
            slot.move(SocketPhase.FINISHING)
        else:
            slot.trace = UnitTrace(start)
            slot.move(SocketPhase.TESTING)
        send(slot.conn, GiveUnit(start))

    def _event(self, slot: Slot, event: Event) -> None:
        if isinstance(event, WorkerStarted):
            slot.pid = event.pid
        elif isinstance(event, Prompt):
            self._asked(event)
        elif isinstance(event, PromptAnswered):
            self.prompts.closed(event.prompt_id)
        if slot.trace is not None:
            slot.trace.see(event, self.plan, self.grace_s)
        self._tell(event)

    def _asked(self, prompt: Prompt) -> None:
        self.prompts.opened(prompt)
        if not self.panel and not TerminalPrompts.available():
            self.prompts.nobody(prompt)
        elif TerminalPrompts.available():
            if self._terminal is None:
                self._terminal = TerminalPrompts(self.prompts)
            self._terminal.put(prompt)

    def request_stop(self, socket: str | None = None) -> tuple[bool, str]:
        """From any thread: stop ``socket`` (its unit ABORTED, the socket out of service) or the station."""
        if socket is not None and socket not in self.slots:
            return False, f"no socket {socket!r}"
        self.inbox.post(StopRequest(socket))
        return True, ""

    def _from_inbox(self, message: InboxMessage) -> None:
        match message:
            case AnswerFor(socket, answer):
                slot = self.slots[socket]
                if slot.conn is not None and slot.live:
                    send(slot.conn, answer)
            case StopRequest(socket):
                if socket is None:
                    raise KeyboardInterrupt  # the station's stop: as Ctrl-C, each socket's unit ABORTED
                slot = self.slots[socket]
                self._stopped_sockets.add(slot.socket)
                if slot.live and slot.process is not None and slot.process.pid:
                    os.kill(slot.process.pid, signal.SIGTERM)
            case _:
                assert_never(message)

    def _tell(self, event: Event) -> None:
        if self.events is not None:
            self.events(event)

    def _worker_error(self, slot: Slot, end: WorkerEnd) -> None:
        kind, sentence, details = end.reason, end.sentence, end.details
        self._errors[slot.socket] = kind
        if kind is EndReason.JIG:
            self._last_death = f"socket {slot.socket}'s jig did not open again: {sentence}"
        if kind is EndReason.CRASH:  # it dies next: buried and restarted, for this reason (``details``: its log file)
            self._killed_for[slot.socket] = f"socket {slot.socket}'s worker failed outside a step: {sentence} " \
                                            f"(details in {details})"
            self._last_death = f"socket {slot.socket}'s worker failed outside a step: {sentence}"
            return
        if kind is EndReason.LINE:
            self.line_error = self.line_error or sentence
        elif kind is EndReason.JIG and not self._ever_tested(slot):
            self.jig_error = self.jig_error or sentence
        elif kind is EndReason.FAULT and self.fault is None:
            self.fault = StationFault(sentence, details)
        elif kind is EndReason.STOPPED and slot.socket in self._stopped_sockets:
            return  # this socket alone was stopped: the others go on
        elif kind is EndReason.STOPPED:
            self.aborted = True
        if kind is not EndReason.JIG or self.jig_error is not None:
            self.stopping = True  # the other sockets finish their unit and get no other

    def _ever_tested(self, slot: Slot) -> bool:
        return slot.deaths_in_a_row > 0 or any(row.socket == slot.socket for row in self.writer.rows)

    # -- ends, deaths and the watchdog ---------------------------------------------------
    def _ended(self, slot: Slot) -> None:
        assert slot.process is not None
        slot.process.join(5)
        code = slot.process.exitcode
        error = self._errors.pop(slot.socket, None)
        killed_for = self._killed_for.pop(slot.socket, None)
        if code == 0 and killed_for is None and (slot.phase is SocketPhase.FINISHING or error in (
                EndReason.LINE, EndReason.FAULT, EndReason.STOPPED)):
            slot.move(SocketPhase.EXITED)
            return
        if error is EndReason.JIG:  # its jig would not open again: the socket is out of service
            slot.move(SocketPhase.DEAD)
            slot.move(SocketPhase.RETIRED)
            self._tell(WorkerDied(slot.socket, reason=self._last_death, pid=slot.pid))
            self._if_none_left()
            return
        why = killed_for or death(slot.socket, code)
        if error is not EndReason.CRASH:
            self._last_death = why
        slot.move(SocketPhase.DEAD)
        self._bury(slot, why)
        slot.deaths_in_a_row += 1
        if self.stopping or slot.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW:
            slot.move(SocketPhase.RETIRED)
            self._if_none_left()
            return
        slot.move(SocketPhase.STARTING)
        self._spawn(slot)

    def _if_none_left(self) -> None:
        if not any(s.live for s in self.slots.values()) and not self.stopping and self.fault is None:
            self.fault = StationFault(f"every socket is out of service, the line cannot go on; the last worker "
                                      f"death: {self._last_death}")

    def _bury(self, slot: Slot, why: str) -> None:
        """The dead worker's unit: recorded ERROR (unless its record was already written), its identity
        recovered (only that unit's: the other sockets' are theirs), the death told."""
        trace = slot.trace
        slot.trace = None
        index = 0
        prov = self.provisioning
        if trace is not None and trace.mac and prov is not None:
            if self.probe is not None:  # the DUT may still be running what the worker sent just before it died
                time.sleep(DUT_SETTLE_S)
            recover(prov.gate, self.probe, mac=trace.mac)
        if trace is not None and not trace.told:
            index = trace.start.index
            snapshot = prov.gate.snapshot(trace.mac, why) if prov is not None else None
            record = trace.lost(self.config, self.plan, why, snapshot)
            path = self.writer(record)
            self._tell(Verdict(slot.socket, index=index, outcome=record.outcome.value,
                               failure=record.failure.message if record.failure else "",
                               commit_status=snapshot.commit_status.value if snapshot else None,
                               serial=record.unit.get("serial"), mac=record.unit.get("mac", "")))
            if self.ledger is not None and prov is not None:
                key = trace.mac or (f"sn:{record.unit['serial']}" if record.unit.get("serial") else None)
                if key:
                    self.ledger.checkpoint("recorded")
                    self.ledger.unit_finished(key, record.outcome.value, record.record_id, record.unit.get("serial"),
                                              record_path=str(path))
            self._tell(RecordWritten(slot.socket, index=index, record_id=record.record_id, path=str(path)))
        self._tell(WorkerDied(slot.socket, reason=why, pid=slot.pid, index=index))

    def _watch(self) -> None:
        now = time.monotonic()
        for slot in self.slots.values():
            trace = slot.trace
            if slot.phase is not SocketPhase.TESTING or trace is None or trace.deadline is None or \
                    now < trace.deadline or slot.socket in self._killed_for:
                continue
            self._killed_for[slot.socket] = f"step {trace.step} exceeded {trace.timeout_s:g} s (its worker was " \
                                            f"stopped {self.grace_s:g} s later)"
            kill(slot)

    def _stop_workers(self) -> None:
        """Each worker records its unit ABORTED and ends; one that does not in time is killed."""
        self.stopping = True
        for slot in self.slots.values():
            if slot.live and slot.process is not None and slot.process.pid:
                try:
                    os.kill(slot.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_WAIT_S
        while any(s.live for s in self.slots.values()) and time.monotonic() < deadline:
            try:
                self._step(0.1)
            except KeyboardInterrupt:
                break  # asked again: stop now
        for slot in self.slots.values():
            if slot.live:
                self._killed_for[slot.socket] = "the station was stopped and its worker did not end in time"
                kill(slot)
                self._read(slot)
                self._ended(slot)

    def close(self) -> None:
        for slot in self.slots.values():
            if slot.process is not None and slot.process.is_alive():
                kill(slot)
            if slot.conn is not None:
                slot.conn.close()
