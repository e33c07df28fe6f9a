"""Digital multimeter (SCPI: MEAS:VOLT:DC?, MEAS:CURR:DC?)."""

from __future__ import annotations

from linegate.drivers.instruments.scpi import ScpiInstrument


class Multimeter(ScpiInstrument):
    def measure_dc_voltage(self) -> float:
        return self.query_float("MEAS:VOLT:DC?")

    def measure_dc_current(self) -> float:
        return self.query_float("MEAS:CURR:DC?")
