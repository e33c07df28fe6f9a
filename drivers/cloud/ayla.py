"""Ayla Factory Service (AFS) v2.2: reserve DSNs, then manufacture / provision them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from linegate.drivers.cloud.errors import AYLA_CODES, AYLA_HTTP_STATUS, from_code
from linegate.drivers.cloud.http import HttpService

BASE = "/devicefactory/v1/devices"
DOM_AT_FORMAT = "%Y/%m/%d %H:%M:%S UTC"


def format_dom_at(when: datetime) -> str:
    """``dom_at`` as AFS wants it: ``%Y/%m/%d %H:%M:%S %Z`` in UTC, e.g. ``2016/11/24 10:40:22 UTC``."""
    if when.tzinfo is None:
        raise ValueError("dom_at needs a timezone-aware datetime")
    return when.astimezone(UTC).strftime(DOM_AT_FORMAT)


@dataclass(frozen=True)
class ReservedDevice:
    dsn: str
    public_key: str
    private_key: str | None = None

    def __repr__(self) -> str:  # the private key never reaches a log line
        return f"ReservedDevice(dsn={self.dsn!r}, private_key={'<redacted>' if self.private_key else None})"


class Ayla(HttpService):
    service = "ayla"

    def __init__(self, base_url: str, token: str, *, ca_bundle: str | None = None,
                 client_cert: str | tuple[str, str] | None = None, **kwargs: Any) -> None:
        if ca_bundle is not None:
            kwargs.setdefault("verify", ca_bundle)
        super().__init__(base_url, cert=client_cert, **kwargs)
        self._token = token

    def reserve(self, model: str, count: int) -> list[ReservedDevice]:
        body = self._post("reserve", f"{BASE}/reserve", {"model": model, "count": count}, idempotent=False)
        if not isinstance(body, list):
            raise self._bad("reserve", "expected a list of {device: {...}}", path=BASE)
        devices = []
        for item in body:
            device = item.get("device") if isinstance(item, dict) else None
            if not isinstance(device, dict) or not isinstance(device.get("dsn"), str) \
                    or not isinstance(device.get("public_key"), str):
                raise self._bad("reserve", "an item lacks device.dsn or device.public_key", path=BASE)
            private = device.get("private_key")
            devices.append(ReservedDevice(device["dsn"], device["public_key"],
                                          private if isinstance(private, str) else None))
        return devices

    def manufacture(self, dsn: str, *, model: str, mac: str, hwsig: str, dom_at: datetime,
                    **optional: Any) -> dict[str, Any]:
        """Optional: manuf_model, manuf_sn, odm, module_sw_version, wifi_setup_key, ads_connect_flag."""
        payload = {"model": model, "mac": mac, "hwsig": hwsig, "dom_at": format_dom_at(dom_at)}
        payload |= {k: v for k, v in optional.items() if v is not None}
        return self._device("manufacture", f"{BASE}/{dsn}/manufacture", payload)

    def provision(self, dsn: str, *, model: str, dom_at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        """Required: model; mac, hwsig, manuf_model, module_sw_version, dom_at unless given at manufacture."""
        payload: dict[str, Any] = {"model": model}
        if dom_at is not None:
            payload["dom_at"] = format_dom_at(dom_at)
        payload |= {k: v for k, v in fields.items() if v is not None}
        return self._device("provision", f"{BASE}/{dsn}/provision", payload, idempotent=True)

    # ------------------------------------------------------------------
    def _device(self, operation: str, path: str, payload: dict[str, Any], idempotent: bool = False) -> dict[str, Any]:
        body = self._post(operation, path, payload, idempotent=idempotent)
        if not isinstance(body, dict) or not isinstance(body.get("device"), dict):
            raise self._bad(operation, "expected {device: {...}}", path=BASE)
        device: dict[str, Any] = body["device"]
        return device

    def _post(self, operation: str, path: str, payload: dict[str, Any], *, idempotent: bool) -> Any:
        def build() -> httpx.Request:
            return self._client.build_request("POST", path, json=payload,
                                              headers={"Authorization": f"auth_token {self._token}"})

        def parse(response: httpx.Response) -> Any:
            self._check_transport_status(operation, response)
            status = response.status_code
            if status in AYLA_HTTP_STATUS:
                cls, meaning = AYLA_HTTP_STATUS[status]
                raise cls(self.service, operation, f"HTTP {status}: {meaning}", code=status, url=self._url(response))
            body = self._json(operation, response)
            if status == 422:
                raise self._afs_error(operation, response, body)
            if status != 200:
                raise self._bad(operation, "not 200 or a documented failure", response)
            return body

        return self._call(operation, build, parse, idempotent=idempotent)

    def _afs_error(self, operation: str, response: httpx.Response, body: Any) -> Exception:
        # The spec shows both {"error": [...]} and {"errors": [...]}.
        items = body.get("error", body.get("errors")) if isinstance(body, dict) else None
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not items or not isinstance(items[0], dict) or "code" not in items[0]:
            return self._bad(operation, "without error[{code, message}]", response)
        first = items[0]
        return from_code(AYLA_CODES, self.service, operation, str(first["code"]), str(first.get("message", "")),
                         url=self._url(response))
