"""Programmable DC power supply (SCPI: VOLT, CURR, OUTP, MEAS:VOLT?, MEAS:CURR?)."""

from __future__ import annotations

from typing import Any

from linegate.drivers.instruments.scpi import ScpiInstrument


class PowerSupply(ScpiInstrument):
    """``channel``: the output of a multi-output supply. Every write and reading of this
    driver is preceded by ``INST:NSEL <channel>`` (another channel's driver may share the
    VISA session); a plain ``query()`` is sent as it is."""

    def __init__(self, resource: Any, *, channel: int | None = None, **kwargs: Any) -> None:
        self.channel = channel
        super().__init__(resource, **kwargs)

    def write(self, command: str) -> None:
        self._select_channel()
        super().write(command)

    def query_float(self, command: str) -> float:
        self._select_channel()
        return super().query_float(command)

    def _select_channel(self) -> None:
        if self.channel is not None:
            ScpiInstrument.write(self, f"INST:NSEL {self.channel}")

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
