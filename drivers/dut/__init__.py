"""Drivers for the unit under test."""

from __future__ import annotations

from linegate.drivers.dut.errors import (
    DutBusy,
    DutCommandError,
    DutError,
    DutPortError,
    DutProtocolError,
    DutTimeout,
)
from linegate.drivers.dut.esp_at import EspAt
from linegate.drivers.dut.firmware import FirmwareInfo, parse_gmr
from linegate.drivers.dut.link import SerialLink
from linegate.drivers.dut.nvs import NvsType, NvsValue
from linegate.drivers.dut.reset import ResetLines

__all__ = [
    "DutBusy",
    "DutCommandError",
    "DutError",
    "DutPortError",
    "DutProtocolError",
    "DutTimeout",
    "EspAt",
    "FirmwareInfo",
    "NvsType",
    "NvsValue",
    "ResetLines",
    "SerialLink",
    "parse_gmr",
]
