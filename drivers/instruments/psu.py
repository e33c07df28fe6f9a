"""Programmable DC power supply (SCPI: VOLT, CURR, OUTP, MEAS:VOLT?, MEAS:CURR?).

``OUTP ON`` / ``OUTP OFF``: every supply takes the ON|OFF form of the SCPI boolean, while some
(Rigol DP800) refuse ``1``/``0`` with -224. The state query answers ``1``/``0`` on most
supplies (Keysight E36xx) and ``ON``/``OFF`` on others (Rigol DP800); both are read.
"""

from __future__ import annotations

from linegate.drivers.instruments.errors import InstrumentBadAnswer
from linegate.drivers.instruments.scpi import ScpiInstrument, shown

_OUTPUT_STATES = {"1": True, "ON": True, "0": False, "OFF": False}


class PowerSupply(ScpiInstrument):
    def set_voltage(self, volts: float) -> None:
        self.write(f"VOLT {volts:.4f}")

    def set_current_limit(self, amps: float) -> None:
        self.write(f"CURR {amps:.4f}")

    def output(self, on: bool) -> None:
        self.write(f"OUTP {'ON' if on else 'OFF'}")

    def is_output_on(self) -> bool:
        answer = self.query("OUTP?")
        state = _OUTPUT_STATES.get(answer.upper())
        if state is None:
            raise InstrumentBadAnswer(self.address, "OUTP?", f"not an output state (1, 0, ON, OFF): {shown(answer)}")
        return state

    def measure_voltage(self) -> float:
        return self.query_float("MEAS:VOLT?")

    def measure_current(self) -> float:
        return self.query_float("MEAS:CURR?")
