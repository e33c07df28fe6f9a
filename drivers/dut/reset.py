"""Reset wiring of a DUT port: which modem line drives the module's EN and IO0 pins.

ESP development boards (and most production jigs) wire DTR and RTS through two transistors to EN
and IO0, the way esptool's reset sequences expect (esptool ``reset.py``): an *asserted* line pulls
its pin low. Holding EN low keeps the chip in reset; releasing it with IO0 high boots the firmware,
with IO0 low it enters the ROM download mode instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from linegate.drivers.dut.link import SerialLink

Line = Literal["dtr", "rts"]
LINES: tuple[Line, ...] = ("dtr", "rts")
# esptool HardReset holds EN low for 100 ms.
RESET_HOLD_S = 0.1


@dataclass(frozen=True, slots=True)
class ResetLines:
    """``en``: the line wired to EN (reset); ``boot``: the line wired to IO0, if any."""

    en: Line
    boot: Line | None = None

    def __post_init__(self) -> None:
        for name, value in (("en", self.en), ("boot", self.boot)):
            if value is not None and value not in LINES:
                raise ValueError(f"reset.{name}: {value!r} is not a modem line (use 'dtr' or 'rts')")
        if self.en == self.boot:
            raise ValueError(f"reset: en and boot are both wired to {self.en!r}")

    def release(self, link: SerialLink) -> None:
        """Both lines off: EN and IO0 high, the module runs its firmware.

        EN's line first: with the auto-reset circuit, dropping the IO0 line first would leave the
        EN line asserted alone for a moment, and that pulls EN low (a reset).
        """
        link.set_line(self.en, False)
        if self.boot is not None:
            link.set_line(self.boot, False)

    def hard_reset(self, link: SerialLink, hold_s: float = RESET_HOLD_S) -> None:
        """Pulse EN low with IO0 high, so the module boots its firmware (esptool's HardReset)."""
        if self.boot is not None:
            link.set_line(self.boot, False)
        link.set_line(self.en, True)
        time.sleep(hold_s)
        link.set_line(self.en, False)
