"""The root of linegate's errors: each kind carries the exit code a command ends with and the word its
one line starts with; ``linegate``'s CLI maps them by class in one place (``station/cli.py``).

    LinegateError
    ├── BadInput (2, "error")          a file, an option, a URL or a plan that cannot be used
    ├── StationUnavailable (3)         the jig ("jig") or the provisioning service ("cloud") is not there
    └── StationFault (1, "station fault")  the station broke: the run stops, the traceback goes to a log
"""

from __future__ import annotations

from typing import ClassVar


class LinegateError(Exception):
    exit_code: ClassVar[int] = 1
    label: ClassVar[str] = "error"


class BadInput(LinegateError):
    exit_code = 2
    label = "error"


class StationUnavailable(LinegateError):
    exit_code = 3
    label = "unavailable"


__all__ = ["BadInput", "LinegateError", "StationUnavailable"]
