"""YoSmart Device Production API: the seed's examples, every error code, retries; real HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest
from cloudkit import FAST_RETRY, assert_no_secret, sim_state
from linegate.drivers.cloud import (
    AlreadyDone,
    AuthError,
    Forbidden,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    RateLimited,
    RetryLater,
    ServiceFailure,
    YoSmart,
)
from linegate.drivers.cloud.errors import YOSMART_CODES
from linegate.fixtures.sim.cloud.faults import FaultOptions

APP_EUI = "70B3D57ED00001C0"


def client(emu, token=None, **kw) -> YoSmart:
    return YoSmart(emu.base_url, token or emu.credentials.yosmart_token, retry=FAST_RETRY, **kw)


def raw(emu, method: str, params: dict, token: str | None = None) -> dict:
    """A request exactly as the seed's curl examples send it."""
    r = httpx.post(f"{emu.base_url}/open/production/v2/api", json={"method": method, "params": params},
                   headers={"Authorization": f"Bearer {token or emu.credentials.yosmart_token}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    return r.json()


def test_seed_workflow_has_the_documented_shapes(emulator):
    ids = raw(emulator, "requestDeviceId", {"size": 10})
    assert ids["code"] == "000000" and len(ids["data"]["deviceIdList"]) == 10
    auto = raw(emulator, "activateDeviceId", {"chipId": "abc123def456", "appEui": APP_EUI})
    assert auto["code"] == "000000" and auto["data"]["deviceId"] in ids["data"]["deviceIdList"]
    chosen = ids["data"]["deviceIdList"][5]
    named = raw(emulator, "activateDeviceId", {"deviceId": chosen, "chipId": "chip-2", "appEui": APP_EUI})
    assert named["data"] == {"deviceId": chosen}
    sns = raw(emulator, "requestSN", {"size": 100})
    assert sns["code"] == "000000" and len(set(sns["data"]["snList"])) == 100
    bound = raw(emulator, "bindSN", {"deviceId": chosen, "sn": sns["data"]["snList"][0]})
    assert bound["data"] == {"sn": sns["data"]["snList"][0]}
    generated = raw(emulator, "bindSN", {"deviceId": auto["data"]["deviceId"], "sn": ""})
    assert generated["code"] == "000000" and generated["data"]["sn"] not in sns["data"]["snList"]
    state = sim_state(emulator)["yosmart"]
    assert state["licences_left"] == 10_000 - 10
    by_id = {d["deviceId"]: d for d in state["devices"]}
    assert by_id[chosen]["chipId"] == "chip-2" and by_id[chosen]["sn"] == sns["data"]["snList"][0]


def test_client_covers_all_four_methods(emulator):
    with client(emulator) as ys:
        ids = ys.request_device_ids(2)
        assert ys.activate_device_id("chip-a", APP_EUI, ids[0]) == ids[0]
        assert ys.activate_device_id("chip-b", APP_EUI) == ids[1]  # the service picks the free one
        sn = ys.request_sn(1)[0]
        assert ys.bind_sn(ids[0], sn) == sn
        assert ys.bind_sn(ids[1]).startswith("YS")
        assert ys.last_call is not None and ys.last_call.attempts == 1 and ys.last_call.ok


def test_activation_ties_one_chip_and_repeats_safely(emulator):
    with client(emulator) as ys:
        device = ys.request_device_ids(1)[0]
        assert ys.activate_device_id("chip-1", APP_EUI, device) == device
        assert ys.activate_device_id("chip-1", APP_EUI, device) == device  # same chip: same answer
        with pytest.raises(AlreadyDone) as e:
            ys.activate_device_id("chip-2", APP_EUI, device)
        assert e.value.code == "020100"
        with pytest.raises(NotFound) as e:
            ys.activate_device_id("chip-3", APP_EUI, "d88b4cffffffffff")
        assert e.value.code == "020101"


def test_bind_refused_before_activation_and_sn_bound_once(emulator):
    with client(emulator) as ys:
        a, b = ys.request_device_ids(2)
        with pytest.raises(NotFound, match="not activated"):
            ys.bind_sn(a)
        ys.activate_device_id("chip-a", APP_EUI, a)
        ys.activate_device_id("chip-b", APP_EUI, b)
        sn = ys.request_sn(1)[0]
        ys.bind_sn(a, sn)
        assert ys.bind_sn(a, sn) == sn  # a repeat for the same pair is the same answer
        with pytest.raises(AlreadyDone):
            ys.bind_sn(b, sn)
        with pytest.raises(InvalidRequest) as e:
            ys.bind_sn(b, "NOT-AN-ISSUED-SN")
        assert e.value.code == "010204"


@pytest.mark.emulator(licences=3)
def test_licences_are_counted_down(emulator):
    with client(emulator) as ys:
        ys.request_device_ids(2)
        with pytest.raises(LimitExceeded) as e:
            ys.request_device_ids(2)
        assert e.value.code == "010300"
        assert len(ys.request_device_ids(1)) == 1
    assert sim_state(emulator)["yosmart"]["licences_left"] == 0


def test_auth_and_malformed_requests(emulator):
    with client(emulator, token="not-the-token") as ys, pytest.raises(AuthError) as e:
        ys.request_device_ids(1)
    assert e.value.code == "000103" and ys.last_call.attempts == 1
    no_bearer = httpx.post(f"{emulator.base_url}/open/production/v2/api", json={"method": "requestSN"},
                           headers={"Authorization": emulator.credentials.yosmart_token}).json()
    assert no_bearer["code"] == "010103"
    bad_json = httpx.post(f"{emulator.base_url}/open/production/v2/api", content=b"{method",
                          headers={"Authorization": f"Bearer {emulator.credentials.yosmart_token}",
                                   "Content-Type": "application/json"}).json()
    assert bad_json["code"] == "010200"
    assert raw(emulator, "dropTables", {})["code"] == "010201"
    assert raw(emulator, "requestSN", {})["code"] == "010203"
    assert raw(emulator, "requestSN", {"size": 0})["code"] == "010204"
    with client(emulator) as ys, pytest.raises(InvalidRequest):
        ys.request_sn(5000)


@pytest.mark.emulator(faults=FaultOptions(token_expiry_after=2))
def test_expired_token_is_an_auth_error_never_retried(emulator):
    with client(emulator) as ys:
        ys.request_sn(1)
        ys.request_sn(1)
        with pytest.raises(AuthError) as e:
            ys.request_sn(1)
        assert e.value.code == "010104" and ys.last_call.attempts == 1
        assert_no_secret(str(e.value), emulator)


@pytest.mark.parametrize("code", ["010000", "010001", "020104"])
def test_retry_later_codes_are_retried(emulator, code):
    emulator.faults.queue(f"code:{code}", service="yosmart", operation="requestSN", times=2)
    with client(emulator) as ys:
        assert len(ys.request_sn(1)) == 1
        assert ys.last_call.attempts == 3


def test_retries_give_up_with_the_typed_error(emulator):
    emulator.faults.queue("code:010000", service="yosmart", times=10)
    with client(emulator) as ys, pytest.raises(RetryLater) as e:
        ys.request_sn(1)
    assert ys.last_call.attempts == FAST_RETRY.attempts and e.value.code == "010000"


def test_rate_limit_code_is_retried(emulator):
    emulator.faults.queue("rate-limit", service="yosmart")
    with client(emulator) as ys:
        ys.request_sn(1)
        assert ys.last_call.attempts == 2
    assert isinstance(YOSMART_CODES["010301"][0](("yosmart"), "x", "y"), RateLimited)


def test_every_listed_code_maps_to_a_typed_error(emulator):
    expected = {"000103": AuthError, "010101": AuthError, "010102": AuthError, "010104": AuthError,
                "010202": InvalidRequest, "010300": LimitExceeded, "020100": AlreadyDone, "020101": NotFound,
                "999999": ServiceFailure}
    with client(emulator) as ys:
        for code, cls in expected.items():
            emulator.faults.queue(f"code:{code}", service="yosmart")
            with pytest.raises(cls) as e:
                ys.request_sn(1)
            assert e.value.code == code and "yosmart requestSN" in str(e.value)
            assert ys.last_call.attempts == 1, code
    assert not issubclass(Forbidden, RateLimited)
