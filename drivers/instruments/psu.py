"""Programmable DC power supply (SCPI: VOLT, CURR, OUTP, MEAS:VOLT?, MEAS:CURR?)."""

from __future__ import annotations

from linegate.drivers.instruments.scpi import ScpiInstrument


class PowerSupply(ScpiInstrument):
    def set_voltage(self, volts: float) -> None:
        self.write(f"VOLT {volts:.4f}")

    def set_current_limit(self, amps: float) -> None:
        self.write(f"CURR {amps:.4f}")

    def output(self, on: bool) -> None:
        self.write(f"OUTP {int(on)}")

    def measure_voltage(self) -> float:
        return self.query_float("MEAS:VOLT?")

    def measure_current(self) -> float:
        return self.query_float("MEAS:CURR?")
