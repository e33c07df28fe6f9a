"""What a plan says about provisioning: which service, its settings, and the pool's watermarks.

Credentials are not here: they belong to the station (the fixture file's
``cloud`` section), so one plan runs against the emulator and the real service.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SERVICES = ("ayla", "yosmart", "enos-dps", "enos-mqtt")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoolSpec(_Strict):
    low: int = Field(5, ge=0, description="refill when fewer identities than this are pooled")
    high: int = Field(20, ge=1, description="refill up to this many")
    batch: int = Field(20, ge=1, le=1000, description="most identities per reserve call (AFS: ≤ 1000)")

    @model_validator(mode="after")
    def _order(self) -> PoolSpec:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is greater than high {self.high}")
        return self


class AylaSpec(_Strict):
    model: str
    provision: bool = False  # also call /provision (needs the OEM token)
    manuf_model: str | None = None
    oem_model: str | None = None
    odm: str | None = None


class YoSmartSpec(_Strict):
    app_eui: str = Field(pattern=r"^[0-9A-Fa-f]{16}$")


class EnosDpsSpec(_Strict):
    group_id: str | None = None  # default: the account's group
    device_data: dict[str, str | int | float] = Field(default_factory=dict)


class EnosMqttSpec(_Strict):
    product_key: str | None = None  # default: the account's sub-device product
    device_key_prefix: str = Field("lg", pattern=r"^[A-Za-z0-9_]{0,16}$")
    timezone: str = Field("+08:00", pattern=r"^[+-]\d\d:\d\d$")


class ProvisioningSpec(_Strict):
    service: Literal["ayla", "yosmart", "enos-dps", "enos-mqtt"]
    namespace: str = Field("", pattern=r"^[a-z_]{0,15}$", description="NVS namespace; default the service's")
    pool: PoolSpec = PoolSpec()
    max_backlog: int = Field(100, ge=0, description="commits that may wait for the service before units error")
    commit: Literal["inline", "background"] = Field(
        "inline", description="inline: the unit waits for its commit; background: the unit ends once its "
        "identity reads back and the commit follows from the durable queue (EnOS MQTT is always inline)")
    flash_baudrate: int | None = Field(
        None, gt=0, le=5_000_000, description="write and read back the identity at this UART rate (AT+UART_CUR, "
        "not saved), then back to the link's rate; a module that refuses stays at the link's rate")
    ayla: AylaSpec | None = None
    yosmart: YoSmartSpec | None = None
    enos_dps: EnosDpsSpec | None = None
    enos_mqtt: EnosMqttSpec | None = None

    @model_validator(mode="after")
    def _settings(self) -> ProvisioningSpec:
        key = self.service.replace("-", "_")
        if self.service in ("ayla", "yosmart") and getattr(self, key) is None:
            raise ValueError(f"service {self.service} needs a '{key}' section")
        return self
