"""PASS on a provisioning plan means provisioned, on every service and every outcome.

- a plan whose steps never read the MAC: the gate reads it from the DUT; a unit it cannot identify fails;
- an exception inside the gate: that unit is ERROR, the station stops (StationFault), the traceback is logged;
- every record: PASS implies commit_status committed/kept/pending, and the record agrees with the ledger;
- a unit stopped during the gate is ABORTED and its record carries what the gate did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from linegate.plans import Outcome, UnitRecord, load_plan
from linegate.station.faults import FAULT_LOG, StationFault
from linegate.station.ledger.journal import Ledger
from linekit import REPO, run_service, with_worker_patch

SERVICES = ["ayla", "yosmart", "enos-dps", "enos-mqtt"]
OK = {"committed", "kept", "pending"}
BROKEN_GATE = """
from linegate.station.gate.gate import Gate

_real, _calls = Gate.provision, []


def _broken(self, dut, facts):
    _calls.append(facts.mac)
    if len(_calls) == 2:
        raise RuntimeError("injected bug in the gate")
    return _real(self, dut, facts)


Gate.provision = _broken
"""
STOPPED_IN_THE_GATE = """
from linegate.station.gate import dut_io

_real = dut_io.ensure


def _stopped_after_the_write(*args, **kwargs):
    _real(*args, **kwargs)
    raise KeyboardInterrupt


dut_io.ensure = _stopped_after_the_write
"""
STOPPED_IN_THE_COMMIT = """
from linegate.station.gate.gate import Gate


def _stopped(self, ident, facts):
    raise KeyboardInterrupt


Gate._call_resolving = _stopped
"""


def plan_without_mac_step(tmp_path: Path, service: str, *, factory_param: bool = True) -> Path:
    """The service's plan with only the link (and factory_param) steps: no step records the MAC."""
    provisioning = (REPO / "plans" / f"esp-at-{service}.yaml").read_text().split("\nprovisioning:", 1)[1]
    plan = tmp_path / "no-mac.yaml"
    plan.write_text(
        f"name: no-mac\nversion: '1'\nstation_tests: {REPO / 'station_tests'}\nsteps:\n"
        "  - name: link\n    test: test_esp_at_module.py::test_link\n    measurements:\n"
        "      - {name: at_ok, equals: true}\n"
        + ("  - name: factory_param\n    test: test_esp_at_module.py::test_factory_param\n    measurements:\n"
           "      - {name: factory_param_readback, equals: true}\n" if factory_param else "")
        + f"provisioning:{provisioning}")
    return plan


def check_against_ledger(records: list[UnitRecord], ledger: Ledger, service: str) -> None:
    for record in records:
        prov = record.provisioning
        if record.outcome is Outcome.PASS:
            assert prov is not None and prov.commit_status in OK, record.unit
        if prov is None or not prov.identity:
            continue
        ident = ledger.find(prov.service, prov.identity)
        assert ident is not None, prov.identity
        if prov.commit_status in ("committed", "kept"):
            assert ident.state == "committed", (prov, ident.state)
        elif prov.commit_status == "pending":
            assert ident.state in ("committed", "committing") or (ident.state == "flashed" and ident.queued), \
                (prov, ident.state)
        elif prov.commit_status == "not_attempted":
            assert ident.state != "committed", (record.unit, prov, ident.state)


@pytest.mark.parametrize("service", SERVICES)
def test_the_gate_reads_the_mac_when_no_step_did(emulator, tmp_path, service, monkeypatch):
    monkeypatch.setattr("linekit.load_plan", lambda _: load_plan(plan_without_mac_step(tmp_path, service)))
    result, ledger = run_service(emulator, service, tmp_path, units=3, fail_share=0.0)
    assert [r.outcome for r in result.records] == [Outcome.PASS] * 3
    for record in result.records:
        assert record.unit.get("mac") and record.provisioning is not None
        assert record.provisioning.commit_status in OK and record.provisioning.identity
    check_against_ledger(result.records, ledger, service)


@pytest.mark.parametrize("service", SERVICES)
def test_a_unit_that_cannot_be_identified_fails_and_takes_nothing(emulator, tmp_path, service, monkeypatch):
    monkeypatch.setattr("linekit.load_plan", lambda _: load_plan(plan_without_mac_step(tmp_path, service)))
    result, ledger = run_service(emulator, service, tmp_path, units=2, fail_share=0.0, faults=("bad-mac",))
    for record in result.records:
        assert record.outcome is Outcome.FAIL
        assert record.failure is not None and "cannot be identified" in record.failure.message
        assert "00:00:00:00:00:00" in record.failure.message
        assert record.provisioning is not None and record.provisioning.commit_status == "not_attempted"
    assert not [i for i in ledger.all() if i.unit_mac], "no identity went to an unidentified unit"


@pytest.mark.parametrize("service", SERVICES)
def test_an_exception_in_the_gate_is_a_station_fault(emulator, tmp_path, service, monkeypatch):
    broken = with_worker_patch(load_plan(REPO / "plans" / f"esp-at-{service}.yaml"), tmp_path, BROKEN_GATE)
    monkeypatch.setattr("linekit.load_plan", lambda _: broken)
    with pytest.raises(StationFault) as caught:
        run_service(emulator, service, tmp_path, units=6, fail_share=0.0)
    fault = caught.value
    assert "injected bug in the gate" in str(fault) and "\n" not in str(fault)
    assert fault.log is not None and fault.log.name == FAULT_LOG
    assert "Traceback" in fault.log.read_text() and "RuntimeError" in fault.log.read_text()
    records = [UnitRecord.model_validate_json(p.read_text()) for p in fault.log.parent.glob("*.json")
               if p.name != "run.json"]
    assert sorted(r.outcome.value for r in records) == ["ERROR", "PASS"], "the station stopped after the fault"
    broken_unit = next(r for r in records if r.outcome is Outcome.ERROR)
    assert broken_unit.provisioning is not None and broken_unit.provisioning.commit_status not in OK
    assert "injected bug" in broken_unit.failure.message
    assert (fault.log.parent / "junit.xml").is_file() and (fault.log.parent / "lot.html").is_file()
    ledger = Ledger(tmp_path / "ledger.db")
    try:
        check_against_ledger(records, ledger, service)
        assert ledger.finished_units()[broken_unit.unit["mac"]] == "ERROR"
    finally:
        ledger.close()


@pytest.mark.parametrize("service", SERVICES)
def test_every_outcome_agrees_with_the_ledger(emulator, tmp_path, service):
    """Failing steps, DUTs that reboot or corrupt the write, and passing units, on one line."""
    faults = {"enos-mqtt": ("reboot-mid-write",)}.get(service, ("flip-byte",))
    result, ledger = run_service(emulator, service, tmp_path / "a", units=8, fail_share=0.3)
    faulty, faulty_ledger = run_service(emulator, service, tmp_path / "b", units=3, seed=7, fail_share=0.0,
                                        faults=faults)
    outcomes = {r.outcome for r in result.records + faulty.records}
    assert {Outcome.PASS, Outcome.FAIL} <= outcomes
    check_against_ledger(result.records, ledger, service)
    check_against_ledger(faulty.records, faulty_ledger, service)


@pytest.mark.parametrize("service", SERVICES)
def test_a_unit_stopped_during_the_gate_is_aborted_with_its_provisioning(emulator, tmp_path, service, monkeypatch):
    stopped = with_worker_patch(load_plan(REPO / "plans" / f"esp-at-{service}.yaml"), tmp_path, STOPPED_IN_THE_GATE)
    monkeypatch.setattr("linekit.load_plan", lambda _: stopped)
    result, ledger = run_service(emulator, service, tmp_path, units=3, fail_share=0.0)
    assert result.aborted and len(result.records) == 1
    record = result.records[0]
    assert record.outcome is Outcome.ABORTED
    assert record.provisioning is not None and record.provisioning.identity
    check_against_ledger(result.records, ledger, service)


@pytest.mark.parametrize("service", SERVICES)
def test_a_dut_that_reboots_during_the_identity_write_is_recorded_as_the_ledger_has_it(emulator, tmp_path, service,
                                                                                     monkeypatch):
    """The write is the gate's first (no factory_param step): EnOS MQTT has registered by then."""
    monkeypatch.setattr("linekit.load_plan",
                        lambda _: load_plan(plan_without_mac_step(tmp_path, service, factory_param=False)))
    result, ledger = run_service(emulator, service, tmp_path, units=2, fail_share=0.0, faults=("reboot-mid-write",))
    for record in result.records:
        assert record.outcome is Outcome.FAIL and record.failure is not None
        assert record.failure.step == "provision"
        prov = record.provisioning
        assert prov is not None and prov.identity
        expected = "committed" if service == "enos-mqtt" else "not_attempted"
        assert prov.commit_status == expected, (prov.commit_status, prov.reason)
    check_against_ledger(result.records, ledger, service)


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps"])
def test_a_unit_stopped_during_its_commit_says_pending_and_the_next_start_commits_it(emulator, tmp_path, service,
                                                                                   monkeypatch):
    stopped = with_worker_patch(load_plan(REPO / "plans" / f"esp-at-{service}.yaml"), tmp_path, STOPPED_IN_THE_COMMIT)
    with monkeypatch.context() as m:
        m.setattr("linekit.load_plan", lambda _: stopped)
        result, ledger = run_service(emulator, service, tmp_path, units=2, fail_share=0.0)
    record = result.records[0]
    assert result.aborted and record.outcome is Outcome.ABORTED
    prov = record.provisioning
    assert prov is not None and prov.commit_status == "pending" and prov.readback_ok
    assert "resolved at the next start" in prov.reason
    assert ledger.find(prov.service, prov.identity).state == "committing"
    ledger.close()
    _again, ledger = run_service(emulator, service, tmp_path, units=2, fail_share=0.0)
    assert ledger.find(prov.service, prov.identity).state == "committed"
