"""Programmable DC power supply (SCPI: VOLT, CURR, OUTP, MEAS:VOLT?, MEAS:CURR?).

``OUTP ON`` / ``OUTP OFF``: every supply takes the ON|OFF form of the SCPI boolean, while some
(Rigol DP800) refuse ``1``/``0`` with -224. The state query answers ``1``/``0`` on most
supplies (Keysight E36xx) and ``ON``/``OFF`` on others (Rigol DP800); both are read.
"""

from __future__ import annotations

from typing import Any

from linegate.drivers.instruments.errors import InstrumentBadAnswer
from linegate.drivers.instruments.scpi import ScpiInstrument, shown

_OUTPUT_STATES = {"1": True, "ON": True, "0": False, "OFF": False}


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
        self.write(f"OUTP {'ON' if on else 'OFF'}")

    def is_output_on(self) -> bool:
        self._select_channel()
        answer = self.query("OUTP?")
        state = _OUTPUT_STATES.get(answer.upper())
        if state is None:
            raise InstrumentBadAnswer(self.address, "OUTP?", f"not an output state (1, 0, ON, OFF): {shown(answer)}")
        return state

    def measure_voltage(self) -> float:
        return self.query_float("MEAS:VOLT?")

    def measure_current(self) -> float:
        return self.query_float("MEAS:CURR?")
