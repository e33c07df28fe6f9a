"""`linegate sim cloud` as a user runs it, state kept across restarts, and the /_sim endpoints."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
from cloudkit import FAST_RETRY, sim_state
from linegate.drivers.cloud import AlreadyDone, Ayla, EnosMqttRegistrar, YoSmart
from linegate.fixtures.sim.cloud.server import CloudEmulator


def test_state_survives_a_restart(tmp_path):
    state = tmp_path / "cloud.sqlite"
    with CloudEmulator(state=state, rsa_bits=1024, mqtt_port=None) as emu:
        creds = emu.credentials
        with Ayla(emu.base_url, creds.ayla_token, retry=FAST_RETRY) as afs:
            made, kept = afs.reserve(creds.ayla_model, 2)
            afs.manufacture(made.dsn, model=creds.ayla_model, mac="aa0000000001", hwsig="h1",
                            dom_at=datetime.now(UTC))
        with YoSmart(emu.base_url, creds.yosmart_token) as ys:
            [device] = ys.request_device_ids(1)
            ys.activate_device_id("chip-1", "70B3D57ED00001C0", device)
    with CloudEmulator(state=state, rsa_bits=1024, mqtt_port=None) as emu:
        assert emu.credentials == creds  # the same demo credentials
        with Ayla(emu.base_url, creds.ayla_token, retry=FAST_RETRY) as afs:
            with pytest.raises(AlreadyDone):
                afs.manufacture(made.dsn, model=creds.ayla_model, mac="aa0000000001", hwsig="h1",
                                dom_at=datetime.now(UTC))
            assert afs.manufacture(kept.dsn, model=creds.ayla_model, mac="aa0000000002", hwsig="h2",
                                   dom_at=datetime.now(UTC))
            assert afs.reserve(creds.ayla_model, 1)[0].dsn not in (made.dsn, kept.dsn)
        state_now = sim_state(emu)
        assert state_now["yosmart"]["licences_left"] == 10_000 - 1
        assert state_now["yosmart"]["devices"][0]["chipId"] == "chip-1"


def test_fault_queue_over_http(emulator):
    r = httpx.post(f"{emulator.base_url}/_sim/faults", json={"fault": "code:010000", "service": "yosmart"})
    assert r.json() == {"ok": True}
    assert httpx.post(f"{emulator.base_url}/_sim/faults", json={"fault": "meteor"}).status_code == 400
    with YoSmart(emulator.base_url, emulator.credentials.yosmart_token, retry=FAST_RETRY) as ys:
        ys.request_sn(1)
        assert ys.last_call.attempts == 2


def test_cli_prints_one_json_line_and_serves_until_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "linegate", "sim", "cloud", "--port", "0", "--mqtt-port", "0",
         "--state", str(tmp_path / "s.sqlite"), "--rsa-bits", "1024"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {"base_url", "mqtt_url", "yosmart", "ayla", "enos"}
        assert set(info["enos"]) >= {"app_key", "app_secret", "org_id", "group_id", "gateway", "sub_product_key"}
        assert set(info["enos"]["gateway"]) == {"product_key", "device_key", "device_secret"}
        assert info["ayla"]["model"] == "AY001MTP1"
        # The seed's curl example, as a user would type it.
        reply = httpx.post(f"{info['base_url']}/open/production/v2/api",
                           headers={"Authorization": f"Bearer {info['yosmart']['token']}"},
                           json={"method": "requestDeviceId", "params": {"size": 10}}).json()
        assert reply["code"] == "000000" and len(reply["data"]["deviceIdList"]) == 10
        gw = info["enos"]["gateway"]
        with EnosMqttRegistrar(info["mqtt_url"], gw["product_key"], gw["device_key"], gw["device_secret"],
                               timeout=5) as reg:
            assert reg.register(info["enos"]["sub_product_key"], "cli-dev", "cli").device_key == "cli-dev"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_cli_bad_options_are_one_line(tmp_path):
    bad = tmp_path / "not.sqlite"
    bad.write_text("this is not a database " * 100)
    for args in (["--fault-rate", "2"], ["--state", str(bad), "--port", "0", "--no-mqtt"]):
        proc = subprocess.run([sys.executable, "-m", "linegate", "sim", "cloud", *args], capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
