"""A buffered byte link over any pyserial URL.

pyserial's ``read_until`` reads one byte per system call; the station reads
whatever is waiting and keeps its own buffer, which also lets the protocol
layer take raw byte counts (binary NVS values) out of the same stream.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import serial
from linegate.drivers.dut.errors import DutPortError, DutTimeout

TRANSCRIPT_LIMIT = 2000
# A read waits at most this long before the deadline is checked again. Fixed, because setting a
# pyserial timeout reconfigures the port (a tcsetattr) on every read.
POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    t: float
    direction: str  # ">" host to module, "<" module to host, "=" a port setting (baud rate, DTR/RTS)
    text: str


class SerialLink:
    """Owns one pyserial port (or wraps one already open)."""

    def __init__(
        self,
        port: str | serial.SerialBase,
        *,
        baudrate: int = 115200,
        open_timeout: float = 2.0,
    ) -> None:
        if isinstance(port, str):
            self.url = port
            # pyserial's rfc2217 client has no write timeout (it raises NotImplementedError).
            extra = {} if port.startswith("rfc2217://") else {"write_timeout": open_timeout}
            try:
                self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=POLL_S, **extra)
            except (serial.SerialException, ValueError, OSError) as e:
                raise DutPortError(port, None, f"cannot open serial port: {e}") from e
        else:
            self.url = getattr(port, "port", None) or repr(port)
            self._serial = port
            self._serial.timeout = POLL_S
        self._baudrate = int(getattr(self._serial, "baudrate", None) or baudrate)
        self._buffer = bytearray()
        self.transcript: deque[TranscriptEntry] = deque(maxlen=TRANSCRIPT_LIMIT)
        self.hide_reads = False  # set while a secret is read back: the transcript keeps only its length

    # -- port settings -------------------------------------------------------
    @property
    def baudrate(self) -> int:
        return self._baudrate

    @baudrate.setter
    def baudrate(self, rate: int) -> None:
        self.transcript.append(TranscriptEntry(time.time(), "=", f"baud rate {rate}"))
        try:
            self._serial.baudrate = rate
            self._baudrate = rate
        except (serial.SerialException, ValueError, OSError) as e:
            raise DutPortError(self.url, None, f"cannot set baud rate {rate}: {e}") from e

    def set_line(self, line: str, asserted: bool) -> None:
        """Drive a modem control line (``"dtr"`` or ``"rts"``); asserted pulls the wired pin low."""
        self.transcript.append(TranscriptEntry(time.time(), "=", f"{line.upper()} {'on' if asserted else 'off'}"))
        try:
            setattr(self._serial, line, asserted)
        except (serial.SerialException, ValueError, OSError) as e:
            raise DutPortError(self.url, None, f"cannot set {line.upper()}: {e}") from e

    # -- raw I/O -------------------------------------------------------------
    def write(self, data: bytes, *, command: str | None, shown: str | None = None) -> None:
        """Send bytes; ``shown`` replaces them in the transcript (secrets)."""
        self.transcript.append(
            TranscriptEntry(time.time(), ">", shown if shown is not None else _printable(data))
        )
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as e:
            raise DutPortError(self.url, command, f"write failed: {e}") from e

    def _fill(self, deadline: float, command: str | None) -> None:
        """Wait for at least one more byte, or raise DutTimeout at the deadline."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DutTimeout(
                    self.url,
                    command,
                    "no answer in time",
                    received=self._buffer.decode("latin-1"),
                )
            try:
                waiting = self._serial.in_waiting
                chunk = self._serial.read(waiting or 1)
            except (serial.SerialException, OSError) as e:
                raise DutPortError(self.url, command, f"read failed: {e}") from e
            if chunk:
                self._buffer += chunk
                shown = f"<redacted {len(chunk)} bytes>" if self.hide_reads else _printable(chunk)
                self.transcript.append(TranscriptEntry(time.time(), "<", shown))
                return

    def read_line(self, deadline: float, command: str | None) -> bytes:
        """Next ``\\r\\n``-terminated line without its terminator."""
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            self._fill(deadline, command)

    def skip_noise(self, deadline: float, command: str | None) -> None:
        """Drop leading bytes that cannot start an answer (line noise, blank lines)."""
        while True:
            start = 0
            while start < len(self._buffer) and not 0x20 <= self._buffer[start] <= 0x7E:
                start += 1
            del self._buffer[:start]
            if self._buffer:
                return
            self._fill(deadline, command)

    def peek_startswith(self, prefix: bytes, deadline: float, command: str | None) -> bool:
        """True once the buffer starts with ``prefix``; False once it cannot."""
        while len(self._buffer) < len(prefix):
            if not prefix.startswith(bytes(self._buffer)):
                return False
            self._fill(deadline, command)
        return self._buffer.startswith(prefix)

    def take_fields(
        self, separator: bytes, count: int, deadline: float, command: str | None
    ) -> bytes | None:
        """Take bytes up to the ``count``-th separator, or None if a line ends first."""
        while True:
            pos = -1
            for _ in range(count):
                pos = self._buffer.find(separator, pos + 1)
                if pos < 0:
                    break
            eol = self._buffer.find(b"\r\n")
            if pos >= 0 and (eol < 0 or pos < eol):
                fields = bytes(self._buffer[: pos + 1])
                del self._buffer[: pos + 1]
                return fields
            if eol >= 0:
                return None
            self._fill(deadline, command)

    def read_exact(self, count: int, deadline: float, command: str | None) -> bytes:
        while len(self._buffer) < count:
            self._fill(deadline, command)
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def read_until_prompt(self, prompt: bytes, deadline: float, command: str | None) -> bytes:
        """Consume everything up to and including ``prompt``; return what came before."""
        while True:
            at = self._buffer.find(prompt)
            if at >= 0:
                before = bytes(self._buffer[:at])
                del self._buffer[: at + len(prompt)]
                return before
            self._fill(deadline, command)

    def discard_input(self) -> None:
        """Drop stale bytes (late answers of a timed-out command, boot noise)."""
        try:
            stale = self._buffer + self._serial.read(self._serial.in_waiting or 0)
        except (serial.SerialException, OSError) as e:
            raise DutPortError(self.url, None, f"read failed: {e}") from e
        if stale:
            self.transcript.append(TranscriptEntry(time.time(), "<", _printable(bytes(stale))))
        self._buffer.clear()

    def close(self) -> None:
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass


def _printable(data: bytes) -> str:
    return data.decode("latin-1").encode("unicode_escape").decode("ascii")
