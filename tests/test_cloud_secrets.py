"""Issue 10, point 13.3: a password in a service URL and the account's secrets never leave the station.

A short line through the ``linegate`` command, the URLs carrying ``user:s3cretpw@`` where the service
allows it, the service down for a moment (its errors name the URL, retries are logged); then every
file of the run, the console and every log record (message, arguments, extras) are searched.
"""

from __future__ import annotations

import logging

import pytest
from cloudkit import secrets_of
from cloudline import SERVICES, cloud_of, run_cli, write_fixture
from linegate.drivers.cloud import Ayla, CloudError, Unavailable, YoSmart
from linegate.fixtures.cloud_account import CloudAccount

PASSWORD = "s3cretpw"

# The commit call of each service, failing for a moment: the unit passes with its commit pending,
# the error (with the URL) goes into the record and the log, the queue drains it later.
OUTAGE = {"ayla": ("5xx", "manufacture", 6), "yosmart": ("5xx", "activateDeviceId", 6),
          "enos-dps": ("5xx", "allocate", 6), "enos-mqtt": ("code:714", "register", 1)}


def with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://user:{PASSWORD}@{rest}"


def _log_text(records: list[logging.LogRecord]) -> str:
    """Everything a log handler could print: the message, its arguments, extras (stamina's included)."""
    return "\n".join(f"{r.getMessage()} {r.args!r} {vars(r)!r}" for r in records)


@pytest.mark.parametrize("service", SERVICES)
def test_no_url_password_or_account_secret_in_any_output(emulator, tmp_path, capfd, caplog, service):
    caplog.set_level(logging.DEBUG)
    changes: dict[str, object] = {"timeout_s": 2}
    if service.startswith("enos"):  # ayla and yosmart refuse a user:password URL (their token header)
        changes |= {"base_url": with_password(emulator.base_url), "mqtt_url": with_password(emulator.mqtt_url)}
    fixture = write_fixture(tmp_path, cloud_of(emulator, **changes))
    fault, operation, times = OUTAGE[service]
    emulator.faults.queue(fault, service=service, operation=operation, times=times)

    code, _ = run_cli(tmp_path, fixture, service, units=4)

    captured = capfd.readouterr()  # fd level: the sockets' worker processes write there too
    assert code == 0, captured.err
    assert emulator.faults.injected, "the service was down for a moment"
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files} | {p.name for p in files}
    assert {".json", ".html", "junit.xml"} <= kinds and any(p.parent.name == "openhtf" for p in files)
    haystacks = {"stdout": captured.out, "stderr": captured.err, "log": _log_text(caplog.records)}
    haystacks |= {str(p): p.read_text(errors="replace") for p in files}
    records = "\n".join(t for name, t in haystacks.items() if name.endswith(".json"))
    if service != "enos-mqtt":  # the outage is in the records (the worker logs only warnings: no retry lines)
        assert "commit pending: HTTP 503" in records
    for value in [PASSWORD, *secrets_of(emulator)]:
        for name, text in haystacks.items():
            assert value not in text, f"{value[:3]}... in {name}"


def test_a_cloud_error_never_holds_the_password_of_its_url(emulator):
    url = with_password(emulator.base_url)
    emulator.faults.queue("5xx", service="ayla", times=10)
    # ayla with a URL password is refused by the station; the client itself still must not leak it
    with Ayla(url, emulator.credentials.ayla_token, retry=None) as afs, pytest.raises(CloudError) as e:
        afs.reserve("AY001MTP1", 1)
    assert PASSWORD not in str(e.value) and PASSWORD not in repr(e.value) and PASSWORD not in e.value.url
    assert f"({emulator.base_url}/devicefactory/v1/devices/reserve)" in str(e.value)
    dead = with_password("http://127.0.0.1:9")
    with YoSmart(dead, "t") as ys, ys.checking(0.5), pytest.raises(Unavailable) as e:
        ys.request_sn(1)
    assert PASSWORD not in str(e.value) and "(http://127.0.0.1:9/open/production/v2/api)" in str(e.value)


def test_a_url_password_is_still_sent_as_basic_auth(emulator):
    import base64

    import httpx
    from linegate.drivers.cloud import EnosDps

    seen: list[str] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.headers.get("authorization", ""))

    c = emulator.credentials
    with EnosDps(with_password(emulator.base_url), c.enos_app_key, c.enos_app_secret, c.enos_org_id) as dps:
        dps._client.event_hooks["request"] = [hook]
        assert dps.access_token()
    assert PASSWORD not in dps.base_url
    assert seen == ["Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()]


def test_the_account_repr_masks_url_passwords(emulator):
    account = CloudAccount.from_emulator(cloud_of(emulator, base_url=with_password(emulator.base_url),
                                                  mqtt_url=with_password(emulator.mqtt_url)))
    for text in (repr(account), str(account)):
        assert PASSWORD not in text and text.count("user:***@") == 2
        for secret in secrets_of(emulator):
            assert secret not in text
    assert account.base_url == with_password(emulator.base_url)  # the clients still get the real URL
