"""Exceptions raised by instrument drivers.

    InstrumentError          names the VISA address and the command
    ├── InstrumentNotFound   the address cannot be opened, or the connection fails at *IDN?
    ├── InstrumentTimeout    no answer in time
    ├── InstrumentRejected   the instrument's error queue reported an error (or never empties on open)
    └── InstrumentBadAnswer  an answer that is not ASCII text, or not the number expected
"""

from __future__ import annotations


class InstrumentError(Exception):
    def __init__(self, address: str, command: str | None, problem: str) -> None:
        self.address = address
        self.command = command
        self.problem = " ".join(problem.split())  # one line, whatever the backend's message held
        where = f"{address}: {command}" if command else address
        super().__init__(f"{where}: {self.problem}")


class InstrumentNotFound(InstrumentError):
    pass


class InstrumentTimeout(InstrumentError):
    pass


class InstrumentRejected(InstrumentError):
    pass


class InstrumentBadAnswer(InstrumentError):
    pass
