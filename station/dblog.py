"""psycopg's log, kept to one line per problem.

When a statement of a pipelined ``executemany`` fails, psycopg raises its error and then, leaving the
pipeline, logs a second line of its own ("error ignored terminating <psycopg.Pipeline ...>: pipeline
aborted") that says nothing the raised error has not. linegate says the error once, in its own words.
"""

from __future__ import annotations

import logging

_ECHO = "error ignored terminating"


class _NoPipelineEcho(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_ECHO))


_FILTER = _NoPipelineEcho()


def quiet_pipeline_echo() -> None:
    """Drop psycopg's echo of an error already raised (idempotent)."""
    logger = logging.getLogger("psycopg")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


__all__ = ["quiet_pipeline_echo"]
