"""EnOS sub-device registration end to end through a real MQTT broker (embedded amqtt; Mosquitto if up)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from cloudkit import sim_state
from linegate.drivers.cloud import (
    AlreadyDone,
    AuthError,
    EnosMqttRegistrar,
    InvalidRequest,
    LimitExceeded,
    ServiceFailure,
    UnknownOutcome,
    derive_device_key,
    gateway_login,
)
from linegate.fixtures.sim.cloud.server import CloudEmulator


def registrar(emu, secret: str | None = None, timeout: float = 3.0) -> EnosMqttRegistrar:
    c = emu.credentials
    return EnosMqttRegistrar(emu.mqtt_url, c.gw_product_key, c.gw_device_key, secret or c.gw_device_secret,
                             timeout=timeout)


def test_login_signature_as_specified():
    client_id, username, password = gateway_login("pk1", "dk1", "s3cret", timestamp_ms=1700000000000)
    assert client_id == "dk1|securemode=2,signmethod=sha256,timestamp=1700000000000|"
    assert username == "dk1&pk1"
    plain = "clientIddk1deviceKeydk1productKeypk1timestamp1700000000000s3cret"
    assert password == hashlib.sha256(plain.encode()).hexdigest().upper()


def test_register_then_duplicate_is_702(emulator):
    sub = emulator.credentials.sub_product_key
    key = derive_device_key("lg", "AA:BB:CC:00:11:22")
    assert key == derive_device_key("lg", "aabbcc001122") == "lgaabbcc001122"
    with registrar(emulator) as gw:
        device = gw.register(sub, key, "unit 1", attributes={"mac": "aabbcc001122"})
        assert device.device_key == key and device.product_key == sub and len(device.device_secret) == 32
        assert "device_secret=<redacted>" in repr(device)
        with pytest.raises(AlreadyDone) as e:
            gw.register(sub, key, "unit 1")
        assert e.value.code == "702" and device.device_secret not in str(e.value)
    [stored] = sim_state(emulator)["enos_mqtt"]["devices"]
    assert stored["deviceSecretSha256"] == hashlib.sha256(device.device_secret.encode()).hexdigest()


def test_wrong_gateway_secret_is_refused_by_the_broker(emulator):
    with pytest.raises(AuthError, match="refused the gateway login"):
        registrar(emulator, secret="not-the-secret").connect()


@pytest.mark.emulator(product_limit=1)
def test_product_limit_is_739(emulator):
    with registrar(emulator) as gw:
        gw.register(emulator.credentials.sub_product_key, "k1", "one")
        with pytest.raises(LimitExceeded) as e:
            gw.register(emulator.credentials.sub_product_key, "k2", "two")
        assert e.value.code == "739"


def test_714_and_lost_reply(emulator):
    sub = emulator.credentials.sub_product_key
    with registrar(emulator, timeout=0.5) as gw:
        emulator.faults.queue("code:714", service="enos-mqtt")
        with pytest.raises(ServiceFailure) as e:
            gw.register(sub, "k714", "x")
        assert e.value.code == "714"
        emulator.faults.queue("lost-answer", service="enos-mqtt")
        with pytest.raises(UnknownOutcome):
            gw.register(sub, "klost", "x")
        with pytest.raises(AlreadyDone):  # it was registered: a repeat now says 702
            gw.register(sub, "klost", "x")


def test_generic_codes_for_bad_requests(emulator):
    with registrar(emulator) as gw:
        with pytest.raises(InvalidRequest) as e:
            gw.publish({"id": "m1", "version": "1.1", "method": "thing.device.delete", "params": []})
        assert e.value.code == "1260"
        with pytest.raises(InvalidRequest) as e:
            gw.publish({"id": "m2", "version": "1.1", "method": "thing.device.register",
                        "params": [{"productKey": "p"}]})
        assert e.value.code == "1220"
    responder = emulator.services.mqtt
    assert responder.answer(b"")["code"] == 1251
    assert responder.answer(b"{not json")["code"] == 1220


def test_bad_json_over_the_wire(emulator):
    """A raw client publishing garbage gets 1220 on the reply topic."""
    c = emulator.credentials
    client_id, username, password = gateway_login(c.gw_product_key, c.gw_device_key, c.gw_device_secret)
    got: list[dict] = []
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(username, password)
    base = f"/sys/{c.gw_product_key}/{c.gw_device_key}/thing/device/register"
    client.on_connect = lambda cl, *a: cl.subscribe(base + "_reply", qos=1)
    client.on_subscribe = lambda cl, *a: cl.publish(base, b"{\"id\": \"1\", oops", qos=1)
    client.on_message = lambda cl, u, msg: (got.append(json.loads(msg.payload)), done.set())
    host, port = emulator.mqtt_url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.loop_start()
    try:
        assert done.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    assert got[0]["code"] == 1220


def _mosquitto_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _mosquitto_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_responder_on_an_external_broker():
    with CloudEmulator(mqtt_url="mqtt://127.0.0.1:1883", rsa_bits=1024) as emu:
        with registrar(emu) as gw:
            key = "ext" + uuid.uuid4().hex[:12]
            assert gw.register(emu.credentials.sub_product_key, key, "external").device_key == key
            with pytest.raises(AlreadyDone):
                gw.register(emu.credentials.sub_product_key, key, "external")


SEED_REQUEST = {
    "method": "thing.device.register", "id": "1", "version": "1.1",
    "params": [
        {"timezone": "+08:00", "deviceKey": "sample_dev_01", "productKey": "subDeviceProductKey1",
         "deviceAttributes": {"location": "Shanghai", "name": "dev_01"},
         "deviceName": {"defaultValue": "sample_dev_01", "i18nValue": {"en_US": "eng_dev_01", "zh_CN": "dev_01"}},
         "deviceDesc": "dev desc"},
        {"timezone": "+09:00", "deviceKey": "sample_dev_02", "productKey": "subDeviceProductKey2",
         "deviceAttributes": {"location": "Beijing", "name": "dev_01"},
         "deviceName": {"defaultValue": "sample_dev_02", "i18nValue": {"en_US": "eng_dev_02", "zh_CN": "dev_02"}},
         "deviceDesc": "dev desc"},
    ],
}


def test_seed_sample_request_gets_the_sample_reply_shape(emulator):
    with registrar(emulator) as gw:
        reply = gw.publish(SEED_REQUEST)
    assert reply["code"] == 200 and reply["id"] == "1"
    assert [(d["deviceKey"], d["productKey"]) for d in reply["data"]] == [
        ("sample_dev_01", "subDeviceProductKey1"), ("sample_dev_02", "subDeviceProductKey2")]
    assert all(set(d) == {"deviceSecret", "assetId", "deviceKey", "productKey"} for d in reply["data"])
