"""Helpers for the cloud client and emulator tests."""

from __future__ import annotations

import httpx
from linegate.drivers.cloud import RetryPolicy
from linegate.fixtures.sim.cloud.server import CloudEmulator

FAST_RETRY = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0)


def secrets_of(emu: CloudEmulator) -> list[str]:
    """Every credential value the emulator accepts: none may appear in a message or report."""
    c = emu.credentials
    return [c.yosmart_token, c.ayla_token, c.ayla_oem_token, c.enos_app_secret, c.gw_device_secret]


def assert_no_secret(text: str, emu: CloudEmulator) -> None:
    for secret in secrets_of(emu):
        assert secret not in text, "a credential leaked into a message"
    assert "PRIVATE KEY" not in text


def sim_state(emu: CloudEmulator) -> dict:
    return httpx.get(f"{emu.base_url}/_sim/state").json()
