"""What a step printed and logged, handed to the step's record.

Station runs turn pytest's logging plugin and its per-phase output capture off
(``-p no:logging``, ``--capture=no``): together they swapped root-logger
handlers and ``sys.stdout``/``sys.stderr`` three times per step, over a third
of linegate's per-step cost. One capture per unit does the same job for the
report. ``caplog`` is therefore not offered in station runs (``capsys`` is;
plain ``pytest`` runs of station tests keep both). Log records follow the
logging configuration, as under pytest: by default WARNING and above.

Between units (a unit's files being written, the operator's progress lines)
nothing is captured: output and log records go where they would go without
the station, to the other log handlers or to stderr when there are none.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import TextIO

LOG_FORMAT = "%(levelname)-8s %(name)s:%(filename)s:%(lineno)d %(message)s"


class _Stream(io.TextIOWrapper):
    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", newline="", write_through=True)

    def take(self) -> str:
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        text = raw.getvalue().decode("utf-8", errors="replace")
        raw.seek(0)
        raw.truncate()
        return text


class _LogLines(logging.Handler):
    def __init__(self, owner: StepCapture) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.owner = owner
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not self.owner.active:
            if logging.getLogger().handlers == [self] and logging.lastResort is not None:
                logging.lastResort.handle(record)  # what logging does when no handler is configured
            return
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not break the step; logging reports it
            self.handleError(record)


class StepCapture:
    """Install once for the run (``with capture:``), ``start``/``stop`` around each unit,
    ``take`` after each step."""

    def __init__(self) -> None:
        self.active = False
        self._log = _LogLines(self)
        self._out, self._err = _Stream(), _Stream()
        self._saved: tuple[TextIO, TextIO] | None = None

    def __enter__(self) -> StepCapture:
        logging.getLogger().addHandler(self._log)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        logging.getLogger().removeHandler(self._log)

    def start(self) -> None:
        if self._saved is None:
            self._saved = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = self._out, self._err
        self.active = True

    def stop(self) -> None:
        self.active = False
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
            self._saved = None

    def take(self) -> str:
        """Everything captured since the last take, as the step's output sections."""
        lines, self._log.lines = self._log.lines, []
        sections = (("stdout", self._out.take()), ("stderr", self._err.take()), ("log", "\n".join(lines)))
        return "\n".join(f"--- Captured {name} ---\n{text.rstrip()}" for name, text in sections if text)
