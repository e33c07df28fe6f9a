"""Exceptions raised by instrument drivers.

    InstrumentError          names the VISA address and the command
    ├── InstrumentNotFound   the address cannot be opened
    ├── InstrumentTimeout    no answer in time
    └── InstrumentRejected   the instrument's error queue reported an error
"""

from __future__ import annotations


class InstrumentError(Exception):
    def __init__(self, address: str, command: str | None, problem: str) -> None:
        self.address = address
        self.command = command
        self.problem = problem
        where = f"{address}: {command}" if command else address
        super().__init__(f"{where}: {problem}")


class InstrumentNotFound(InstrumentError):
    pass


class InstrumentTimeout(InstrumentError):
    pass


class InstrumentRejected(InstrumentError):
    pass
