"""A SCPI instrument over pyvisa: any backend, any resource string."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import pyvisa
import pyvisa.errors
from linegate.drivers.instruments.errors import (
    InstrumentBadAnswer,
    InstrumentError,
    InstrumentNotFound,
    InstrumentRejected,
    InstrumentTimeout,
)

# SCPI <NRf>: NR1 (integer), NR2 (fixed point), NR3 (exponent). Python's float() also takes
# "nan", "inf" and "1_000", none of which an instrument means as a reading.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ERROR_CODE = re.compile(r"[+-]?\d+")
_SHOWN = 40  # characters of a bad answer kept in a message
ERROR_QUERY = "SYST:ERR?"
MAX_STALE_ERRORS = 32  # reads of the error queue on open before giving up on emptying it

log = logging.getLogger(__name__)


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


def shown(answer: bytes | str) -> str:
    """A bad answer as it may go into a one-line, ASCII message: escaped and cut short."""
    cut = answer[:_SHOWN]
    text = repr(cut) if isinstance(cut, bytes) else ascii(cut)
    return f"{text}... ({len(answer)} long)" if len(answer) > _SHOWN else text


def is_text(answer: str) -> bool:
    """Printable ASCII (tabs allowed): what a SCPI instrument answers to a text query."""
    return all(" " <= c <= "~" or c == "\t" for c in answer)


class ScpiInstrument:
    """Shared SCPI plumbing: query, write with error-queue check, ``*IDN?``.

    Every failure of the instrument or its VISA backend leaves as an ``InstrumentError``
    naming the address and the command, whatever the backend raised.
    """

    def __init__(self, resource: Any, *, address: str | None = None, check_errors: bool = True):
        """Identify the instrument, then (``check_errors``) clear its status and empty its error queue.

        Errors left in the queue by an earlier session are kept in ``stale_errors`` and logged;
        without this the first setting of the session would be blamed for them.
        """
        self.resource = resource
        self.address: str = address if address else str(getattr(resource, "resource_name", repr(resource)))
        self.check_errors = check_errors
        self.stale_errors: tuple[str, ...] = ()
        try:
            self.idn = self.query("*IDN?")
        except InstrumentError as e:
            if type(e) is not InstrumentError:  # a timeout or a bad answer: something is there
                raise
            raise InstrumentNotFound(self.address, "*IDN?", e.problem) from e  # e.g. connection refused
        if not self.idn:
            raise InstrumentNotFound(self.address, "*IDN?", "empty identification: nothing answering there")
        if check_errors:
            self._clear_status()

    def _clear_status(self) -> None:
        """``*CLS``, then read the error queue until it says no error (at most ``MAX_STALE_ERRORS`` reads).

        ``*CLS`` empties the queue on an IEEE 488.2 instrument; reading it out as well covers the
        ones (and simulators) that keep their queue through ``*CLS``.
        """
        self._send("*CLS")
        stale: list[str] = []
        for _ in range(MAX_STALE_ERRORS):
            code, entry = self._read_error_queue("*CLS")
            if code == 0:
                break
            stale.append(entry)
        else:
            raise InstrumentRejected(
                self.address, f"*CLS; {ERROR_QUERY}",
                f"error queue still not empty after {MAX_STALE_ERRORS} reads, last {entry}")
        self.stale_errors = tuple(stale)
        for entry in stale:
            log.info("%s: stale error cleared on open: %s", self.address, entry)

    def query(self, command: str) -> str:
        try:
            answer = self.resource.query(command)
        except pyvisa.errors.VisaIOError as e:
            if e.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise InstrumentTimeout(self.address, command, "no answer in time") from e
            raise InstrumentError(self.address, command, f"VISA I/O error: {e}") from e
        except UnicodeDecodeError as e:  # pyvisa decodes the whole answer as ASCII
            problem = f"answer is not ASCII text: {shown(e.object.strip())}"
            raise InstrumentBadAnswer(self.address, command, problem) from e
        except (pyvisa.errors.Error, OSError, ValueError) as e:
            raise InstrumentError(self.address, command, f"VISA error: {e}") from e
        text = str(answer).strip()
        if not is_text(text):  # a resource decoding with another encoding, or control bytes
            raise InstrumentBadAnswer(self.address, command, f"answer is not ASCII text: {shown(text)}")
        return text

    def query_float(self, command: str) -> float:
        answer = self.query(command)
        if not _NUMBER.fullmatch(answer):
            raise InstrumentBadAnswer(self.address, command, f"not a number: {shown(answer)}")
        value = float(answer)
        if not math.isfinite(value):
            raise InstrumentBadAnswer(self.address, command, f"not a finite number: {shown(answer)}")
        return value

    def write(self, command: str) -> None:
        """Send a setting; with ``check_errors`` the error queue must then say no error."""
        self._send(command)
        if self.check_errors:
            self._check_error_queue(command)

    def _send(self, command: str) -> None:
        try:
            self.resource.write(command)
        except (pyvisa.errors.Error, OSError, ValueError) as e:
            raise InstrumentError(self.address, command, f"VISA error: {e}") from e

    def _check_error_queue(self, command: str) -> None:
        """After ``command``: the instrument's error queue must say no error."""
        code, entry = self._read_error_queue(command)
        if code != 0:
            raise InstrumentRejected(self.address, command, f"instrument reported {entry}")

    def _read_error_queue(self, command: str) -> tuple[int, str]:
        """One entry of the error queue (code, whole entry), read while checking ``command``."""
        try:
            entry = self.query(ERROR_QUERY)
        except InstrumentError as e:  # name the command whose outcome was being checked as well
            raise type(e)(self.address, f"{command}; {ERROR_QUERY}", e.problem) from e
        code = entry.split(",", 1)[0].strip()
        if not _ERROR_CODE.fullmatch(code):
            raise InstrumentBadAnswer(self.address, f"{command}; {ERROR_QUERY}",
                                      f"not an error-queue entry: {shown(entry)}")
        return int(code), entry

    def close(self) -> None:
        try:
            self.resource.close()
        except (pyvisa.errors.Error, OSError):
            pass
