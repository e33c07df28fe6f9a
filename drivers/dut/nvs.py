"""Manufacturing NVS over ``AT+SYSMFG``: namespaces, typed keys, long values in pieces.

Split from ``esp_at.py``; ``EspAt`` mixes it in and owns the framing it uses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from linegate.drivers.dut.errors import DutCommandError, DutError, DutProtocolError
from linegate.drivers.dut.link import SerialLink

_NAMESPACE = re.compile(r'^\+SYSMFG:"([^"]+)"$')
_VALUE_HEADER = re.compile(rb'^\+SYSMFG:"([^"]*)","([^"]*)",([1-8]),(\d+),')
_NUMERIC_RANGES = {
    1: (0, 0xFF),
    2: (-0x80, 0x7F),
    3: (0, 0xFFFF),
    4: (-0x8000, 0x7FFF),
    5: (0, 0xFFFFFFFF),
    6: (-0x80000000, 0x7FFFFFFF),
}


class NvsType(IntEnum):
    U8 = 1
    I8 = 2
    U16 = 3
    I16 = 4
    U32 = 5
    I32 = 6
    STRING = 7
    BINARY = 8


@dataclass(frozen=True, slots=True)
class NvsValue:
    namespace: str
    key: str
    type: NvsType
    value: int | bytes



class MfgNvs:
    """The AT+SYSMFG commands of an ESP-AT module."""

    link: SerialLink
    timeout: float
    # Provided by the driver that mixes this in.
    command: Callable[..., list[str]]
    _retrying: Callable[..., list[str]]
    _clean: Callable[[bytes], str]

    def _read_value(self, deadline: float, cmd: str) -> NvsValue | None:
        # +SYSMFG:"ns","key",<type>,<length>,<raw value>: the value may hold any
        # byte, so it is taken by length, not by line.
        header = self.link.take_fields(b",", 4, deadline, cmd)
        if header is None:
            return None
        match = _VALUE_HEADER.match(header)
        if match is None:
            raise DutProtocolError(self.link.url, cmd, "malformed +SYSMFG answer", header.decode("latin-1"))
        ns, key, type_, length = match.groups()
        raw = self.link.read_exact(int(length), deadline, cmd)
        rest = self.link.read_line(deadline, cmd)
        if rest.strip():
            raise DutProtocolError(
                self.link.url, cmd, f"value longer than its declared {int(length)} bytes", rest.decode("latin-1")
            )
        nvs_type = NvsType(int(type_))
        value: int | bytes
        if nvs_type <= NvsType.I32:
            try:
                value = int(raw)
            except ValueError as e:
                raise DutProtocolError(self.link.url, cmd, "numeric value does not parse", raw.decode("latin-1")) from e
        else:
            value = raw
        return NvsValue(ns.decode(), key.decode(), nvs_type, value)


    # -- manufacturing NVS (AT+SYSMFG) --------------------------------------
    def mfg_namespaces(self) -> list[str]:
        lines = self.command("AT+SYSMFG?")
        return [m.group(1) for m in map(_NAMESPACE.match, lines) if m]

    def mfg_read(
        self, namespace: str, key: str, offset: int | None = None, length: int | None = None, *,
        secret: bool = False,
    ) -> NvsValue:
        """Read one key; ``secret`` keeps the answer out of the transcript."""
        cmd = f'AT+SYSMFG=1,"{namespace}","{key}"'
        if offset is not None or length is not None:
            cmd += f",{offset or 0},{length or 0}"
        values: list[NvsValue] = []
        self.link.hide_reads = secret
        try:
            self._retrying(cmd, self.timeout * 2, values=values)
        except DutError as e:
            if secret and e.received and not isinstance(e, DutCommandError):
                raise DutProtocolError(self.link.url, cmd, e.problem, "<redacted>") from None
            raise
        finally:
            self.link.hide_reads = False
        found = [v for v in values if v.namespace == namespace and v.key == key]
        if len(found) != 1:
            raise DutProtocolError(self.link.url, cmd, f"expected one value, got {len(found)}")
        return found[0]

    def mfg_read_all(self, namespace: str, key: str, chunk: int = 1024, *, secret: bool = False) -> NvsValue:
        """Read a long value in offset/length pieces (keeps each answer short)."""
        first = self.mfg_read(namespace, key, 0, chunk, secret=secret)
        if isinstance(first.value, int) or len(first.value) < chunk:
            return first
        parts = [first.value]
        while len(parts[-1]) == chunk:
            part = self.mfg_read(namespace, key, chunk * len(parts), chunk, secret=secret).value
            assert isinstance(part, bytes)
            parts.append(part)
        return NvsValue(namespace, key, first.type, b"".join(parts))

    def mfg_write(
        self,
        namespace: str,
        key: str,
        type_: NvsType,
        value: int | bytes | str,
        *,
        secret: bool = False,
    ) -> None:
        """Write one key; ``secret`` keeps the value out of the transcript."""
        base = f'AT+SYSMFG=2,"{namespace}","{key}",{int(type_)}'
        if type_ <= NvsType.I32:
            if not isinstance(value, int):
                raise TypeError(f"NVS type {type_.name} takes an int, not {type(value).__name__}")
            low, high = _NUMERIC_RANGES[type_]
            if not low <= value <= high:
                raise ValueError(f"{value} is outside {type_.name} range {low}..{high}")
            cmd = f"{base},{value}"
            self._retrying(cmd, self.timeout, shown=f"{base},<redacted>" if secret else None)
            return
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        cmd = f"{base},{len(data)}"
        self._retrying(cmd, self.timeout * 2, prompt=True)
        shown = f"<redacted {len(data)} bytes>" if secret else None
        self.link.write(data, command=cmd, shown=shown)
        deadline = time.monotonic() + self.timeout * 2
        lines: list[str] = []
        while True:
            line = self._clean(self.link.read_line(deadline, cmd))
            if line == "OK":
                return
            if line == "ERROR":
                raise DutCommandError(self.link.url, cmd, "\n".join(lines))
            if line == "ready":
                raise DutProtocolError(self.link.url, cmd, "module rebooted during the write")
            if line:
                lines.append(line)

    def mfg_erase(self, namespace: str, key: str | None = None) -> None:
        cmd = f'AT+SYSMFG=0,"{namespace}"' + (f',"{key}"' if key else "")
        self.command(cmd, timeout=self.timeout * 2)

