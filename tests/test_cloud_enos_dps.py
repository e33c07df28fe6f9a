"""EnOS DPS behind the API gateway: token, signatures, every code, re-signed retries; real HTTP."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from cloudkit import FAST_RETRY, assert_no_secret, sim_state
from linegate.drivers.cloud import AuthError, EnosDps, Forbidden, InvalidRequest, NotFound, Unavailable
from linegate.drivers.cloud.enos_dps import request_signature, token_encryption
from linegate.fixtures.sim.cloud.faults import FaultOptions

PVS_FIELDS = {"sn", "groupId", "regionId", "orgId", "productKey", "batchOrder", "batchTag", "deviceData", "desc",
              "reprovisioning", "allocateErrorMsg", "createBy", "createTime", "updateBy", "updateTime",
              "manufacturerOrgId", "connectStatus", "allocateStatus", "status"}


class Recorder:
    """Keeps the gateway headers of every request the client sends."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> None:
        if "apim-signature" in request.headers:
            self.headers.append({k: request.headers[k] for k in ("apim-timestamp", "apim-signature")})


def dps(emu, *, recorder: Recorder | None = None, **kw) -> EnosDps:
    c = emu.credentials
    http = httpx.Client(base_url=emu.base_url, event_hooks={"request": [recorder]} if recorder else {})
    return EnosDps(emu.base_url, c.enos_app_key, c.enos_app_secret, c.enos_org_id, client=http, retry=FAST_RETRY,
                   **kw)


def signed_post(emu, token: str, query: dict, body: dict, ts: str | None = None, secret: str | None = None):
    content = json.dumps(body).encode()
    ts = ts or str(int(time.time() * 1000))
    sig = request_signature(token, query, content, ts, secret or emu.credentials.enos_app_secret)
    return httpx.post(f"{emu.base_url}/dps-service/v2.5/pvs/device", params=query, content=content,
                      headers={"Content-Type": "application/json", "apim-accesstoken": token,
                               "apim-timestamp": ts, "apim-signature": sig})


def test_token_endpoint_as_documented(emulator):
    c = emulator.credentials
    ts = str(int(time.time() * 1000))
    reply = httpx.post(f"{emulator.base_url}/apim-token-service/v2.0/token/get",
                       json={"appKey": c.enos_app_key, "encryption": token_encryption(c.enos_app_key, ts,
                                                                                        c.enos_app_secret),
                             "timestamp": ts}).json()
    assert reply["status"] == 0 and reply["data"]["expire"] == 7200 and reply["data"]["accessToken"]
    wrong = httpx.post(f"{emulator.base_url}/apim-token-service/v2.0/token/get",
                       json={"appKey": c.enos_app_key, "encryption": "0" * 64, "timestamp": ts}).json()
    assert wrong["status"] != 0
    with EnosDps(emulator.base_url, c.enos_app_key, "wrong-secret", c.enos_org_id, retry=FAST_RETRY) as client:
        with pytest.raises(AuthError):
            client.create(c.enos_group_id, 1)


def test_seed_allocate_example(emulator):
    with dps(emulator) as client:
        [sn] = client.create(emulator.credentials.enos_group_id, 1)
        token = client.access_token()
    reply = signed_post(emulator, token, {"action": "allocate", "orgId": emulator.credentials.enos_org_id},
                        {"sn": sn, "deviceData": {"max_capacity": 1.0, "scale": 1}}).json()
    assert reply["code"] == 0 and reply["msg"] == "OK" and reply["requestId"]
    device = reply["data"]
    assert PVS_FIELDS <= set(device)
    assert device["allocateStatus"] == "allocated" and device["status"]["currentStatus"] == "allocated"
    assert device["status"]["allocatedTime"] and device["deviceData"] == {"max_capacity": 1.0, "scale": 1}


def test_allocate_get_and_status_transitions(emulator):
    with dps(emulator) as client:
        a, b = client.create(emulator.credentials.enos_group_id, 2)
        assert client.get(a)["status"]["currentStatus"] == "init"
        assert client.allocate(a, {"scale": 1})["allocateStatus"] == "allocated"
        assert client.get(a)["status"]["currentStatus"] == "allocated"
        with pytest.raises(NotFound, match="duplicated") as e:
            client.allocate(a, {"scale": 1})
        assert e.value.code == "35601"
        assert client.reset_allocation_status(a)["allocateStatus"] == "init"
        assert client.allocate(a)["allocateStatus"] == "allocated"
        with pytest.raises(NotFound) as e:
            client.allocate("ENS-NEVER-CREATED")
        assert e.value.code == "35601"
        with pytest.raises(InvalidRequest) as e:
            client.allocate(b, {"nested": {"no": 1}})  # type: ignore[dict-item]
        assert e.value.code == "99400"
        with pytest.raises(NotFound) as e:
            client.create("grp_unknown", 1)
        assert e.value.code == "35404"
        assert client.token_fetches == 1  # one token served every call
    states = {d["sn"]: d["allocateStatus"] for d in sim_state(emulator)["enos_dps"]["devices"]}
    assert states == {a: "allocated", b: "init"}


def test_org_id_and_sn_are_required(emulator):
    c = emulator.credentials
    with EnosDps(emulator.base_url, c.enos_app_key, c.enos_app_secret, "", retry=FAST_RETRY) as client:
        with pytest.raises(InvalidRequest) as e:
            client.get("ENS0000000000001")
        assert e.value.code == "35400"
    with dps(emulator) as client, pytest.raises(InvalidRequest) as e:
        client.allocate("")
    assert e.value.code == "35400"


def test_gateway_refuses_wrong_signature_stale_timestamp_and_replay(emulator):
    with dps(emulator) as client:
        [sn] = client.create(emulator.credentials.enos_group_id, 1)
        token = client.access_token()
    query = {"action": "get", "orgId": emulator.credentials.enos_org_id}
    assert signed_post(emulator, token, query, {"sn": sn}, secret="not-the-secret").json()["code"] == 1002
    stale = str(int(time.time() * 1000) - 3_600_000)
    assert signed_post(emulator, token, query, {"sn": sn}, ts=stale).json()["code"] == 1001
    ts = str(int(time.time() * 1000))
    assert signed_post(emulator, token, query, {"sn": sn}, ts=ts).json()["code"] == 0
    assert signed_post(emulator, token, query, {"sn": sn}, ts=ts).json()["code"] == 1001  # the same signature again
    assert signed_post(emulator, "apim-unknown", query, {"sn": sn}).json()["code"] == 1203


def test_every_retry_is_re_signed(emulator):
    recorder = Recorder()
    with dps(emulator, recorder=recorder) as client:
        [sn] = client.create(emulator.credentials.enos_group_id, 1)
        emulator.faults.queue("code:1001", service="enos-dps", operation="allocate", times=2)
        client.allocate(sn, {"scale": 1})
        assert client.last_call.attempts == 3
    allocate_attempts = recorder.headers[-3:]
    assert len({h["apim-signature"] for h in allocate_attempts}) == 3
    assert len({h["apim-timestamp"] for h in allocate_attempts}) == 3


@pytest.mark.emulator(faults=FaultOptions(token_expiry_after=2))
def test_expired_token_is_refreshed_once_and_the_call_repeated(emulator):
    with dps(emulator) as client:
        [sn] = client.create(emulator.credentials.enos_group_id, 1)
        client.get(sn)
        assert client.get(sn)["sn"] == sn  # the token's third call: 1203, new token, re-signed retry
        assert client.token_fetches == 2


def test_token_refreshed_before_it_expires(emulator):
    now = [1000.0]
    with dps(emulator, clock=lambda: now[0]) as client:
        [sn] = client.create(emulator.credentials.enos_group_id, 1)
        now[0] += 7200 - 30  # inside the refresh margin
        client.get(sn)
        assert client.token_fetches == 2


def test_role_and_gateway_codes_map_to_typed_errors(emulator):
    with dps(emulator) as client:
        [sn] = client.create(emulator.credentials.enos_group_id, 1)
        emulator.faults.queue("code:35603", service="enos-dps", operation="get")
        with pytest.raises(Forbidden) as e:
            client.get(sn)
        assert e.value.code == "35603" and client.last_call.attempts == 1
        emulator.faults.queue("code:1001", service="enos-dps", operation="get", times=10)
        with pytest.raises(Unavailable) as e:
            client.get(sn)
        assert e.value.code == "1001"
        assert_no_secret(str(e.value), emulator)
