"""Ayla AFS: the seed's curl examples, state rules, every AFS code, retries; real HTTP on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from cloudkit import FAST_RETRY, assert_no_secret, sim_state
from cryptography.hazmat.primitives import serialization
from linegate.drivers.cloud import (
    AlreadyDone,
    AuthError,
    Ayla,
    Conflict,
    Forbidden,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    RetryLater,
    format_dom_at,
)
from linegate.fixtures.sim.cloud import ayla as ayla_sim

NOW = datetime(2016, 11, 24, 10, 34, 23, tzinfo=UTC)


def module(emu) -> Ayla:
    return Ayla(emu.base_url, emu.credentials.ayla_token, retry=FAST_RETRY)


def oem(emu) -> Ayla:
    return Ayla(emu.base_url, emu.credentials.ayla_oem_token, retry=FAST_RETRY)


def curl(emu, path: str, body: dict, token: str | None = None) -> httpx.Response:
    return httpx.post(f"{emu.base_url}/devicefactory/v1/devices/{path}", json=body,
                      headers={"Accept": "application/json",
                               "Authorization": f"auth_token {token or emu.credentials.ayla_token}"})


def test_seed_curl_examples(emulator):
    reserve = curl(emulator, "reserve", {"model": "AY001MTP1", "count": 1})
    assert reserve.status_code == 200
    [item] = reserve.json()
    dsn = item["device"]["dsn"]
    assert item["device"]["public_key"].startswith("-----BEGIN RSA PUBLIC KEY-----")
    made = curl(emulator, f"{dsn}/manufacture",
                {"model": "AY001MTP1", "mac": "1dee6ea206ac", "hwsig": "hwsig_5NU41",
                 "dom_at": "2016/11/24 10:34:23 UTC"})
    assert made.status_code == 200
    device = made.json()["device"]
    assert device["dsn"] == dsn and device["dom_at"] == "2016-11-24T10:34:23Z" and device["mac"] == "1dee6ea206ac"
    provisioned = curl(emulator, f"{dsn}/provision",
                       {"model": "AY001MTP1", "mac": "1dee6ea206ac", "manuf_model": "mfg_model_HdsbL",
                        "hwsig": "hwsig_5NU41", "oem_model": "UniqueModelName123", "module_sw_version": "hwsig_5NU41",
                        "dom_at": "2016/11/05 13:37:39 UTC", "oem_host_version": "2.0"},
                       token=emulator.credentials.ayla_oem_token)
    assert provisioned.status_code == 200
    assert provisioned.json()["device"]["oem_model"] == "UniqueModelName123"


def test_reserve_returns_a_real_key_pair_per_dsn(emulator):
    with module(emulator) as afs:
        devices = afs.reserve("AY001MTP1", 3)
    assert len({d.dsn for d in devices}) == 3
    for d in devices:
        private = serialization.load_pem_private_key(d.private_key.encode(), password=None)
        public = serialization.load_pem_public_key(d.public_key.encode())
        assert private.public_key().public_numbers() == public.public_numbers()
        assert "PRIVATE" not in repr(d)
    state = sim_state(emulator)["ayla"]["devices"]
    assert [d["status"] for d in state] == ["reserved"] * 3
    assert "PRIVATE" not in str(state)


def test_manufacture_state_rules(emulator):
    with module(emulator) as afs:
        a, b = afs.reserve("AY001MTP1", 2)
        device = afs.manufacture(a.dsn, model="AY001MTP1", mac="10:11:12:13:14:cd", hwsig="hw-a", dom_at=NOW,
                                 manuf_model="ESP32-WROOM", module_sw_version="2.1.0")
        assert device["dom_at"] == "2016-11-24T10:34:23Z" and device["manuf_model"] == "ESP32-WROOM"
        with pytest.raises(AlreadyDone) as e:
            afs.manufacture(a.dsn, model="AY001MTP1", mac="10:11:12:13:14:cd", hwsig="hw-a", dom_at=NOW)
        assert e.value.code == "AFS-606"
        with pytest.raises(Conflict, match="mac") as e:  # same MAC, other spelling, other DSN
            afs.manufacture(b.dsn, model="AY001MTP1", mac="101112-1314CD", hwsig="hw-b", dom_at=NOW)
        assert e.value.code == "AFS-600"
        with pytest.raises(Conflict, match="hwsig"):
            afs.manufacture(b.dsn, model="AY001MTP1", mac="aa0000000001", hwsig="hw-a", dom_at=NOW)
        with pytest.raises(Conflict, match="reserved for model"):
            afs.manufacture(b.dsn, model="AY001MUS1", mac="aa0000000001", hwsig="hw-b", dom_at=NOW)
        with pytest.raises(NotFound) as e:
            afs.manufacture("AC000W999999999", model="AY001MTP1", mac="aa0000000002", hwsig="x", dom_at=NOW)
        assert e.value.code == "404"
        assert afs.manufacture(b.dsn, model="AY001MTP1", mac="aa0000000001", hwsig="hw-b", dom_at=NOW)


def test_missing_fields_bad_dates_and_models(emulator):
    dsn = curl(emulator, "reserve", {"model": "AY001MTP1", "count": 1}).json()[0]["device"]["dsn"]
    missing = curl(emulator, f"{dsn}/manufacture", {"model": "AY001MTP1", "mac": "aa0000000009"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["code"] == "AFS-607"  # the "errors" spelling
    bad_date = curl(emulator, f"{dsn}/manufacture",
                    {"model": "AY001MTP1", "mac": "aa0000000009", "hwsig": "h", "dom_at": "2016-11-24T10:34:23Z"})
    assert bad_date.json()["error"][0]["code"] == "AFS-608"
    with module(emulator) as afs:
        with pytest.raises(InvalidRequest) as e:
            afs.reserve("NOPE", 1)
        assert e.value.code == "AFS-601"
        for count in (0, 1001, "5", 2.5, True):
            with pytest.raises(InvalidRequest) as e:
                afs.reserve("AY001MTP1", count)  # type: ignore[arg-type]
            assert e.value.code == "AFS-602", count
        with pytest.raises(InvalidRequest) as e:
            afs.reserve("AY001MTC2", 5)  # this model is sold in tens
        assert e.value.code == "AFS-603"
        with pytest.raises(InvalidRequest) as e:
            afs._post("reserve", "/devicefactory/v1/devices/reserve", {"model": "AY001MTP1"}, idempotent=False)
        assert e.value.code == "AFS-607" and "count" in str(e.value)


def test_reservable_limits(emulator, monkeypatch):
    monkeypatch.setattr(ayla_sim, "MAX_OUTSTANDING", 3)
    with module(emulator) as afs:
        afs.reserve("AY001MTP1", 2)
        with pytest.raises(LimitExceeded) as e:
            afs.reserve("AY001MTP1", 2)
        assert e.value.code == "AFS-604"
        emulator.services.ayla.dsn_stock = 2  # both issued already
        with pytest.raises(RetryLater) as e:
            afs.reserve("AY001MTP1", 1)  # retried: "please try later", then given up
        assert e.value.code == "AFS-605" and afs.last_call.attempts == FAST_RETRY.attempts


def test_afs_605_is_retried_until_devices_are_there(emulator):
    emulator.faults.queue("code:AFS-605", service="ayla", operation="reserve", times=2)
    with module(emulator) as afs:
        assert len(afs.reserve("AY001MTP1", 1)) == 1
        assert afs.last_call.attempts == 3


def test_tokens_and_roles(emulator):
    dsn = curl(emulator, "reserve", {"model": "AY001MTP1", "count": 1}).json()[0]["device"]["dsn"]
    with Ayla(emulator.base_url, "0" * 32, retry=FAST_RETRY) as afs, pytest.raises(AuthError) as e:
        afs.reserve("AY001MTP1", 1)
    assert e.value.code == "401" and afs.last_call.attempts == 1
    with module(emulator) as afs, pytest.raises(Forbidden) as e:
        afs.provision(dsn, model="AY001MTP1", mac="aa0000000003", hwsig="h3", manuf_model="m",
                      module_sw_version="1", dom_at=NOW)
    assert e.value.code == "403"
    with oem(emulator) as afs, pytest.raises(Forbidden):
        afs.manufacture(dsn, model="AY001MTP1", mac="aa0000000003", hwsig="h3", dom_at=NOW)
    assert_no_secret(str(e.value), emulator)


def test_provision_uses_what_manufacture_gave(emulator):
    with module(emulator) as afs:
        made, bare = afs.reserve("AY001MTP1", 2)
        afs.manufacture(made.dsn, model="AY001MTP1", mac="aa0000000004", hwsig="h4", dom_at=NOW,
                        manuf_model="m", module_sw_version="2.1.0")
    with oem(emulator) as afs:
        device = afs.provision(made.dsn, model="AY001MTP1", oem_model="lamp")
        assert device["mac"] == "aa0000000004" and device["oem_model"] == "lamp"
        assert afs.provision(made.dsn, model="AY001MTP1", oem_model="lamp")  # a repeat is accepted
        with pytest.raises(InvalidRequest, match="mac, hwsig, manuf_model, module_sw_version, dom_at"):
            afs.provision(bare.dsn, model="AY001MTP1")


def test_dom_at_format():
    assert format_dom_at(NOW) == "2016/11/24 10:34:23 UTC"
    pst = timezone(timedelta(hours=-8))
    assert format_dom_at(datetime(2016, 11, 24, 2, 34, 23, tzinfo=pst)) == "2016/11/24 10:34:23 UTC"
    with pytest.raises(ValueError):
        format_dom_at(datetime(2016, 11, 24))  # naive: which zone?
