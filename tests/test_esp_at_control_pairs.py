"""ESP-AT driver: reset lines and baud-rate switching, as exact traffic (every pair and event used)."""

from __future__ import annotations

import pytest
from linegate.drivers.dut import DutPortError, EspAt, ResetLines
from scripted import ScriptedPort

READY = b"\x00\xe4\x8f\r\nets Jun  8 2016\x13\x97\r\n\r\nready\r\n"
AFTER_BOOT = [(b"ATE0\r\n", b"ATE0\r\n\r\nOK\r\n"), (b"AT+SYSLOG=1\r\n", b"OK\r\n")]


class LinePort(ScriptedPort):
    """A scripted port that also logs modem-line and baud-rate changes, in order.

    ``boots`` is what the module prints each time EN is released after being held low.
    """

    def __init__(self, pairs: list[tuple[bytes, bytes]], boots: list[bytes] = ()) -> None:
        super().__init__(pairs)
        self.events: list[str] = []
        self.boots = list(boots)
        self._baudrate = 115200
        self._levels = {"dtr": True, "rts": True}  # pyserial asserts both on open

    def _line(self, name: str, asserted: bool) -> None:
        was = self._levels[name]
        self._levels[name] = asserted
        self.events.append(f"{name}={int(asserted)}")
        if name == "rts" and was and not asserted and self.events.count("rts=1"):
            self.out += self.boots.pop(0)

    dtr = property(lambda self: self._levels["dtr"], lambda self, v: self._line("dtr", v))
    rts = property(lambda self: self._levels["rts"], lambda self, v: self._line("rts", v))

    @property
    def baudrate(self) -> int:
        return self._baudrate

    @baudrate.setter
    def baudrate(self, rate: int) -> None:
        self._baudrate = rate
        self.events.append(f"baud={rate}")


def driver(port: LinePort, reset: ResetLines | None = None) -> EspAt:
    return EspAt(port, timeout=0.1, busy_delay=0.0, reset_lines=reset)


def test_hard_reset_pulses_en_with_io0_high_and_waits_for_ready():
    port = LinePort(AFTER_BOOT, boots=[READY])
    dut = driver(port, ResetLines(en="rts", boot="dtr"))
    dut.reset(timeout=0.5)
    # open: both released; reset: IO0 high, EN low, EN high (esptool's HardReset)
    assert port.events == ["rts=0", "dtr=0", "dtr=0", "rts=1", "rts=0"]
    assert not port.boots
    port.assert_all_used()


def test_without_reset_lines_reset_is_at_rst():
    port = LinePort([(b"AT+RST\r\n", b"OK\r\n" + READY), *AFTER_BOOT])
    driver(port).reset(timeout=0.5)
    assert port.events == []
    port.assert_all_used()


def test_reset_wiring_is_checked():
    with pytest.raises(ValueError, match="both wired to 'rts'"):
        ResetLines(en="rts", boot="rts")
    with pytest.raises(ValueError, match=r"reset\.en: 'en' is not a modem line"):
        ResetLines(en="en")  # type: ignore[arg-type]


def test_baud_switch_moves_module_then_host_and_checks_the_link():
    port = LinePort([(b"AT+UART_CUR=921600,8,1,0,0\r\n", b"OK\r\n"), (b"AT\r\n", b"OK\r\n")])
    dut = driver(port)
    assert dut.switch_baudrate(921600) is True
    assert port.events == ["baud=921600"] and dut.link.baudrate == 921600
    port.assert_all_used()


def test_refused_baud_switch_keeps_the_old_rate():
    port = LinePort([(b"AT+UART_CUR=921600,8,1,0,0\r\n", b"ERR CODE:0x010a0000\r\nERROR\r\n")])
    dut = driver(port)
    assert dut.switch_baudrate(921600) is False
    assert port.events == [] and dut.link.baudrate == 115200
    port.assert_all_used()


def test_garbled_baud_switch_answer_falls_back_to_the_old_rate():
    garbage = bytes([0xCF, 0x8A, 0x9F, 0x85])
    port = LinePort([
        (b"AT+UART_CUR=921600,8,1,0,0\r\n", garbage),
        (b"AT\r\n", b""), (b"AT\r\n", b""),  # nothing at 921600
        (b"AT\r\n", b"OK\r\n"),  # the module never left 115200
    ])
    dut = driver(port)
    assert dut.switch_baudrate(921600) is False
    assert port.events == ["baud=921600", "baud=115200"]
    port.assert_all_used()


def test_module_lost_at_both_rates_is_hard_reset_back_to_its_default_rate():
    port = LinePort([
        (b"AT+UART_CUR=921600,8,1,0,0\r\n", b"OK\r\n"),
        (b"AT\r\n", b""), (b"AT\r\n", b""), (b"AT\r\n", b""), (b"AT\r\n", b""),
        *AFTER_BOOT,
    ], boots=[READY])
    dut = driver(port, ResetLines(en="rts", boot="dtr"))
    assert dut.switch_baudrate(921600) is False
    assert port.events == ["rts=0", "dtr=0", "baud=921600", "baud=115200", "dtr=0", "rts=1", "rts=0"]
    assert dut.link.baudrate == 115200
    port.assert_all_used()


def test_module_lost_without_reset_lines_says_so():
    port = LinePort([(b"AT+UART_CUR=921600,8,1,0,0\r\n", b"OK\r\n")] + [(b"AT\r\n", b"")] * 4)
    with pytest.raises(DutPortError, match="answers neither at 921600 nor at 115200 baud and no reset lines"):
        driver(port).switch_baudrate(921600)
    port.assert_all_used()
