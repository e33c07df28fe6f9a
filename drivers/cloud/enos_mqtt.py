"""EnOS sub-device registration over MQTT: a gateway registers each unit as a sub-device."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from linegate.drivers.cloud.errors import (
    ENOS_MQTT_CODES,
    AuthError,
    BadResponse,
    Unavailable,
    UnknownOutcome,
    Unreachable,
    from_code,
    safe_url,
)
from paho.mqtt.enums import CallbackAPIVersion

SERVICE = "enos-mqtt"
METHOD = "thing.device.register"


def gateway_login(product_key: str, device_key: str, device_secret: str, timestamp_ms: int | None = None,
                  client_id: str | None = None) -> tuple[str, str, str]:
    """(clientId, username, password) for the gateway's MQTT CONNECT, signed with sha256."""
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    ident = client_id or device_key
    mqtt_client_id = f"{ident}|securemode=2,signmethod=sha256,timestamp={ts}|"
    username = f"{device_key}&{product_key}"
    plain = f"clientId{ident}deviceKey{device_key}productKey{product_key}timestamp{ts}{device_secret}"
    password = hashlib.sha256(plain.encode()).hexdigest().upper()
    return mqtt_client_id, username, password


def derive_device_key(prefix: str, mac: str) -> str:
    """A deviceKey that is the same every time the same unit is registered (so a repeat gets 702)."""
    return f"{prefix}{mac.replace(':', '').replace('-', '').lower()}"


def topics(gw_product_key: str, gw_device_key: str) -> tuple[str, str]:
    base = f"/sys/{gw_product_key}/{gw_device_key}/thing/device/register"
    return base, base + "_reply"


def no_delay(client: mqtt.Client) -> None:
    """Small request/reply packets: without TCP_NODELAY each waits ~40 ms for a delayed ACK."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(frozen=True)
class SubDevice:
    asset_id: str
    product_key: str
    device_key: str
    device_secret: str

    def __repr__(self) -> str:
        return f"SubDevice(asset_id={self.asset_id!r}, device_key={self.device_key!r}, device_secret=<redacted>)"


class EnosMqttRegistrar:
    """One gateway session; ``register`` publishes and waits for the reply with the same ``id``."""

    def __init__(self, mqtt_url: str, gw_product_key: str, gw_device_key: str, gw_device_secret: str, *,
                 timeout: float = 10.0) -> None:
        parts = urlsplit(mqtt_url)
        try:
            port = parts.port or 1883
        except ValueError:
            port = 0
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname or not port:
            raise ValueError(f"{safe_url(mqtt_url)!r}: expected mqtt://host:port")
        self.url = f"mqtt://{parts.hostname}:{port}"
        self._host, self._port = parts.hostname, port
        self.product_key, self.device_key = gw_product_key, gw_device_key
        self._secret = gw_device_secret
        self.timeout = timeout
        self.request_topic, self.reply_topic = topics(gw_product_key, gw_device_key)
        self._pending: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._connect_rc: Any = None
        self._client: mqtt.Client | None = None

    def connect(self, connect_timeout: float | None = None) -> EnosMqttRegistrar:
        """``connect_timeout`` (default: the registrar's timeout) bounds the TCP connect only; the broker's
        CONNACK and SUBACK may take the registrar's timeout each."""
        wait = self.timeout
        self._connected.clear()
        self._subscribed.clear()
        self._connect_rc = None
        client_id, username, password = gateway_login(self.product_key, self.device_key, self._secret)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        client.connect_timeout = wait if connect_timeout is None else connect_timeout
        client.username_pw_set(username, password)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *a: self._subscribed.set()
        client.on_message = self._on_message
        try:
            client.connect(self._host, self._port, keepalive=30)
        except OSError as e:
            raise Unreachable(SERVICE, "connect", f"cannot reach the broker: {e.strerror or e}", url=self.url) from e
        no_delay(client)
        client.loop_start()
        self._client = client
        if not self._connected.wait(wait):
            self.close()
            raise Unreachable(SERVICE, "connect", f"no CONNACK from the broker within {wait:g} s", url=self.url)
        if self._connect_rc is not None and self._connect_rc.is_failure:
            self.close()
            raise AuthError(SERVICE, "connect", f"broker refused the gateway login: {self._connect_rc}", url=self.url)
        client.subscribe(self.reply_topic, qos=1)
        if not self._subscribed.wait(wait):
            self.close()
            raise Unavailable(SERVICE, "connect", f"no SUBACK for {self.reply_topic}", url=self.url)
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def __enter__(self) -> EnosMqttRegistrar:
        return self.connect() if self._client is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register(self, product_key: str, device_key: str, device_name: str, *, timezone: str = "+08:00",
                 attributes: dict[str, Any] | None = None, desc: str | None = None,
                 request_id: str | None = None) -> SubDevice:
        params: dict[str, Any] = {"productKey": product_key, "deviceKey": device_key, "timezone": timezone,
                                  "deviceName": {"defaultValue": device_name, "i18nValue": {"en_US": device_name}}}
        if attributes:
            params["deviceAttributes"] = attributes
        if desc:
            params["deviceDesc"] = desc
        rid = request_id or uuid.uuid4().hex
        reply = self.publish({"id": rid, "version": "1.1", "method": METHOD, "params": [params]})
        data = reply.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise BadResponse(SERVICE, "register", "reply code 200 without data[]", url=self.url)
        item = data[0]
        try:
            return SubDevice(str(item["assetId"]), str(item["productKey"]), str(item["deviceKey"]),
                             str(item["deviceSecret"]))
        except KeyError as e:
            raise BadResponse(SERVICE, "register", f"reply data lacks {e.args[0]}", url=self.url) from None

    def publish(self, message: dict[str, Any]) -> dict[str, Any]:
        """Publishes one request and returns its reply (code 200) or raises the mapped error."""
        if self._client is None:
            raise Unavailable(SERVICE, "register", "not connected", url=self.url)
        rid = str(message["id"])
        with self._cond:
            self._pending[rid] = {}
        info = self._client.publish(self.request_topic, json.dumps(message), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            with self._cond:
                self._pending.pop(rid, None)
            raise Unavailable(SERVICE, "register", f"publish failed (rc {info.rc})", url=self.url)
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while not self._pending[rid]:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._pending.pop(rid, None)
                    raise UnknownOutcome(SERVICE, "register", f"no reply with id {rid} within {self.timeout:g} s; "
                                         "the sub-device may have been registered", url=self.url)
                self._cond.wait(left)
            reply = self._pending.pop(rid)
        code = reply.get("code")
        if code != 200:
            raise from_code(ENOS_MQTT_CODES, SERVICE, "register", str(code), str(reply.get("message", "")),
                            url=self.url)
        return reply

    # -- paho callbacks (network thread) -----------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, properties: Any = None) -> None:
        self._connect_rc = rc
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            reply = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(reply, dict):
            return
        rid = str(reply.get("id"))
        with self._cond:
            if rid in self._pending:
                self._pending[rid] = reply
                self._cond.notify_all()
