"""The unit loop: one warm pytest session runs the plan once per unit.

A fresh ``pytest.main`` per unit costs over 100 ms of collection and plugin
setup; instead the station collects the plan's station tests once and drives
``pytest_runtest_protocol`` for every unit, keeping session-scoped fixtures
(the open jig) alive between units.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest
from linegate.drivers.dut import DutError, EspAt, SerialLink
from linegate.fixtures.context import STATE, StationState, UnitUnderTest
from linegate.plans import (
    CommitStatus,
    Failure,
    MeasurementRecord,
    Outcome,
    ProvisioningRecord,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from linegate.station.capture import StepCapture
from linegate.station.faults import StationFault, fault_from
from linegate.station.gate.gate import GateResult
from linegate.station.gate.services import UnitFacts
from linegate.station.gate.station import Provisioning
from linegate.station.handler import UnitStart
from linegate.station.record import build_record, provision_step, skipped_step

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def format_transcript(link: SerialLink) -> str:
    """The unit's serial traffic; secret writes were already redacted by the driver."""
    if not link.transcript:
        return ""
    t0 = link.transcript[0].t
    merged: list[tuple[float, str, str]] = []  # reads arrive in fragments: join runs of one direction
    for e in link.transcript:
        if merged and merged[-1][1] == e.direction:
            t, d, text = merged[-1]
            merged[-1] = (t, d, text + e.text)
        else:
            merged.append((e.t, e.direction, e.text))
    return "\n".join(f"{t - t0:9.4f} {d} {text}" for t, d, text in merged)


SKIP_REASON = "not run: an earlier step did not pass"


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
    ) -> None:
        self.state = state
        self.units = units
        self.on_record = on_record
        self.provisioning = provisioning
        self.collect_errors: list[str] = []
        self.records = 0
        self._skip_rest = False
        self._phases: dict[str, list[pytest.TestReport]] = {}
        self._steps: list[StepRecord] = []
        self._capture = StepCapture()
        self._boundaries: dict[pytest.Collector, pytest.Item] = {}
        self.fault: StationFault | None = None  # the station broke: the run stops after this unit

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
        """A fault outside any unit's steps: it stops the run (exit 1), never an exit 0."""
        self._fault(excinfo.value, "station")
        return True  # told once, by the CLI, with the traceback in the run's log file

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self._skip_rest:
            pytest.skip(SKIP_REASON)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._phases.setdefault(report.nodeid, []).append(report)
        if report.when == "teardown":
            self._steps.append(self._step_record(self._phases.pop(report.nodeid)))

    # -- one unit --------------------------------------------------------
    def _run_unit(self, session: pytest.Session, items: list[pytest.Item], start: UnitStart) -> None:
        state = self.state
        unit = state.load_unit(start.socket, start.index, start.serial)
        link = state.jig.duts[start.socket].link if state.jig else None
        if link is not None:
            link.transcript.clear()
        self._steps = []
        self._skip_rest = False
        started = datetime.now(UTC)
        stop_on_failure = state.plan.stop_on_failure if state.plan else True
        aborted = False
        gate = _GateOutcome()
        self._capture.start()
        try:
            for i, item in enumerate(items):
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=self._next_item(items, i))
                if stop_on_failure and self._steps and self._steps[-1].outcome in (
                    StepOutcome.FAIL,
                    StepOutcome.ERROR,
                ):
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
            try:
                self._finish_unit(unit, link, started, aborted, gate)
            except Exception as e:  # the record or the journal could not be written
                self._fault(e, f"unit {start.index} ({unit.identity.get('serial') or start.socket})")

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
        self.records += 1
        try:
            path = self.on_record(record)
        except Exception as e:  # the unit is ERROR: the station could not record it
            self._fault(e, f"writing the record of unit {unit.index}")
            assert self.fault is not None
            failed = record.model_copy(update={"outcome": Outcome.ERROR, "failure": Failure(
                step="record", message=self.fault.sentence)})
            self._journal_unit(unit, failed, None, None)
            self.on_record.salvage(failed)
            return
        self._journal_unit(unit, record, gate.result, path)

    def _fault(self, exc: BaseException, where: str) -> None:
        if self.fault is None:
            ledger = self.provisioning.ledger.shown.removeprefix("sqlite:///") if self.provisioning else "the ledger"
            self.fault = fault_from(exc, where, ledger)

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
        failed = any(s.outcome in (StepOutcome.FAIL, StepOutcome.ERROR) for s in self._steps)
        started_at, t0 = datetime.now(UTC), time.perf_counter()
        out.ran = True
        try:
            mac, why = self._identify(unit, dut)
            if mac is None:
                if failed:
                    return
                result = prov.gate.unidentified(why)
            elif failed:
                note = prov.gate.unit_failed(dut, self._facts(unit, mac))
                if note:
                    unit.facts["identity_taken_back"] = note
                return
            else:
                result = prov.gate.provision(dut, self._facts(unit, mac))
        except Exception as e:
            self._fault(e, f"provisioning gate ({prov.service.name})")
            assert self.fault is not None
            result = prov.gate.faulted(unit.identity.get("mac"), self.fault.sentence)
            if failed:  # the unit's own failure stays its verdict; the fault stops the station
                return
        out.result = result
        if result.record.identity:
            unit.identity[prov.service.id_key] = result.record.identity
        self._steps.append(provision_step(result, started_at, time.perf_counter() - t0, output=self._capture.take()))

    @staticmethod
    def _facts(unit: UnitUnderTest, mac: str) -> UnitFacts:
        return UnitFacts(mac=mac, serial=unit.identity.get("serial"), firmware=unit.facts.get("at_version"))

    @staticmethod
    def _identify(unit: UnitUnderTest, dut: EspAt) -> tuple[str | None, str]:
        """The unit's MAC: as a step recorded it, else read from the DUT. None and why when neither works."""
        mac = unit.identity.get("mac")
        if not mac:
            try:
                mac = dut.mac()
            except DutError as e:
                return None, f"the unit cannot be identified: reading its MAC failed: {e}"
            unit.identity["mac"] = mac
        if problem := _mac_problem(mac):
            return None, f"the unit cannot be identified: its MAC {mac} {problem}"
        return mac, ""

    def _journal_unit(self, unit: UnitUnderTest, record: UnitRecord, result: GateResult | None,
                      path: Path | None) -> None:
        prov = self.provisioning
        serial = unit.identity.get("serial")
        key = unit.identity.get("mac") or (f"sn:{serial}" if serial else None)
        if prov is None or not key or record.outcome is Outcome.ABORTED:
            return
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

    def _step_record(self, phases: list[pytest.TestReport]) -> StepRecord:
        setup = phases[0]
        item_name = setup.nodeid.rsplit("::", 1)[-1]
        name = getattr(setup, "lg_step", None) or item_name
        outcome = StepOutcome.PASS
        message = ""
        measurements: tuple[MeasurementRecord, ...] = ()
        output: list[str] = []
        for report in phases:
            kind = getattr(report, "lg_outcome", "pass")
            if report.when == "call":
                measurements = tuple(getattr(report, "lg_measurements", ()))
            if kind == "skipped" and outcome is StepOutcome.PASS:
                outcome = StepOutcome.SKIPPED
                message = _skip_reason(report)
            elif kind == "fail" and outcome in (StepOutcome.PASS, StepOutcome.SKIPPED):
                outcome, message = StepOutcome.FAIL, getattr(report, "lg_message", "")
            elif kind in ("error", "failed") and outcome is not StepOutcome.ERROR:
                outcome, message = StepOutcome.ERROR, getattr(report, "lg_message", "") or report.longreprtext
            for title, content in report.sections:
                output.append(f"--- {title} ---\n{content}")
            if (report.failed and report.longreprtext and report.when != "call") or kind == "error":
                output.append(report.longreprtext)
        if captured := self._capture.take():
            output.append(captured)
        return StepRecord(
            name=name,
            test=self._test_of(name, setup.nodeid),
            outcome=outcome,
            started_at=datetime.fromtimestamp(setup.start, UTC),
            duration_s=sum(r.duration for r in phases),
            measurements=measurements,
            message=message,
            output="\n".join(output),
        )

    def _test_of(self, name: str, nodeid: str) -> str:
        plan = self.state.plan
        if plan is not None:
            try:
                return plan.step(name).test
            except KeyError:
                pass
        return nodeid


def _mac_problem(mac: str) -> str:
    """Why ``mac`` cannot identify a unit ('' when it can): the ledger keys identities by it."""
    if not _MAC.fullmatch(mac):
        return "is not six hex octets"
    if mac == "00:00:00:00:00:00":
        return "is all zero"
    if int(mac[:2], 16) & 0x01:
        return "is a multicast address"
    return ""


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return SKIP_REASON
