"""EnOS DPS v2.5 behind the EnOS API gateway (apim token + per-request signature)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from linegate.drivers.cloud.errors import (
    ENOS_DPS_CODES,
    ENOS_GATEWAY_CODES,
    AuthError,
    CloudError,
    from_code,
)
from linegate.drivers.cloud.http import HttpService, split_userinfo

TOKEN_PATH = "/apim-token-service/v2.0/token/get"
DPS_PATH = "/dps-service/v2.5/pvs/device"
REFRESH_MARGIN_S = 60.0


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def token_encryption(app_key: str, timestamp: str, app_secret: str) -> str:
    return sha256_hex(app_key + timestamp + app_secret)


def params_data(query: dict[str, str], body: bytes) -> str:
    """Query parameters sorted by name as ``k1v1k2v2…``, then the exact body."""
    return "".join(f"{k}{query[k]}" for k in sorted(query)) + body.decode()


def request_signature(access_token: str, query: dict[str, str], body: bytes, timestamp: str,
                      app_secret: str) -> str:
    return sha256_hex(access_token + params_data(query, body) + timestamp + app_secret)


def _ms() -> str:
    return str(int(time.time() * 1000))


class EnosDps(HttpService):
    service = "enos-dps"

    def __init__(self, base_url: str, app_key: str, app_secret: str, org_id: str, *,
                 token_url: str | None = None, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        """``base_url`` is the API gateway DPS is behind; ``token_url`` the apim token service when it
        is elsewhere (its own ``user:password@``, never the gateway's, is sent to it).
        ``clock`` measures the token's lifetime only; timestamps are always wall-clock time."""
        super().__init__(base_url, **kwargs)
        self.token_url = self.base_url
        self._token_auth: httpx.Auth | None = None
        if token_url is not None:
            bare, auth = split_userinfo(token_url.rstrip("/"))
            if bare != self.base_url or auth is not None:
                self.token_url, self._token_auth = bare, auth or httpx.Auth()
        self.app_key = app_key
        self._app_secret = app_secret
        self.org_id = org_id
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.token_fetches = 0

    # -- DPS actions -------------------------------------------------------
    def allocate(self, sn: str, device_data: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"sn": sn}
        if device_data is not None:
            body["deviceData"] = device_data
        device: dict[str, Any] = self._action("allocate", body, idempotent=False)
        return device

    def get(self, sn: str) -> dict[str, Any]:
        """The PvsDevice as the service sees it: the truth after an unknown outcome."""
        device: dict[str, Any] = self._action("get", {"sn": sn}, idempotent=True)
        return device

    def create(self, group_id: str, count: int) -> list[str]:
        data = self._action("create", {"groupId": group_id, "count": count}, idempotent=False)
        if not isinstance(data, list) or not all(isinstance(s, str) for s in data):
            raise self._bad("create", "data is not a list of SN strings", path=DPS_PATH)
        return data

    def reset_allocation_status(self, sn: str) -> dict[str, Any]:
        device: dict[str, Any] = self._action("resetAllocationStatus", {"sn": sn}, idempotent=True)
        return device

    # -- gateway token -----------------------------------------------------
    def access_token(self) -> str:
        with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires - REFRESH_MARGIN_S:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def _invalidate_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _fetch_token(self) -> None:
        operation = "token/get"

        def build() -> httpx.Request:
            ts = _ms()
            payload = {"appKey": self.app_key, "encryption": token_encryption(self.app_key, ts, self._app_secret),
                       "timestamp": ts}
            return self._client.build_request("POST", self.token_url + TOKEN_PATH, json=payload)

        def parse(response: httpx.Response) -> tuple[str, float]:
            body = self._gateway_body(operation, response)
            status = body.get("status", body.get("code"))
            if status != 0:
                raise from_code(ENOS_GATEWAY_CODES, self.service, operation, str(status), str(body.get("msg", "")),
                                url=self._url(response))
            data = body.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("accessToken"), str):
                raise self._bad(operation, "no data.accessToken", response)
            return data["accessToken"], float(data.get("expire", 7200))

        token, expire = self._call(operation, build, parse, idempotent=True, auth=self._token_auth)
        self.token_fetches += 1
        self._token, self._token_expires = token, self._clock() + expire

    # -- one signed call -------------------------------------------------
    def _action(self, action: str, payload: dict[str, Any], *, idempotent: bool) -> Any:
        query = {"action": action, "orgId": self.org_id}
        content = json.dumps(payload, separators=(",", ":")).encode()
        refreshed = [False]

        def build() -> httpx.Request:
            token = self.access_token()
            ts = _ms()
            headers = {
                "Content-Type": "application/json",
                "apim-accesstoken": token,
                "apim-timestamp": ts,
                "apim-signature": request_signature(token, query, content, ts, self._app_secret),
            }
            return self._client.build_request("POST", DPS_PATH, params=query, content=content, headers=headers)

        def parse(response: httpx.Response) -> Any:
            body = self._gateway_body(action, response)
            code = body.get("code")
            if code == 0:
                if "data" not in body:
                    raise self._bad(action, "code 0 without 'data'", response)
                return body["data"]
            table = ENOS_GATEWAY_CODES if str(code) in ENOS_GATEWAY_CODES else ENOS_DPS_CODES
            error = from_code(table, self.service, action, str(code), str(body.get("msg", "")),
                              url=self._url(response))
            if error.code == "1203" and not refreshed[0]:
                # An expired token is refreshed once per call; the retry is re-signed.
                refreshed[0] = True
                self._invalidate_token()
                raise _TokenRefreshed(self.service, action, "token expired, refreshed", code=1203)
            raise error

        return self._call(action, build, parse, idempotent=idempotent)

    def _gateway_body(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        self._check_transport_status(operation, response)
        if response.status_code in (401, 403):
            raise AuthError(self.service, operation, f"HTTP {response.status_code}", code=response.status_code,
                            url=self._url(response))
        body = self._json(operation, response)
        if not isinstance(body, dict) or ("code" not in body and "status" not in body):
            raise self._bad(operation, "no 'code'", response)
        return body


class _TokenRefreshed(CloudError):
    """Internal: retry at once with a fresh token."""

    retryable = True
    retry_now = True
