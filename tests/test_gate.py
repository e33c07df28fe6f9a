"""The provisioning gate end to end: simulated DUTs on ptys, real HTTP/MQTT to the emulators, a real ledger."""

from __future__ import annotations

import json

import pytest
from cloudkit import sim_state
from linegate.fixtures.sim.unit import SimUnit
from linegate.plans import Outcome
from linegate.station.ledger.schema import COMMITTED, FLASHED, RELEASED
from linekit import invariants, run_service

CLEAN = {"lost": 0, "duplicated": 0, "double_committed": 0, "details": []}


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps", "enos-mqtt"])
def test_only_passing_units_are_committed_once(emulator, tmp_path, service):
    result, ledger = run_service(emulator, service, tmp_path, units=8)
    passed = [r for r in result.records if r.outcome is Outcome.PASS]
    failed = [r for r in result.records if r.outcome is not Outcome.PASS]
    assert passed and failed
    for r in passed:
        assert r.provisioning.commit_status == "committed" and r.provisioning.readback_ok
        assert r.steps[-1].name == "provision"
    assert all(r.provisioning is None for r in failed)  # a failing unit never reaches the gate
    committed = {i.unit_mac for i in ledger.all() if i.state == COMMITTED}
    assert committed == {r.unit["mac"] for r in passed}
    assert invariants(ledger, emulator, tmp_path) == CLEAN
    # What the cloud holds, and what the DUTs hold, is what the records say.
    for r in passed:
        unit = SimUnit.load(tmp_path / f"dut-{r.unit['mac'].replace(':', '')}.json")
        ns = {"ayla": "ayla", "yosmart": "yosmart"}.get(service, "enos")
        assert r.provisioning.identity.encode() in [v for _, v in unit.nvs[ns].values()]


def test_record_shows_provisioning_without_secrets(emulator, tmp_path):
    result, ledger = run_service(emulator, "ayla", tmp_path, units=4)
    record = next(r for r in result.records if r.outcome is Outcome.PASS)
    prov = record.provisioning
    assert [w.key for w in prov.written] == ["dsn", "public_key", "private_key"]
    private = next(w for w in prov.written if w.key == "private_key")
    assert private.secret and private.shown.startswith("<redacted") and private.readback_ok
    assert prov.response["manufacture"] == "ok" and prov.attempts >= 1 and "commit" in prov.timings_ms
    key = ledger.secret(ledger.find("ayla", prov.identity)).decode()
    body = key.splitlines()[1]
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert body not in path.read_text(errors="replace"), path
    log = next((tmp_path / "out").rglob("ayla-factory-log.csv")).read_text().splitlines()
    assert any(f",label,0,AY001MTP1,{prov.identity}," in line for line in log)
    assert any(f",config,0,AY001MTP1,{prov.identity}," in line for line in log)


def test_a_retested_unit_keeps_its_identity(emulator, tmp_path):
    first, ledger = run_service(emulator, "ayla", tmp_path, units=4)
    passed = [r for r in first.records if r.outcome is Outcome.PASS]
    ledger.close()
    # The same units again (a fresh line, the DUT state files kept): no new reservation, no second commit.
    for path in tmp_path.glob("out/run-*"):
        path.rename(path.with_name(path.name + "-first"))
    from linegate.station.ledger.journal import Ledger

    Ledger(tmp_path / "ledger.db").engine.dispose()
    reserved_before = len(sim_state(emulator)["ayla"]["devices"])
    import sqlite3

    db = sqlite3.connect(tmp_path / "ledger.db")
    db.execute("UPDATE units SET outcome = NULL")  # forget that they were done: they come round again
    db.commit()
    db.close()
    again, ledger = run_service(emulator, "ayla", tmp_path, units=4)
    again_passed = [r for r in again.records if r.outcome is Outcome.PASS]
    assert {r.provisioning.identity for r in again_passed} == {r.provisioning.identity for r in passed}
    assert {r.provisioning.commit_status for r in again_passed} == {"kept"}
    assert len(sim_state(emulator)["ayla"]["devices"]) == reserved_before
    assert invariants(ledger, emulator, tmp_path) == CLEAN


def test_a_dut_holding_an_unknown_identity_is_failed_not_overwritten(emulator, tmp_path):
    _result, ledger = run_service(emulator, "ayla", tmp_path, units=2)
    ledger.close()
    (tmp_path / "ledger.db").unlink()  # a different station's ledger, or a unit from elsewhere
    (tmp_path / "ledger.db-wal").unlink(missing_ok=True)
    (tmp_path / "ledger.key").unlink()  # a fresh ledger starts with its own key
    again, _ = run_service(emulator, "ayla", tmp_path, units=2)
    held = [r for r in again.records if r.steps[-1].name == "provision"]
    assert held and held[0].outcome is Outcome.FAIL
    assert "already holds ayla identity" in held[0].failure.message
    assert "the ledger does not know it" in held[0].failure.message


def test_readback_mismatch_fails_the_unit_and_releases_the_identity(emulator, tmp_path):
    # A bad flash sector where the identity goes: the plan passes, the identity does not read back.
    result, ledger = run_service(emulator, "ayla", tmp_path, units=3, fail_share=0.0, faults=("flip-identity",))
    assert all(r.outcome is Outcome.FAIL for r in result.records)
    prov_steps = [r for r in result.records if r.provisioning is not None]
    assert len(prov_steps) == 3
    for r in prov_steps:
        assert r.provisioning.commit_status == "not_attempted" and not r.provisioning.readback_ok
        assert r.failure.step == "provision" and "read-back differs" in r.failure.message
        assert "erased and released" in r.provisioning.reason
    states = {i.state for i in ledger.all()}
    assert COMMITTED not in states and FLASHED not in states and RELEASED in states
    assert sim_state(emulator)["ayla"]["devices"] and all(
        d["status"] == "reserved" for d in sim_state(emulator)["ayla"]["devices"])


def test_commits_wait_for_the_service_and_drain_in_order(emulator, tmp_path):
    emulator.faults.queue("5xx", service="ayla", operation="manufacture", times=4)  # one commit's retries
    result, ledger = run_service(emulator, "ayla", tmp_path, units=6)
    passed = [r for r in result.records if r.outcome is Outcome.PASS]
    assert passed, "units pass while the service is away"
    # The run's end drains what is queued (the service answers again once the faults are used up).
    committed = [i for i in ledger.all() if i.state == COMMITTED]
    assert len(committed) == len(passed)
    pending_then = [r for r in passed if r.provisioning.commit_status == "pending"]
    assert pending_then, "at least one commit had to wait"
    for r in pending_then:
        on_disk = json.loads(next((tmp_path / "out").rglob(f"{r.stem}.json")).read_text())
        assert on_disk["provisioning"]["commit_status"] == "committed"  # the record was updated
        assert "committed" in next((tmp_path / "out").rglob(f"{r.stem}.html")).read_text()
    assert invariants(ledger, emulator, tmp_path) == CLEAN


def test_mqtt_unavailable_is_an_error_and_can_be_rerun(emulator, tmp_path):
    emulator.faults.queue("code:714", service="enos-mqtt", times=1)
    result, ledger = run_service(emulator, "enos-mqtt", tmp_path, units=3)
    errored = [r for r in result.records if r.outcome is Outcome.ERROR]
    assert errored and errored[0].provisioning.code == "714"
    assert ledger.find("enos-mqtt", errored[0].provisioning.identity).state in (RELEASED, "needs_attention")


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps", "enos-mqtt"])
def test_no_issued_secret_reaches_reports_or_logs(emulator, tmp_path, service, caplog, capsys):
    from cloudkit import secrets_of

    caplog.set_level("DEBUG")
    result, ledger = run_service(emulator, service, tmp_path, units=6)
    assert any(r.outcome is Outcome.PASS for r in result.records)
    values = list(secrets_of(emulator))
    for ident in ledger.all():
        secret = ledger.secret(ident)
        if secret:
            text = secret.decode()
            values += [line for line in text.splitlines() if len(line) > 20 and "-----" not in line] or [text]
    assert len(values) > len(secrets_of(emulator)) or service in ("yosmart", "enos-dps")
    captured = capsys.readouterr()
    haystacks = [captured.out, captured.err, caplog.text]
    haystacks += [p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()]
    for value in values:
        for text in haystacks:
            assert value not in text


def test_a_module_rebooting_during_the_key_write_fails_and_gives_the_identity_back(emulator, tmp_path):
    # The gate alone on one module (reboot-mid-write would already fail the plan's factory_param step).
    from linegate.drivers.dut import EspAt
    from linegate.fixtures.cloud_account import CloudAccount
    from linegate.fixtures.sim.esp_at import SimEspAt
    from linegate.fixtures.sim.unit import SimUnit
    from linegate.plans.provisioning import ProvisioningSpec
    from linegate.station.gate.provisioning import Provisioning
    from linegate.station.gate.services import UnitFacts
    from linegate.station.ledger.journal import Ledger

    unit = SimUnit(mac="24:0a:c4:00:00:01", chip_id="c1", faults=frozenset({"reboot-mid-write"}))
    server = SimEspAt(unit, link=tmp_path / "pty").start()
    ledger = Ledger(tmp_path / "ledger.db")
    spec = ProvisioningSpec.model_validate({"service": "ayla", "ayla": {"model": "AY001MTP1"}})
    prov = Provisioning(spec, CloudAccount.from_emulator(emulator.info()), ledger).start()
    try:
        dut = EspAt(str(tmp_path / "pty"), timeout=0.5)
        dut.sync()
        result = prov.gate.provision(dut, UnitFacts(mac=unit.mac))
        dut.close()
    finally:
        prov.stop()
        server.stop()
    assert result.outcome.value == "fail" and result.record.commit_status == "not_attempted"
    assert "rebooted during the write" in result.message
    taken = ledger.find("ayla", result.record.identity)
    assert taken.state == RELEASED and taken.unit_mac is None  # erased, confirmed, back in the pool
    assert "dsn" not in unit.nvs.get("ayla", {})


def test_unit_report_shows_the_provisioning_section(emulator, tmp_path):
    result, _ = run_service(emulator, "ayla", tmp_path, units=3)
    record = next(r for r in result.records if r.outcome is Outcome.PASS)
    html = next((tmp_path / "out").rglob(f"{record.stem}.html")).read_text()
    assert 'id="lg-provisioning"' in html and record.provisioning.identity in html
    assert "ayla/private_key" in html and "&lt;redacted" in html and "read-back <b class=\"lg-pass\">ok" in html
    assert "lg-commit-committed" in html
