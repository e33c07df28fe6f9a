"""SCPI bench instruments over pyvisa."""

from __future__ import annotations

from linegate.drivers.instruments.dmm import Multimeter
from linegate.drivers.instruments.errors import (
    InstrumentBadAnswer,
    InstrumentError,
    InstrumentNotFound,
    InstrumentRejected,
    InstrumentTimeout,
)
from linegate.drivers.instruments.psu import PowerSupply
from linegate.drivers.instruments.scpi import ScpiInstrument, open_resource

__all__ = [
    "InstrumentBadAnswer",
    "InstrumentError",
    "InstrumentNotFound",
    "InstrumentRejected",
    "InstrumentTimeout",
    "Multimeter",
    "PowerSupply",
    "ScpiInstrument",
    "open_resource",
]
