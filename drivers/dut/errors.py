"""Exceptions raised by the DUT drivers.

Every error names the port, the command that was being run and what came
back, so an operator can tell a broken cable from a broken unit.

    DutError
    ├── DutPortError        the port cannot be opened or was lost
    ├── DutTimeout          no final answer within the command's timeout
    ├── DutBusy             the module answered ``busy p...``
    ├── DutProtocolError    an answer that does not parse (noise, garbling)
    └── DutCommandError     the module answered ``ERROR`` (with ``ERR CODE`` if on)
"""

from __future__ import annotations

ERR_SUBCATEGORIES = {
    0x02: "no terminator",
    0x03: 'no "AT" prefix',
    0x04: "parameter length mismatch",
    0x05: "parameter type mismatch",
    0x06: "parameter count mismatch",
    0x07: "invalid parameter",
    0x08: "parameter parse failure",
    0x09: "unsupported command",
    0x0A: "command execution failed",
    0x0B: "previous command still processing",
    0x0C: "wrong operation type",
}


def _shorten(data: str, limit: int = 120) -> str:
    return data if len(data) <= limit else data[:limit] + f"...(+{len(data) - limit} chars)"


class DutError(Exception):
    """Base of every DUT driver error."""

    def __init__(self, port: str, command: str | None, problem: str, received: str = "") -> None:
        self.port = port
        self.command = command
        self.problem = problem
        self.received = received
        where = f"{port}: {command}" if command else port
        text = f"{where}: {problem}"
        if received:
            text += f" (received {_shorten(received)!r})"
        super().__init__(text)


class DutPortError(DutError):
    """The serial port could not be opened, or it went away."""


class DutTimeout(DutError):
    """No final ``OK``/``ERROR`` arrived in time."""


class DutBusy(DutError):
    """The module is still processing a previous command."""


class DutProtocolError(DutError):
    """The answer does not have the documented shape."""


class DutCommandError(DutError):
    """The module answered ``ERROR``."""

    def __init__(
        self, port: str, command: str, received: str = "", err_code: int | None = None
    ) -> None:
        self.err_code = err_code
        problem = "module answered ERROR"
        if err_code is not None:
            sub = (err_code >> 16) & 0xFF
            meaning = ERR_SUBCATEGORIES.get(sub, "unknown subcategory")
            problem += f" (ERR CODE:0x{err_code:08x}: {meaning})"
        super().__init__(port, command, problem, received)
