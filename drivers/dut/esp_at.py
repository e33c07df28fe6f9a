"""ESP-AT module driver (Espressif AT firmware) over any pyserial URL.

Framing per ESP-AT's Basic AT Commands: a command line ends in ``\\r\\n``; the
module answers zero or more lines and then ``OK`` or ``ERROR`` (optionally
preceded by ``ERR CODE:0x01XXYYYY``), or ``busy p...`` while still working.
Echo is on after reset; the driver copes with it on or off.
"""

from __future__ import annotations

import re
import time

import serial
from linegate.drivers.dut.errors import (
    DutBusy,
    DutCommandError,
    DutPortError,
    DutProtocolError,
    DutTimeout,
)
from linegate.drivers.dut.firmware import FirmwareInfo, parse_gmr
from linegate.drivers.dut.link import SerialLink
from linegate.drivers.dut.nvs import MfgNvs, NvsType, NvsValue
from linegate.drivers.dut.reset import ResetLines

# NvsType and NvsValue are imported from here by older callers.
__all__ = ["EspAt", "FirmwareInfo", "NvsType", "NvsValue"]

_LEADING_NOISE = re.compile(rb"^[^\x20-\x7e]+")
_MAC_LINE = "+CIPSTAMAC:"
_MAC = re.compile(r'^\+CIPSTAMAC:"([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})"$')
_ERR_CODE = re.compile(r"^ERR CODE:0x([0-9a-fA-F]{8})$")


class EspAt(MfgNvs):
    """One ESP-AT module on one serial port.

    ``port`` is a pyserial URL (``/dev/ttyUSB0``, a pty path, ``socket://``,
    ``rfc2217://``, ``loop://``) or an already open pyserial object. ``reset_lines`` names the
    modem lines wired to the module's EN and IO0 pins, if any: ``reset()`` then pulses them
    instead of sending ``AT+RST``.
    """

    def __init__(
        self,
        port: str | serial.SerialBase | SerialLink,
        *,
        baudrate: int = 115200,
        timeout: float = 1.0,
        busy_retries: int = 3,
        busy_delay: float = 0.05,
        reset_lines: ResetLines | None = None,
    ) -> None:
        self.link = port if isinstance(port, SerialLink) else SerialLink(port, baudrate=baudrate)
        self.reset_lines = reset_lines
        if reset_lines is not None:
            # pyserial asserts DTR and RTS on open; let the module run (EN and IO0 high).
            reset_lines.release(self.link)
        # The rate the module runs after a reset (AT+UART_CUR is not kept across one).
        self.default_baudrate = self.link.baudrate
        self.timeout = timeout
        self.busy_retries = busy_retries
        self.busy_delay = busy_delay
        self.echo_on = True
        self.syslog_on = False

    @property
    def port(self) -> str:
        return self.link.url

    # -- framing -------------------------------------------------------------
    def command(self, cmd: str, *, timeout: float | None = None) -> list[str]:
        """Run one command; return its answer lines (without echo and ``OK``)."""
        return self._retrying(cmd, timeout or self.timeout)

    def _retrying(
        self,
        cmd: str,
        timeout: float,
        *,
        values: list[NvsValue] | None = None,
        prompt: bool = False,
        shown: str | None = None,
    ) -> list[str]:
        """``_transact``, tried again while the module answers ``busy p...``."""
        for attempt in range(self.busy_retries + 1):
            try:
                return self._transact(cmd, timeout, values=values, prompt=prompt, shown=shown)
            except DutBusy:
                if attempt == self.busy_retries:
                    raise
                if values is not None:
                    values.clear()
                time.sleep(self.busy_delay * (attempt + 1))
        raise AssertionError("unreachable")

    def _send(self, cmd: str, shown: str | None = None) -> float:
        self.link.discard_input()
        self.link.write(cmd.encode("ascii") + b"\r\n", command=shown or cmd, shown=shown)
        return time.monotonic()

    def _transact(
        self,
        cmd: str,
        timeout: float,
        *,
        values: list[NvsValue] | None = None,
        prompt: bool = False,
        shown: str | None = None,
    ) -> list[str]:
        """One command and its answer; ``shown`` stands for ``cmd`` in errors and the transcript."""
        label = shown or cmd
        deadline = self._send(cmd, shown) + timeout
        lines: list[str] = []
        err_code: int | None = None
        while True:
            if values is not None:
                self.link.skip_noise(deadline, label)
            if values is not None and self.link.peek_startswith(b"+SYSMFG:", deadline, label):
                value = self._read_value(deadline, label)
                if value is not None:
                    values.append(value)
                    continue
            if prompt and lines == [] and self._prompt_ready(deadline, label):
                # ``>`` alone (the framing of AT+SYSMFG's reference page): take it off the stream.
                self.link.read_until_prompt(b">", deadline, label)
                return ["OK"]
            line = self._clean(self.link.read_line(deadline, label))
            if not line or line == cmd:
                # Echo (on after every reset, whatever the driver last set).
                continue
            if line == "OK":
                if prompt:
                    # ``OK`` then ``>``: the module now waits for the raw bytes.
                    self.link.read_until_prompt(b">", deadline, label)
                return lines
            if line == "ERROR":
                raise DutCommandError(self.port, label, "\n".join(lines), err_code)
            if line.startswith("busy p"):
                raise DutBusy(self.port, label, "module busy with a previous command", line)
            match = _ERR_CODE.match(line)
            if match:
                err_code = int(match.group(1), 16)
                continue
            lines.append(line)

    def _prompt_ready(self, deadline: float, cmd: str) -> bool:
        return self.link.peek_startswith(b">", deadline, cmd)

    @staticmethod
    def _clean(raw: bytes) -> str:
        return _LEADING_NOISE.sub(b"", raw).decode("ascii", errors="replace").strip()

    # -- basic commands ------------------------------------------------------
    def ping(self) -> None:
        self.command("AT")

    def set_echo(self, on: bool) -> None:
        self.command("ATE1" if on else "ATE0")
        self.echo_on = on

    def set_syslog(self, on: bool) -> None:
        self.command(f"AT+SYSLOG={int(on)}")
        self.syslog_on = on

    def sync(self, attempts: int = 5) -> None:
        """Get the module into a known state: answering, echo off, error codes on."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                self.command("AT", timeout=min(self.timeout, 0.5))
                break
            except (DutTimeout, DutProtocolError, DutCommandError) as e:
                last = e
        else:
            assert last is not None
            raise last
        self.set_echo(False)
        self.set_syslog(True)

    def firmware(self) -> FirmwareInfo:
        """``AT+GMR`` taken apart (every format Espressif has printed: see ``firmware.py``)."""
        return parse_gmr(self.command("AT+GMR"), self.port)

    def mac(self) -> str:
        """The station MAC, ``"24:0a:c4:01:02:03"``: exactly six hex octets, else DutProtocolError."""
        lines = self.command("AT+CIPSTAMAC?")
        for line in lines:
            match = _MAC.match(line)
            if match:
                return match.group(1).lower()
        answered = [line for line in lines if line.startswith(_MAC_LINE)]
        if answered:
            raise DutProtocolError(
                self.port, "AT+CIPSTAMAC?", "malformed station MAC (expected six hex octets aa:bb:cc:dd:ee:ff)",
                answered[0],
            )
        raise DutProtocolError(self.port, "AT+CIPSTAMAC?", "no +CIPSTAMAC line", "\n".join(lines))

    def reset(self, timeout: float = 5.0) -> None:
        """Restart the module and wait for ``ready`` through boot noise, then restore settings.

        With reset lines declared this is a hard reset (EN pulsed low, IO0 high), which also
        recovers a module that no longer answers; otherwise ``AT+RST``.
        """
        if self.reset_lines is not None:
            label = f"hard reset (EN on {self.reset_lines.en.upper()})"
            self.link.discard_input()
            self.reset_lines.hard_reset(self.link)
        else:
            label = "AT+RST"
            self.command("AT+RST")
        if self.link.baudrate != self.default_baudrate:
            self.link.baudrate = self.default_baudrate
        deadline = time.monotonic() + timeout
        while self._clean(self.link.read_line(deadline, label)) != "ready":
            pass
        self.echo_on, self.syslog_on = True, False
        self.set_echo(False)
        self.set_syslog(True)

    def switch_baudrate(self, rate: int, *, settle_s: float = 0.02) -> bool:
        """Move module and host to ``rate`` with ``AT+UART_CUR`` (not saved in flash).

        True once both answer at ``rate``. A refusal, a garbled answer or a module that does not
        answer at the new rate leaves the link at the old rate and returns False; if the module
        answers at neither rate, a hard reset (when reset lines are wired) brings it back to its
        default rate. Only when nothing brings it back is the link lost (DutPortError).
        """
        old = self.link.baudrate
        if rate == old:
            return True
        cmd = f"AT+UART_CUR={rate},8,1,0,0"
        try:
            self.command(cmd)
        except DutCommandError:
            return False  # refused: the module stays at the old rate
        except (DutTimeout, DutProtocolError, DutBusy):
            pass  # unknown whether it switched: ask at the new rate, then at the old one
        self.link.baudrate = rate
        time.sleep(settle_s)
        if self._answers():
            return True
        self.link.baudrate = old
        time.sleep(settle_s)
        if self._answers():
            return False
        if self.reset_lines is not None:
            self.reset()
            return False
        raise DutPortError(
            self.port, cmd, f"the module answers neither at {rate} nor at {old} baud and no reset lines are wired"
        )

    def _answers(self, attempts: int = 2) -> bool:
        for _ in range(attempts):
            try:
                self.command("AT", timeout=min(self.timeout, 0.3))
                return True
            except (DutTimeout, DutProtocolError, DutCommandError, DutBusy):
                continue
        return False

    def close(self) -> None:
        self.link.close()
