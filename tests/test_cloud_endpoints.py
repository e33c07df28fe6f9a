"""Issue 11, point 3.1: one base URL per service, the documented real hosts as defaults, and the
emulator's single URL still accepted as the fallback for all of them.

Through the fixture loader, and end to end: a line against the emulators with only per-service URLs.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from cloudkit import assert_no_secret
from cloudline import SERVICES, closed_port, cloud_of, run_cli, write_fixture
from linegate.drivers.cloud import EnosDps, Unreachable
from linegate.fixtures.cloud_account import CloudAccount, Endpoint
from linegate.fixtures.config import FixtureError, load_fixture
from test_cloud_startup import one_line


def _load(tmp_path, cloud) -> CloudAccount:
    account = load_fixture(write_fixture(tmp_path, cloud)).cloud
    assert account is not None
    return account


def _refusal(tmp_path, cloud) -> str:
    fixture = write_fixture(tmp_path, cloud)
    with pytest.raises(FixtureError) as e:
        load_fixture(fixture)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{fixture}: ")
    return message.removeprefix(f"{fixture}: ")


ENOS = {"app_key": "ak", "app_secret": "enos-secret-value", "org_id": "o1"}


def test_each_service_has_its_own_url(tmp_path):
    account = _load(tmp_path, {
        "yosmart": {"base_url": "https://ys.example:8443", "token": "t"},
        "ayla": {"base_url": "https://afs.example", "token": "t"},
        "enos": {**ENOS, "base_url": "https://apigw.example", "token_url": "https://apim.example",
                 "mqtt_url": "tcp://broker.example:11883",
                 "gateway": {"product_key": "gp", "device_key": "gd", "device_secret": "s"}},
    })
    assert account.url_for("yosmart") == Endpoint("https://ys.example:8443", "cloud.yosmart.base_url")
    assert account.url_for("ayla") == Endpoint("https://afs.example", "cloud.ayla.base_url")
    assert account.url_for("enos-dps") == Endpoint("https://apigw.example", "cloud.enos.base_url")
    assert account.url_for("enos-token") == Endpoint("https://apim.example", "cloud.enos.token_url")
    assert account.url_for("enos-mqtt") == Endpoint("tcp://broker.example:11883", "cloud.enos.mqtt_url")


def test_the_token_service_is_on_the_api_gateway_unless_told_otherwise(tmp_path):
    account = _load(tmp_path, {"enos": {**ENOS, "base_url": "https://apigw.example"}})
    assert account.url_for("enos-token") == Endpoint("https://apigw.example", "cloud.enos.base_url")


# seeds/001 "Full URL"; seeds/003 section 1.10 "Supported Regional Service Environments"
@pytest.mark.parametrize(("ayla", "host"), [
    ({}, "https://api-field.aylanetworks.com"),
    ({"environment": "field", "region": "us"}, "https://api-field.aylanetworks.com"),
    ({"environment": "dev"}, "https://api-dev.aylanetworks.com"),
    ({"region": "eu"}, "https://api-field-eu.aylanetworks.com"),
    ({"environment": "dev", "region": "eu"}, "https://api-dev-eu.aylanetworks.com"),
    ({"region": "cn"}, "https://api-field.ayla.com.cn"),
    ({"environment": "dev", "region": "cn"}, "https://api-dev.ayla.com.cn"),
])
def test_the_documented_hosts_are_the_defaults(tmp_path, ayla, host):
    account = _load(tmp_path, {"yosmart": {"token": "t"}, "ayla": {"token": "t", **ayla}})
    assert account.url_for("yosmart") == Endpoint("https://api.yosmart.com", "the YoSmart default host")
    assert account.url_for("ayla").url == host


def test_the_single_emulator_url_is_the_fallback_for_every_service(emulator):
    account = CloudAccount.from_emulator(emulator.info())
    for service in ("yosmart", "ayla", "enos-dps", "enos-token"):
        assert account.url_for(service) == Endpoint(emulator.base_url, "cloud.base_url")
    assert account.url_for("enos-mqtt") == Endpoint(emulator.mqtt_url, "cloud.mqtt_url")


def test_a_service_url_beats_the_fallback(tmp_path):
    account = _load(tmp_path, {"base_url": "http://127.0.0.1:8080", "mqtt_url": "mqtt://127.0.0.1:1883",
                               "yosmart": {"token": "t", "base_url": "https://ys.example"}, "ayla": {"token": "t"},
                               "enos": {**ENOS, "mqtt_url": "mqtt://broker.example"}})
    assert account.url_for("yosmart").url == "https://ys.example"
    assert account.url_for("ayla") == Endpoint("http://127.0.0.1:8080", "cloud.base_url")
    assert account.url_for("enos-dps") == Endpoint("http://127.0.0.1:8080", "cloud.base_url")
    assert account.url_for("enos-mqtt") == Endpoint("mqtt://broker.example", "cloud.enos.mqtt_url")


@pytest.mark.parametrize(("cloud", "expected"), [
    ({"enos": ENOS}, "cloud: enos: no URL for the EnOS API gateway (there is no public default: "
                     "https://{apigw-address} is per deployment); set cloud.enos.base_url"),
    ({"ayla": {"token": "t", "base_url": "https://afs.example", "environment": "dev"}},
     "cloud.ayla: base_url and environment both given; environment only choose the default host when there "
     "is no base_url"),
    ({"base_url": "http://127.0.0.1:1", "ayla": {"token": "t", "region": "eu"}},
     "cloud: ayla.region is given but cloud.base_url sends Ayla elsewhere; set cloud.ayla.base_url or drop "
     "cloud.base_url"),
    ({"ayla": {"token": "t", "environment": "prod"}}, "cloud.ayla.environment: Input should be 'field' or 'dev'"),
    ({"ayla": {"token": "t", "region": "jp"}}, "cloud.ayla.region: Input should be 'us', 'eu' or 'cn'"),
    ({"yosmart": {"token": "t", "base_url": "ftp://u:url-password@ys.example"}},
     "cloud.yosmart.base_url: 'ftp://u:***@ys.example' has scheme 'ftp'; expected http://host[:port] or "
     "https://host[:port]"),
    ({"enos": {**ENOS, "base_url": "https://apigw.example", "token_url": "apim.example"}},
     "cloud.enos.token_url: 'apim.example' has no scheme; expected http://host[:port] or https://host[:port]"),
    ({"enos": {**ENOS, "base_url": "https://apigw.example", "mqtt_url": "https://u:url-password@b.example"}},
     "cloud.enos.mqtt_url: 'https://u:***@b.example' has scheme 'https'; expected mqtt://host[:port] or "
     "tcp://host[:port]"),
])
def test_a_missing_or_conflicting_service_url_is_refused_with_one_line(tmp_path, cloud, expected):
    message = _refusal(tmp_path, cloud)
    assert message == expected
    for secret in ("url-password", "enos-secret-value", "gw-secret-value"):
        assert secret not in message


def test_a_gateway_without_a_broker_url_is_refused_when_the_plan_registers_over_mqtt(emulator, tmp_path, capsys):
    # an emulator without a broker (mqtt_url None) still gives a usable account for the HTTP services
    cloud = cloud_of(emulator, mqtt_url=None)
    assert CloudAccount.from_emulator(cloud).url_for("enos-mqtt") is None
    code, _ = run_cli(tmp_path, write_fixture(tmp_path, cloud), "enos-mqtt")
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line.endswith("service enos-mqtt: the fixture's cloud section needs an enos gateway and the broker's "
                         "URL (cloud.enos.mqtt_url)")
    assert_no_secret(line, emulator)


def test_every_url_password_is_masked_in_the_repr(tmp_path):
    account = _load(tmp_path, {"enos": {**ENOS, "base_url": "https://u:pw-one@apigw.example",
                                        "token_url": "https://u:pw-two@apim.example",
                                        "mqtt_url": "mqtt://u:pw-three@broker.example"}})
    text = repr(account)
    assert text.count("u:***@") == 3
    for secret in ("pw-one", "pw-two", "pw-three", "enos-secret-value"):
        assert secret not in text


def _only_service_urls(emulator, service: str) -> dict:
    """The emulator's account with no single base_url: each service is given its own URL."""
    cloud = cloud_of(emulator)
    del cloud["base_url"], cloud["mqtt_url"]
    own = {"ayla": {"ayla.base_url": emulator.base_url}, "yosmart": {"yosmart.base_url": emulator.base_url},
           "enos-dps": {"enos.base_url": emulator.base_url, "enos.token_url": emulator.base_url},
           "enos-mqtt": {"enos.base_url": emulator.base_url, "enos.mqtt_url": emulator.mqtt_url}}
    for dotted, value in own[service].items():
        section, field = dotted.split(".")
        cloud[section][field] = value
    for section in {"ayla", "yosmart", "enos"} - {k.split(".")[0] for k in own[service]}:
        cloud.pop(section)
    if service == "enos-dps":
        del cloud["enos"]["gateway"]  # a gateway is for the broker, which this station has none of
    return cloud


@pytest.mark.parametrize("service", SERVICES)
def test_a_line_runs_with_only_per_service_urls(emulator, tmp_path, capsys, service):
    fixture = write_fixture(tmp_path, _only_service_urls(emulator, service))
    code, _ = run_cli(tmp_path, fixture, service, units=2)
    assert code == 0, capsys.readouterr().err
    assert list((tmp_path / "out").rglob("*.json"))


def test_the_start_up_check_fetches_the_token_from_token_url(emulator, tmp_path, capsys):
    # DPS on the emulator, the apim token service somewhere that does not answer: the check names it.
    dead = f"http://127.0.0.1:{closed_port()}"
    cloud = _only_service_urls(emulator, "enos-dps")
    cloud["enos"]["token_url"] = dead
    fixture = write_fixture(tmp_path, cloud)
    code, _ = run_cli(tmp_path, fixture, "enos-dps", units=1)
    assert code == 3
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"linegate: cloud: enos-dps at {dead} is unreachable (token/get: ")
    assert_no_secret(line, emulator)


def test_the_token_service_gets_its_own_basic_auth_never_the_gateways(emulator):
    c = emulator.credentials
    seen: dict[str, str] = {}

    def hook(request: httpx.Request) -> None:
        seen[request.url.path] = request.headers.get("authorization", "")

    gateway = emulator.base_url.replace("http://", "http://gw:gw-password@")
    apim = emulator.base_url.replace("127.0.0.1", "localhost")
    with EnosDps(gateway, c.enos_app_key, c.enos_app_secret, c.enos_org_id, token_url=apim) as dps:
        dps._client.event_hooks["request"] = [hook]
        dps.create(c.enos_group_id, 1)
    assert seen["/apim-token-service/v2.0/token/get"] == ""
    assert seen["/dps-service/v2.5/pvs/device"] == "Basic " + base64.b64encode(b"gw:gw-password").decode()
    with EnosDps(emulator.base_url, c.enos_app_key, c.enos_app_secret, c.enos_org_id,
                 token_url=apim.replace("http://", "http://tk:tk-password@")) as dps:
        dps._client.event_hooks["request"] = [hook]
        dps.access_token()
    assert seen["/apim-token-service/v2.0/token/get"] == "Basic " + base64.b64encode(b"tk:tk-password").decode()


def test_an_unreachable_token_service_is_named_by_its_url(emulator):
    dead = f"http://127.0.0.1:{closed_port()}"
    c = emulator.credentials
    with EnosDps(emulator.base_url, c.enos_app_key, c.enos_app_secret, c.enos_org_id, token_url=dead) as dps, \
            dps.checking(0.5), pytest.raises(Unreachable) as e:
        dps.access_token()
    assert e.value.url == f"{dead}/apim-token-service/v2.0/token/get"


@pytest.mark.parametrize("service", ["ayla", "yosmart"])
def test_a_password_in_a_header_token_services_own_url_is_refused_naming_that_field(emulator, tmp_path, capsys,
                                                                                     service):
    url = emulator.base_url.replace("http://", "http://user:s3cretpw@")
    fixture = write_fixture(tmp_path, cloud_of(emulator, **{f"{service}.base_url": url}))
    code, _ = run_cli(tmp_path, fixture, service)
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert f"{fixture}: service {service}: cloud.{service}.base_url carries 'user:password@'" in line
    assert "s3cretpw" not in line

