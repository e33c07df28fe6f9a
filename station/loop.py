"""The unit loop: one warm pytest session runs the plan once per unit.

A fresh ``pytest.main`` per unit costs over 100 ms of collection and plugin
setup; instead the station collects the plan's station tests once and drives
``pytest_runtest_protocol`` for every unit, keeping session-scoped fixtures
(the open jig) alive between units.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest
from linegate.drivers.dut import SerialLink
from linegate.fixtures.context import STATE, StationState, UnitUnderTest
from linegate.fixtures.phases import PHASES
from linegate.plans import (
    CommitStatus,
    Outcome,
    ProvisioningRecord,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from linegate.plans.verdict import NOT_PASSED, SKIP_REASON, UnitEnd, stops_the_unit, unit_verdict
from linegate.station.capture import StepCapture
from linegate.station.events import (
    EventSink,
    MeasurementTaken,
    ProvisioningStarted,
    RecordWritten,
    StepFinished,
    StepStarted,
    UnitStarted,
    Verdict,
)
from linegate.station.faults import StationFault, fault_from
from linegate.station.gate.gate import GateResult
from linegate.station.gate.identify import identify, unit_facts
from linegate.station.gate.provisioning import Provisioning
from linegate.station.handler import UnitStart
from linegate.station.record import build_record, provision_step, skipped_step
from linegate.station.steps import format_transcript, step_record


class RecordSink(Protocol):
    """Where unit records go (the run's writer): each unit's files, or the record alone when that failed."""

    def __call__(self, record: UnitRecord) -> Path | None: ...

    def salvage(self, record: UnitRecord) -> None: ...


@dataclass
class _GateOutcome:
    ran: bool = False
    result: GateResult | None = None
    interrupted: ProvisioningRecord | None = None  # the ledger's view when a stop cut the gate short


class _UnitBoundary(pytest.Item):
    """A stand-in next item that is never run (see ``StationLoop._next_item``)."""

    def runtest(self) -> None:
        raise RuntimeError("the unit boundary is not a station test")


class StationLoop:
    """A pytest plugin object; ``linegate run`` registers it with ``pytest.main``."""

    def __init__(
        self,
        state: StationState,
        units: Iterator[UnitStart],
        on_record: RecordSink,
        provisioning: Provisioning | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.state = state
        self.events = events
        self.units = units
        self.on_record = on_record
        self.provisioning = provisioning
        self.collect_errors: list[str] = []
        self._skip_rest = False
        self._steps: list[StepRecord] = []
        self._capture = StepCapture()
        self._boundaries: dict[pytest.Collector, pytest.Item] = {}
        self.fault: StationFault | None = None  # the station broke: the run stops after this unit
        self.fault_outside_units = False  # the fault came from outside any unit's steps, record and gate
        self._current: UnitStart | None = None

    # -- pytest hooks ----------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[STATE] = self.state

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Iterator[None]:
        try:
            return (yield)
        except pytest.UsageError as e:
            # The plan names a station test that is not there: run nothing, say which.
            self.collect_errors.append(str(e))
            items.clear()
            return None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longreprtext).strip().splitlines()
            self.collect_errors.append(f"{report.nodeid}: {text[-1] if text else 'collection failed'}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if self.collect_errors:
            return True  # the caller reports them; no unit runs on a broken plan
        items = session.items
        with self._capture:
            for start in self.units:
                self._run_unit(session, items, start)
                if self.fault is not None:
                    break
        return True

    def pytest_internalerror(self, excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
        """A fault outside any unit's steps: it stops the run (exit 1), never an exit 0 (a socket's worker
        dies instead, and is restarted)."""
        self.fault_outside_units = self.fault is None
        self._fault(excinfo.value, "station")
        return True  # told once, by the CLI, with the traceback in the run's log file

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self._skip_rest:
            pytest.skip(SKIP_REASON)

    def _step_ran(self, item: pytest.Item) -> None:
        """Its phases (fixtures/phases.py, from the item's stash) made into its record."""
        phases = item.stash.get(PHASES, [])
        if PHASES in item.stash:
            del item.stash[PHASES]
        if phases and phases[-1].when == "teardown":
            self._step_done(step_record(self._plan_step(item)[0], item.nodeid, phases, self.state.plan,
                                        self._capture.take()))

    def _step_done(self, step: StepRecord) -> None:
        self._steps.append(step)
        if self.events is None or self._current is None:
            return
        socket, index = self._current.socket, self._current.index
        for m in step.measurements:
            self.events(MeasurementTaken(socket, index=index, step=step.name, name=m.name, value=m.value,
                                         units=m.units, limit=m.limit, status=m.status.value))
        self.events(StepFinished(socket, index=index, step=step.name, outcome=step.outcome.value,
                                 duration_s=step.duration_s, message=step.message))

    # -- one unit --------------------------------------------------------
    def _run_unit(self, session: pytest.Session, items: list[pytest.Item], start: UnitStart) -> None:
        state = self.state
        unit = state.load_unit(start.socket, start.index, start.serial)
        unit.operator = start.operator
        unit.retest = start.retest
        self._current = start
        if start.bench is not None and state.jig is not None:
            start.bench(state.jig)
        if self.events is not None:
            self.events(UnitStarted(start.socket, index=start.index, serial=start.serial, steps=len(items)))
        link = state.jig.duts[start.socket].link if state.jig else None
        if link is not None:
            link.transcript.clear()
        self._steps = []
        self._skip_rest = False
        started = datetime.now(UTC)
        aborted = False
        gate = _GateOutcome()
        self._capture.start()
        try:
            for i, item in enumerate(items):
                if self.events is not None:
                    self.events(StepStarted(start.socket, index=start.index, step=self._plan_step(item)[0],
                                            number=i + 1, of=len(items)))
                item.stash[PHASES] = []  # this unit's run of the step only
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=self._next_item(items, i))
                self._step_ran(item)
                if self._steps and stops_the_unit(self._steps[-1], state.plan):
                    self._skip_rest = True
            if self.provisioning is not None:
                self._gate(unit, start.socket, gate)
        except KeyboardInterrupt:
            aborted = True
            done = {s.name for s in self._steps}
            for item in items:
                step = self._plan_step(item)
                if step[0] not in done:
                    self._steps.append(skipped_step(*step, "not run: the operator stopped the station"))
            if gate.ran and gate.result is None and self.provisioning is not None:
                gate.interrupted = self.provisioning.gate.snapshot(unit.identity.get("mac"),
                                                                   "the station was stopped during provisioning")
            raise
        finally:
            if not aborted:
                self._unrecorded_steps(items)
            try:
                self._finish_unit(unit, link, started, aborted, gate)
            except Exception as e:  # the record or the journal could not be written
                self._fault(e, f"unit {start.index} ({unit.identity.get('serial') or start.socket})")

    def _unrecorded_steps(self, items: list[pytest.Item]) -> None:
        """A step the station broke in (a failing hook, a fault between steps) has no record of its own:
        it is ERROR, so the unit cannot pass without every step of its plan recorded."""
        done = {s.name for s in self._steps}
        for item in items:
            name, test = self._plan_step(item)
            if name not in done:
                self._steps.append(skipped_step(name, test, "not recorded: the station failed during or before "
                                                "this step").model_copy(update={"outcome": StepOutcome.ERROR}))

    def _finish_unit(self, unit: UnitUnderTest, link: SerialLink | None, started: datetime, aborted: bool,
                     gate: _GateOutcome) -> None:
        state = self.state
        self._capture.stop()
        if unclaimed := self._capture.take():  # not a step's: the gate taking back a failed unit's identity...
            unit.attach("station-output.txt", unclaimed)
        if state.jig is not None and (problems := state.jig.safe_state()):  # logged there, on the console now
            unit.facts["safe_state"] = "; ".join(problems)
        if link is not None and link.transcript:
            unit.attach("serial-transcript.txt", format_transcript(link))
        provisioning = gate.result.record if gate.result else gate.interrupted
        record = build_record(state, unit, self._steps, started, aborted=aborted, provisioning=provisioning)
        try:
            path = self.on_record(record)
        except Exception as e:  # the unit is ERROR: the station could not record it
            self._fault(e, f"writing the record of unit {unit.index}")
            assert self.fault is not None
            outcome, failure = unit_verdict(record.steps, UnitEnd.NOT_RECORDED, why=self.fault.sentence)
            failed = record.model_copy(update={"outcome": outcome, "failure": failure})
            self._verdict(failed)
            self._journal_unit(unit, failed, None, None)
            self.on_record.salvage(failed)
            return
        self._verdict(record)  # once the record is on disk: the verdict told is the one recorded
        self._journal_unit(unit, record, gate.result, path)
        if self.events is not None and path is not None:
            self.events(RecordWritten(unit.socket, index=unit.index, record_id=record.record_id, path=str(path)))

    def _verdict(self, record: UnitRecord) -> None:
        if self.events is None:
            return
        self.events(Verdict(record.station.socket, index=self._current.index if self._current else 0,
                            outcome=record.outcome.value, failure=record.failure.message if record.failure else "",
                            commit_status=record.provisioning.commit_status.value if record.provisioning else None,
                            serial=record.unit.get("serial"), mac=record.unit.get("mac", "")))

    def _fault(self, exc: BaseException, where: str) -> None:
        if self.fault is None:
            self.fault = fault_from(exc, where, self.provisioning.ledger.shown if self.provisioning else "the ledger")

    def _next_item(self, items: list[pytest.Item], i: int) -> pytest.Item:
        """What pytest tears down to after step ``i``: only function-scoped fixtures between units.

        The next unit starts again at ``items[0]``. When that is the same item (a one-step plan)
        pytest would keep the item set up and skip filling its fixtures next time: the boundary, a
        sibling that never runs, makes it tear the item down.
        """
        nextitem = items[i + 1] if i + 1 < len(items) else items[0]
        if nextitem is not items[i]:
            return nextitem
        parent = items[i].parent
        assert parent is not None  # a collected test function lives in a module
        boundary = self._boundaries.get(parent)
        if boundary is None:
            boundary = self._boundaries[parent] = _UnitBoundary.from_parent(parent, name="<next unit>")
        return boundary

    # -- provisioning --------------------------------------------------------
    def _gate(self, unit: UnitUnderTest, socket: str, out: _GateOutcome) -> None:
        """After the plan: provision a unit that passed; take back what a failed one holds.

        A unit the gate cannot identify fails; an exception inside the gate is a station fault: the
        unit is ERROR and the station stops after recording it.
        """
        prov = self.provisioning
        assert prov is not None and self.state.jig is not None
        dut = self.state.jig.duts[socket]
        failed = any(s.outcome in NOT_PASSED for s in self._steps)
        started_at, t0 = datetime.now(UTC), time.perf_counter()
        out.ran = True
        try:
            mac, why = identify(unit, dut)
            if mac is not None and self.events is not None:
                self.events(ProvisioningStarted(socket, index=unit.index, mac=mac))
            if mac is None:
                if failed:
                    return
                result = prov.gate.unidentified(why)
            elif failed:
                note = prov.gate.unit_failed(dut, unit_facts(unit, mac))
                if note:
                    unit.facts["identity_taken_back"] = note
                return
            else:
                result = prov.gate.provision(dut, unit_facts(unit, mac))
        except Exception as e:
            self._fault(e, f"provisioning gate ({prov.service.name})")
            assert self.fault is not None
            result = prov.gate.faulted(unit.identity.get("mac"), self.fault.sentence)
            if failed:  # the unit's own failure stays its verdict; the fault stops the station
                return
        out.result = result
        if result.record.identity:
            unit.identity[prov.service.id_key] = result.record.identity
        self._step_done(provision_step(result, started_at, time.perf_counter() - t0, output=self._capture.take()))

    def _journal_unit(self, unit: UnitUnderTest, record: UnitRecord, result: GateResult | None,
                      path: Path | None) -> None:
        prov = self.provisioning
        serial = unit.identity.get("serial")
        key = unit.identity.get("mac") or (f"sn:{serial}" if serial else None)
        if prov is None or not key or record.outcome is Outcome.ABORTED:
            return
        prov.ledger.checkpoint("recorded")
        ident = result.ident if result is not None and path is not None else None
        fresh = prov.ledger.unit_finished(key, record.outcome.value, record.record_id, serial, ident=ident,
                                          record_path=str(path) if path else None)
        pending = result is not None and result.record.commit_status is CommitStatus.PENDING
        if fresh is not None and pending and fresh.state == "committed":
            prov.committed_later(fresh)  # the background commit beat the record to disk

    def _plan_step(self, item: pytest.Item) -> tuple[str, str]:
        from linegate.fixtures.plugin import STEP

        name = item.stash.get(STEP, item.name)
        test = self.state.plan.step(name).test if self.state.plan else item.nodeid
        return name, test
