"""Issue 10, point 13: cloud settings are checked when read, and the service before the first unit.

Everything goes through real HTTP / MQTT to the emulators on loopback, and through the ``linegate``
command in-process (exit code, the one line on stderr, the time it took).
"""

from __future__ import annotations

import time

import pytest
from cloudkit import assert_no_secret, sim_state
from cloudline import REPO, SERVICES, closed_port, cloud_of, run_cli, write_fixture
from linegate.drivers.cloud import AuthError, Unreachable
from linegate.fixtures.cloud_account import CloudAccount
from linegate.plans import load_plan
from linegate.station.cli import main
from linegate.station.gate.services import make_service
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.schema import COMMITTED

WRONG_CREDENTIAL = {"ayla": "ayla.token", "yosmart": "yosmart.token", "enos-dps": "enos.app_secret",
                    "enos-mqtt": "enos.gateway.device_secret"}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- point 13.1: a service URL that is not one is bad input ---------------------------------------------------
@pytest.mark.parametrize(("field", "value", "problem"), [
    ("base_url", "ftp://user:s3cretpw@127.0.0.1/", "has scheme 'ftp'"),
    ("base_url", "127.0.0.1:8080", "has no scheme"),
    ("base_url", "localhost", "has no scheme"),
    ("base_url", "http://", "has no host"),
    ("base_url", "https://user:s3cretpw@:8443/", "has no host"),
    ("base_url", "http://127.0.0.1:99999", "Port out of range"),
    ("base_url", "http://127.0.0.1 :8080", "contains white space"),
    ("mqtt_url", "http://127.0.0.1:1883", "expected mqtt://host[:port] or tcp://host[:port]"),
    ("mqtt_url", "mqtt://user:s3cretpw@", "has no host"),
])
def test_a_service_url_that_is_not_one_is_refused_with_exit_2(tmp_path, capsys, field, value, problem):
    cloud = {"base_url": "http://127.0.0.1:8080", "yosmart": {"token": "t"}, field: value}
    fixture = write_fixture(tmp_path, cloud)
    code, _ = run_cli(tmp_path, fixture, "yosmart")
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"linegate: error: {fixture}: cloud.{field}: ")
    assert problem in line
    assert "s3cretpw" not in line
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()


def test_cloud_option_that_is_not_an_http_url_is_refused(tmp_path, capsys):
    code = main(["run", "--fixture", str(REPO / "fixtures" / "sim-station.yaml"),
                 "--plan", str(REPO / "plans" / "esp-at-ayla.yaml"), "--units", "1", "--out", str(tmp_path / "o"),
                 "--state-dir", str(tmp_path / "s"), "--cloud", "ftp://user:s3cretpw@127.0.0.1:9"])
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line == ("linegate: error: --cloud: 'ftp://user:***@127.0.0.1:9' has scheme 'ftp'; "
                    "expected http://host[:port] or https://host[:port]")


@pytest.mark.parametrize("service", ["ayla", "yosmart"])
def test_a_user_and_password_in_the_url_of_a_header_token_service_is_refused(emulator, tmp_path, capsys, service):
    # httpx would send them as basic auth in place of the service's own Authorization header.
    url = emulator.base_url.replace("http://", "http://user:s3cretpw@")
    fixture = write_fixture(tmp_path, cloud_of(emulator, base_url=url))
    code, _ = run_cli(tmp_path, fixture, service)
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert f"{fixture}: service {service}: cloud.base_url carries 'user:password@'" in line
    assert "s3cretpw" not in line


# -- point 13.2: unreachable or wrong credentials stop the station before the first unit -----------------------
def _assert_nothing_ran(tmp_path):
    assert not list((tmp_path / "out").rglob("*.json")), "no unit ran"
    ledger = Ledger(tmp_path / "state" / "ledger.db")
    try:
        assert not [i for i in ledger.all() if i.unit_mac], "no identity was given to a unit"
    finally:
        ledger.close()


@pytest.mark.parametrize("service", SERVICES)
def test_an_unreachable_service_exits_3_within_seconds(emulator, tmp_path, capsys, service):
    port = closed_port()
    if service == "enos-mqtt":
        url, change = f"mqtt://127.0.0.1:{port}", {"mqtt_url": f"mqtt://127.0.0.1:{port}"}
    else:
        url, change = f"http://127.0.0.1:{port}", {"base_url": f"http://127.0.0.1:{port}"}
    fixture = write_fixture(tmp_path, cloud_of(emulator, **change))
    code, seconds = run_cli(tmp_path, fixture, service, units=3)
    assert code == 3
    assert seconds < 10
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"linegate: cloud: {service} at {url}")
    assert "is unreachable" in line and "cannot reach" in line
    assert_no_secret(line, emulator)
    _assert_nothing_ran(tmp_path)


@pytest.mark.parametrize("service", SERVICES)
def test_wrong_credentials_exit_3_within_seconds(emulator, tmp_path, capsys, service):
    fixture = write_fixture(tmp_path, cloud_of(emulator, **{WRONG_CREDENTIAL[service]: "wrong-credential"}))
    before = sim_state(emulator)
    code, seconds = run_cli(tmp_path, fixture, service, units=3)
    assert code == 3
    assert seconds < 10
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"linegate: cloud: {service} at ")
    assert "refuses the station's credentials" in line and "is unreachable" not in line
    url = emulator.mqtt_url if service == "enos-mqtt" else emulator.base_url
    assert url in line
    assert_no_secret(line, emulator)
    assert "wrong-credential" not in line
    _assert_nothing_ran(tmp_path)
    assert sim_state(emulator) == before, "nothing reserved with the wrong credentials"


@pytest.mark.parametrize("service", SERVICES)
def test_the_start_up_check_changes_nothing_in_the_cloud(emulator, tmp_path, service):
    plan = load_plan(REPO / "plans" / f"esp-at-{service}.yaml")
    svc = make_service(plan.provisioning, CloudAccount.from_emulator(emulator.info()))
    before = sim_state(emulator)
    try:
        svc.check()
        svc.check()
    finally:
        svc.close()
    assert sim_state(emulator) == before  # no licence used, no DSN or SN reserved, no sub-device


def test_the_ayla_oem_token_is_checked_too(emulator):
    from linegate.plans.provisioning import ProvisioningSpec

    spec = ProvisioningSpec.model_validate({"service": "ayla", "ayla": {"model": "AY001MTP1", "provision": True,
                                                                        "oem_model": "OEM-1"}})
    good = make_service(spec, CloudAccount.from_emulator(emulator.info()))
    bad = make_service(spec, CloudAccount.from_emulator(cloud_of(emulator, **{"ayla.oem_token": "wrong"})))
    try:
        good.check()
        with pytest.raises(AuthError, match="ayla provision"):
            bad.check()
    finally:
        good.close()
        bad.close()


def test_the_check_is_tried_once_with_a_short_connect_timeout():
    # 192.0.2.0/24 (TEST-NET-1) is never routed: the connection attempt hangs until its timeout.
    account = CloudAccount.model_validate({"base_url": "http://192.0.2.1:8080", "timeout_s": 30,
                                           "yosmart": {"token": "t"}})
    plan = load_plan(REPO / "plans" / "esp-at-yosmart.yaml")
    svc = make_service(plan.provisioning, account)
    started = time.perf_counter()
    try:
        with pytest.raises(Unreachable):
            svc.check(connect_s=0.5)
    finally:
        svc.close()
    assert time.perf_counter() - started < 3  # one attempt of 0.5 s, not 5 attempts of 30 s
    assert svc.client.last_call.attempts == 1


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps"])
def test_a_service_briefly_down_at_the_start_is_not_fatal(emulator, tmp_path, capsys, service):
    # The check meets a 5xx page once: the service is there, so the line runs as it does after an outage.
    emulator.faults.queue("5xx", service=service, times=1)
    fixture = write_fixture(tmp_path, cloud_of(emulator))
    code, _ = run_cli(tmp_path, fixture, service, units=2)
    assert code == 0, capsys.readouterr().err
    ledger = Ledger(tmp_path / "state" / "ledger.db")
    try:
        assert any(i.state == COMMITTED for i in ledger.all())
    finally:
        ledger.close()


@pytest.mark.parametrize("service", ["ayla", "yosmart", "enos-dps"])
def test_a_service_that_gives_no_identity_with_an_empty_pool_exits_3(emulator, tmp_path, capsys, service):
    """Every call answers 5xx: no unit could be provisioned, so the station stops before the first."""
    emulator.faults.queue("5xx", service=service, times=1000)
    fixture = write_fixture(tmp_path, cloud_of(emulator))
    t0 = time.monotonic()
    code, _ = run_cli(tmp_path, fixture, service, units=2)
    err = capsys.readouterr().err
    assert code == 3, err
    assert time.monotonic() - t0 < 30
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"linegate: cloud: {service} at http://127.0.0.1:") and "the pool is empty" in line
    assert not list((tmp_path).rglob("LG*.json")), "no unit was tested"
