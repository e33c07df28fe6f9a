"""The failure Pareto's key: one cause, one bar.

A failure's message carries what differs from unit to unit (the value measured, a temporary pty path,
a MAC, a count of seconds); the key keeps what names the cause: the step and the measurement, or the
step and its message with those parts replaced.
"""

from __future__ import annotations

import re

from linegate.plans import Failure

_VARYING = [
    (re.compile(r"(?:/[\w.+-]+)+/?"), "<path>"),  # /dev/pts/7, /tmp/pytest-of-root/.../x.sock
    (re.compile(r"\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b", re.I), "<mac>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<n>"),
    (re.compile(r"[-+]?\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b", re.I), "<n>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<text>"),
]


def normalised(message: str) -> str:
    first = (message.strip().splitlines() or [""])[0]
    for pattern, stand_in in _VARYING:
        first = pattern.sub(stand_in, first)
    return " ".join(first.split())[:120]


def failure_key(failure: Failure) -> str:
    """``step: measurement`` when a measurement failed, else ``step: message`` without per-unit parts."""
    return f"{failure.step}: {failure.measurement or normalised(failure.message)}"
