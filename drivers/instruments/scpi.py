"""A SCPI instrument over pyvisa: any backend, any resource string."""

from __future__ import annotations

from typing import Any

import pyvisa
import pyvisa.errors
from linegate.drivers.instruments.errors import (
    InstrumentError,
    InstrumentNotFound,
    InstrumentRejected,
    InstrumentTimeout,
)


def open_resource(
    address: str,
    backend: str = "",
    *,
    timeout_ms: int = 2000,
    manager: pyvisa.ResourceManager | None = None,
) -> Any:
    """Open ``address`` with ``backend`` (``""`` system VISA, ``@py``, ``file.yaml@sim``)."""
    try:
        rm = manager or pyvisa.ResourceManager(backend)
        resource = rm.open_resource(address, read_termination="\n", write_termination="\n")
    except (pyvisa.errors.Error, OSError, ValueError, LookupError) as e:
        raise InstrumentNotFound(address, None, f"cannot open ({backend or 'system VISA'}): {e}") from e
    resource.timeout = timeout_ms
    return resource


class ScpiInstrument:
    """Shared SCPI plumbing: query, write with error-queue check, ``*IDN?``."""

    def __init__(self, resource: Any, *, address: str | None = None, check_errors: bool = True):
        self.resource = resource
        self.address = address or getattr(resource, "resource_name", repr(resource))
        self.check_errors = check_errors
        self.idn = self.query("*IDN?")
        if not self.idn:
            raise InstrumentNotFound(self.address, "*IDN?", "empty identification: nothing answering there")

    def query(self, command: str) -> str:
        try:
            return str(self.resource.query(command)).strip()
        except pyvisa.errors.VisaIOError as e:
            if e.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise InstrumentTimeout(self.address, command, "no answer in time") from e
            raise InstrumentError(self.address, command, f"VISA I/O error: {e}") from e
        except (pyvisa.errors.Error, OSError) as e:
            raise InstrumentError(self.address, command, f"VISA error: {e}") from e

    def query_float(self, command: str) -> float:
        answer = self.query(command)
        try:
            return float(answer)
        except ValueError as e:
            raise InstrumentError(self.address, command, f"not a number: {answer!r}") from e

    def write(self, command: str) -> None:
        try:
            self.resource.write(command)
        except (pyvisa.errors.Error, OSError) as e:
            raise InstrumentError(self.address, command, f"VISA error: {e}") from e
        if self.check_errors:
            error = self.query("SYST:ERR?")
            code = error.split(",", 1)[0].strip()
            if code not in ("0", "+0"):
                raise InstrumentRejected(self.address, command, f"instrument reported {error}")

    def close(self) -> None:
        try:
            self.resource.close()
        except (pyvisa.errors.Error, OSError):
            pass
