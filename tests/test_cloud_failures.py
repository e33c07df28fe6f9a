"""What the network and proxies do: 5xx pages, timeouts, cut connections, lost answers, garbage bodies.

Transport faults run against the real emulator over loopback; malformed
bodies that no real service sends are played by httpx.MockTransport, which
tests only the client's error mapping.
"""

from __future__ import annotations

import time

import httpx
import pytest
from cloudkit import FAST_RETRY, assert_no_secret, sim_state
from linegate.drivers.cloud import (
    Ayla,
    BadResponse,
    EnosDps,
    RateLimited,
    Unavailable,
    UnknownOutcome,
    YoSmart,
)
from linegate.drivers.cloud.http import parse_retry_after

TOKEN = "f43b94bd382642458d4e305b575d2287"


def test_5xx_proxy_page_is_retried(emulator):
    emulator.faults.queue("5xx", service="ayla", operation="reserve", times=2)
    with Ayla(emulator.base_url, emulator.credentials.ayla_token, retry=FAST_RETRY) as afs:
        assert len(afs.reserve("AY001MTP1", 1)) == 1
        assert afs.last_call.attempts == 3
    emulator.faults.queue("5xx", service="ayla", times=10)
    with Ayla(emulator.base_url, emulator.credentials.ayla_token, retry=FAST_RETRY) as afs, \
            pytest.raises(Unavailable, match="HTTP 503") as e:
        afs.reserve("AY001MTP1", 1)
    assert_no_secret(str(e.value), emulator)


def test_retry_after_is_honoured(emulator):
    emulator.faults.queue("rate-limit", service="ayla", operation="reserve")
    with Ayla(emulator.base_url, emulator.credentials.ayla_token, retry=FAST_RETRY) as afs:
        started = time.perf_counter()
        afs.reserve("AY001MTP1", 1)
        waited = time.perf_counter() - started
    assert afs.last_call.attempts == 2
    assert waited >= emulator.faults.options.retry_after_s  # the header said 0.2 s; the policy's own wait is 0.01 s


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") <= 0.0  # in the past: no wait


def test_a_timeout_on_a_commit_is_an_unknown_outcome_never_retried(emulator):
    emulator.faults.queue("timeout", service="ayla", operation="reserve")
    with Ayla(emulator.base_url, emulator.credentials.ayla_token, retry=FAST_RETRY, timeout=0.3) as afs, \
            pytest.raises(UnknownOutcome, match="may have acted"):
        afs.reserve("AY001MTP1", 1)
    assert afs.last_call.attempts == 1


def test_a_timeout_on_a_read_is_retried(emulator):
    c = emulator.credentials
    with EnosDps(emulator.base_url, c.enos_app_key, c.enos_app_secret, c.enos_org_id, retry=FAST_RETRY,
                 timeout=0.3) as dps:
        [sn] = dps.create(c.enos_group_id, 1)
        emulator.faults.queue("timeout", service="enos-dps", operation="get")
        assert dps.get(sn)["sn"] == sn
        assert dps.last_call.attempts == 2


def test_lost_answer_the_service_acted(emulator):
    emulator.faults.queue("lost-answer", service="yosmart", operation="activateDeviceId")
    with YoSmart(emulator.base_url, emulator.credentials.yosmart_token, retry=FAST_RETRY) as ys:
        [_device] = ys.request_device_ids(1)
        with pytest.raises(UnknownOutcome):
            ys.activate_device_id("chip-x", "70B3D57ED00001C0")  # no deviceId: not safe to repeat
        assert ys.last_call.attempts == 1
    [state] = sim_state(emulator)["yosmart"]["devices"]
    assert state["status"] == "activated" and state["chipId"] == "chip-x"


def test_lost_answer_on_a_call_safe_to_repeat_is_retried(emulator):
    with YoSmart(emulator.base_url, emulator.credentials.yosmart_token, retry=FAST_RETRY) as ys:
        [device] = ys.request_device_ids(1)
        emulator.faults.queue("lost-answer", service="yosmart", operation="activateDeviceId")
        assert ys.activate_device_id("chip-y", "70B3D57ED00001C0", device) == device
        assert ys.last_call.attempts == 2


def test_dropped_connection_is_typed(emulator):
    emulator.faults.queue("drop", service="ayla", operation="reserve")
    with Ayla(emulator.base_url, emulator.credentials.ayla_token, retry=FAST_RETRY) as afs, \
            pytest.raises(UnknownOutcome, match="RemoteProtocolError"):
        afs.reserve("AY001MTP1", 1)
    assert sim_state(emulator)["ayla"]["devices"] == []  # a plain drop: nothing was done


def test_nothing_listening_is_unavailable():
    with YoSmart("http://127.0.0.1:9", TOKEN, retry=FAST_RETRY) as ys, pytest.raises(Unavailable) as e:
        ys.request_sn(1)
    assert "cannot reach" in str(e.value) and ys.last_call.attempts == FAST_RETRY.attempts


def _mock(body: bytes, content_type: str | None, status: int = 200) -> httpx.Client:
    headers = {"content-type": content_type} if content_type else {}
    return httpx.Client(base_url="http://afs.test",
                        transport=httpx.MockTransport(lambda r: httpx.Response(status, content=body, headers=headers)))


@pytest.mark.parametrize(("body", "ctype", "problem"), [
    (b"<html><body>Bad gateway login page</body></html>", "text/html", "not JSON"),
    (b"", None, "no content type"),
    (b'{"code": "000000", "data": {"deviceIdL', "application/json", "not valid JSON"),
    (b'{"code": "000000", "data": {"deviceIdList": "abc"}}', "application/json", "deviceIdList"),
    (b'{"result": "ok"}', "application/json", "unexpected envelope"),
    (b'{"code": 0}', "application/json", "unexpected envelope"),
    (b'{"code": "000000"}', "application/json", "without a 'data' object"),
    (b'["not", "an", "object"]', "application/json", "unexpected envelope"),
])
def test_bad_bodies_are_bad_responses_without_secrets(body, ctype, problem):
    with YoSmart("http://afs.test", TOKEN, client=_mock(body, ctype), retry=FAST_RETRY) as ys:
        with pytest.raises(BadResponse, match=problem) as e:
            ys.request_device_ids(1)
    assert TOKEN not in str(e.value) and ys.last_call.attempts == 1


def test_ayla_422_in_either_spelling_and_garbled():
    for key in ("error", "errors"):
        body = f'{{"{key}": [{{"code": "AFS-606", "message": "Device is already manufactured"}}]}}'.encode()
        with Ayla("http://afs.test", TOKEN, client=_mock(body, "application/json", 422)) as afs, \
                pytest.raises(Exception, match="AFS-606"):
            afs.reserve("AY001MTP1", 1)
    with Ayla("http://afs.test", TOKEN, client=_mock(b'{"oops": 1}', "application/json", 422)) as afs, \
            pytest.raises(BadResponse, match="without error"):
        afs.reserve("AY001MTP1", 1)


def test_secrets_in_a_service_message_are_redacted():
    body = (b'{"code": "999999", "desc": "failed for token=' + TOKEN.encode()
            + b' -----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----"}')
    with YoSmart("http://afs.test", TOKEN, client=_mock(body, "application/json")) as ys, \
            pytest.raises(Exception) as e:
        ys.request_sn(1)
    assert TOKEN not in str(e.value) and "MIIE" not in str(e.value) and "<redacted" in str(e.value)


def test_429_without_retry_after_uses_the_backoff():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429) if len(calls) < 3 else httpx.Response(
            200, json={"code": "000000", "data": {"snList": ["YS1"]}})

    client = httpx.Client(base_url="http://y.test", transport=httpx.MockTransport(handler))
    with YoSmart("http://y.test", TOKEN, client=client, retry=FAST_RETRY) as ys:
        assert ys.request_sn(1) == ["YS1"]
    assert len(calls) == 3
    assert RateLimited.retryable
