"""YoSmart Device Production API: ``POST /open/production/v2/api`` with ``{method, params}``."""

from __future__ import annotations

from typing import Any

import httpx
from linegate.drivers.cloud.errors import YOSMART_CODES, AuthError, from_code
from linegate.drivers.cloud.http import HttpService

PATH = "/open/production/v2/api"
OK = "000000"


class YoSmart(HttpService):
    service = "yosmart"

    def __init__(self, base_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._token = token

    def request_device_ids(self, size: int) -> list[str]:
        data = self._rpc("requestDeviceId", {"size": size}, idempotent=False)
        return self._str_list(data, "deviceIdList", "requestDeviceId")

    def activate_device_id(self, chip_id: str, app_eui: str, device_id: str | None = None) -> str:
        """Ties a deviceId to this chip. Repeating it for the same deviceId and chip is safe."""
        params: dict[str, Any] = {"chipId": chip_id, "appEui": app_eui}
        if device_id is not None:
            params["deviceId"] = device_id
        data = self._rpc("activateDeviceId", params, idempotent=device_id is not None)
        return self._str(data, "deviceId", "activateDeviceId")

    def request_sn(self, size: int) -> list[str]:
        data = self._rpc("requestSN", {"size": size}, idempotent=False)
        return self._str_list(data, "snList", "requestSN")

    def bind_sn(self, device_id: str, sn: str | None = None) -> str:
        """Binds ``sn`` (or, when None, one the service generates) to an activated deviceId."""
        data = self._rpc("bindSN", {"deviceId": device_id, "sn": sn or ""}, idempotent=bool(sn))
        return self._str(data, "sn", "bindSN")

    # ------------------------------------------------------------------
    def _rpc(self, method: str, params: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        def build() -> httpx.Request:
            return self._client.build_request(
                "POST", PATH, json={"method": method, "params": params},
                headers={"Authorization": f"Bearer {self._token}"},
            )

        def parse(response: httpx.Response) -> dict[str, Any]:
            self._check_transport_status(method, response)
            if response.status_code in (401, 403):
                raise AuthError(self.service, method, f"HTTP {response.status_code}", code=response.status_code,
                                url=self._url(response))
            body = self._json(method, response)
            if not isinstance(body, dict) or not isinstance(body.get("code"), str):
                raise self._bad(method, "no string 'code'", response)
            code = body["code"]
            if code != OK:
                raise from_code(YOSMART_CODES, self.service, method, code, str(body.get("desc") or ""),
                                url=self._url(response))
            data = body.get("data")
            if not isinstance(data, dict):
                raise self._bad(method, "code 000000 without a 'data' object", response)
            return data

        return self._call(method, build, parse, idempotent=idempotent)

    def _str(self, data: dict[str, Any], key: str, method: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise self._bad(method, f"data.{key} is not a non-empty string", path=PATH)
        return value

    def _str_list(self, data: dict[str, Any], key: str, method: str) -> list[str]:
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._bad(method, f"data.{key} is not a list of strings", path=PATH)
        return value
