"""The failure Pareto's key: one cause, one bar.

A failure's message carries what differs from unit to unit (the value measured, a temporary pty path,
a socket URL's port, a MAC, a count of seconds); the key keeps what names the cause: the step and the
measurement, or the step and its message's first line with those parts replaced by stand-ins.
"""

from __future__ import annotations

import re

from linegate.plans import Failure

_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_VARYING = [  # in this order: a URL or path holds numbers, a quoted text holds a path
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"),;]*[^\s'\"),;:]", re.I), "<url>"),  # socket://127.0.0.1:40211, rfc2217://...
    (re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[/\\][\w.+@-]+)+[/\\]?"), "<path>"),  # /dev/pts/7, /tmp/.../x.sock
    (re.compile(r"\bCOM\d+\b"), "<port>"),  # Windows serial ports
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b", re.I), "<mac>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<n>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I), "<hex>"),  # bare MACs, chip ids, hashes
    (re.compile(r"'[^']*'|\"[^\"]*\"|'[^']*$"), "<text>"),  # what a module answered (maybe cut), a file name
    (re.compile(rf"(?<!\w)(?<!\d\.){_NUMBER}(?!\d|\.\d)"), "<n>"),  # 3.41 V, 30 s, 30s, [Errno 2]; not step_3
]


def normalised(message: str) -> str:
    """The message's first line with its per-unit parts replaced, spaces collapsed, at most 120 characters."""
    first = (message.strip().splitlines() or [""])[0]
    for pattern, stand_in in _VARYING:
        first = pattern.sub(stand_in, first)
    return " ".join(first.split())[:120]


def failure_key(failure: Failure) -> str:
    """``step: measurement`` when a measurement failed, else ``step: message`` without per-unit parts."""
    return f"{failure.step}: {failure.measurement or normalised(failure.message)}"
