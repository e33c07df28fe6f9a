"""Log records of a station run, handed to the step they were made in.

Station runs turn pytest's logging plugin off: it swaps handlers and levels on
the root logger three times per step, a quarter of linegate's per-step cost.
One handler for the whole run does the same job for the report. ``caplog`` is
therefore not offered in station runs (plain ``pytest`` runs of station tests
keep it). What is captured follows the logging configuration, as under pytest:
by default WARNING and above. Records made between steps (a unit's files being
written, a background commit) are not a step's: they go where they would have
gone without the station, i.e. to the other handlers, or to stderr when there
are none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

FORMAT = "%(levelname)-8s %(name)s:%(filename)s:%(lineno)d %(message)s"


class StepLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter(FORMAT))
        self._lines: list[str] = []
        self.collecting = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.collecting:
            if logging.getLogger().handlers == [self] and logging.lastResort is not None:
                logging.lastResort.handle(record)  # what logging does when no handler is configured
            return
        try:
            self._lines.append(self.format(record))
        except Exception:  # a broken record must not break the step; logging reports it
            self.handleError(record)

    def take(self) -> str:
        """The lines collected since the last take, as one text."""
        lines, self._lines = self._lines, []
        return "\n".join(lines)

    @contextmanager
    def installed(self) -> Iterator[StepLog]:
        root = logging.getLogger()
        root.addHandler(self)
        try:
            yield self
        finally:
            root.removeHandler(self)
