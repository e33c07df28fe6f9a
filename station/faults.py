"""Station faults: the station broke, not the unit. The run stops, loudly, with exit code 1.

A fault is told in one sentence on the console; its full traceback goes to a log file in the run
folder (or, when that cannot be written, the first place that can take it).
"""

from __future__ import annotations

import errno
import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from linegate.errors import LinegateError

FAULT_LOG = "station-fault.log"


class StationFault(LinegateError):
    """The station cannot go on (a bug, a lost key, a full disk). ``log`` names the traceback's file."""

    exit_code = 1
    label = "station fault"

    def __init__(self, sentence: str, details: str = "", log: Path | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.details = details
        self.log = log

    def __str__(self) -> str:
        if self.log is not None:
            return f"{self.sentence} (details in {self.log})"
        return self.sentence


class Terminated(KeyboardInterrupt):
    """SIGTERM: the station stops the way Ctrl-C stops it, and exits 143."""


def no_space(exc: BaseException, ledger: str = "the ledger") -> str | None:
    """The path a write failed on for lack of space, or None when ``exc`` is not that.

    SQLite says only "database or disk is full": ``ledger`` names the database."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return str(cause.filename or "?")
        if "database or disk is full" in str(cause):
            return ledger
        cause = cause.__cause__ or cause.__context__
    return None


def sentence(exc: BaseException, where: str, ledger: str = "the ledger") -> str:
    """One line for the console and the unit record: what broke, where."""
    path = no_space(exc, ledger)
    if path is not None:
        return f"no space left on device: {path}"
    text = " ".join(str(exc).split())[:300]
    return f"{where}: {type(exc).__name__}: {text}" if text else f"{where}: {type(exc).__name__}"


def fault_from(exc: BaseException, where: str, ledger: str = "the ledger") -> StationFault:
    details = "".join(traceback.format_exception(exc))
    return StationFault(sentence(exc, where, ledger), details)


def write_log(fault: StationFault, *folders: Path) -> StationFault:
    """Write the fault's traceback into the first folder that takes it; ``fault.log`` names the file."""
    text = (f"{datetime.now(UTC).isoformat(timespec='seconds')} station fault: {fault.sentence}\n\n"
            f"{fault.details}")
    places = [folder / FAULT_LOG for folder in folders]
    places.append(Path(tempfile.gettempdir()) / f"linegate-{os.getpid()}-{FAULT_LOG}")
    for path in places:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
        except OSError:
            continue
        fault.log = path
        break
    return fault
