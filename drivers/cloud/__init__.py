"""Clients of the four provisioning services; see ``errors`` for the exception tree."""

from __future__ import annotations

from linegate.drivers.cloud.ayla import Ayla, ReservedDevice, format_dom_at
from linegate.drivers.cloud.enos_dps import EnosDps
from linegate.drivers.cloud.enos_mqtt import EnosMqttRegistrar, SubDevice, derive_device_key, gateway_login
from linegate.drivers.cloud.errors import (
    AlreadyDone,
    AuthError,
    BadResponse,
    CloudError,
    Conflict,
    Forbidden,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    RateLimited,
    Rejected,
    RetryLater,
    ServiceFailure,
    Unavailable,
    UnknownOutcome,
    Unreachable,
    safe_url,
)
from linegate.drivers.cloud.http import CallInfo, RetryPolicy
from linegate.drivers.cloud.yosmart import YoSmart

__all__ = [
    "AlreadyDone", "AuthError", "Ayla", "BadResponse", "CallInfo", "CloudError", "Conflict", "EnosDps",
    "EnosMqttRegistrar", "Forbidden", "InvalidRequest", "LimitExceeded", "NotFound", "RateLimited", "Rejected",
    "ReservedDevice", "RetryLater", "RetryPolicy", "ServiceFailure", "SubDevice", "Unavailable", "UnknownOutcome",
    "Unreachable", "YoSmart", "derive_device_key", "format_dom_at", "gateway_login", "safe_url",
]
