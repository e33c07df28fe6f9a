"""The command line's own rules: a number option is a number in its range, and a refused argument is one line.

Every numeric option takes ``type=whole(LO, HI)`` or ``type=real(LO, HI)``: a value outside the range (a
limit past what SQLite counts, a port past 65535, a latency of ``nan``) is refused by argparse itself,
before anything opens, and ``LineParser`` says so in one line with exit 2 (README, exit codes).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn, TypeAlias

EXIT_BAD_INPUT = 2


class LineParser(argparse.ArgumentParser):
    """argparse's refusals (a range, a choice, a missing argument) in one line on stderr, exit 2; its
    sub-commands' parsers are of this class too (``add_subparsers`` makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        said = " ".join(f"linegate: error: {message} (see '{self.prog} --help')".split())
        print(said, file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)


Commands: TypeAlias = "argparse._SubParsersAction[LineParser]"  # a command group: each module adds its commands


def _span(low: float, high: float) -> str:
    return f"{low:g} to {high:g}" if isinstance(low, float) or isinstance(high, float) else f"{low} to {high}"


def whole(low: int, high: int) -> Callable[[str], int]:
    """An integer from ``low`` to ``high``, both included."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ({_span(low, high)})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {_span(low, high)}, not {_shown(text)}")
        return value
    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


def real(low: float, high: float) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high``, both included (``nan`` and ``inf`` are refused)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({_span(low, high)})") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be {_span(low, high)}, not {_shown(text)}")
        return value
    parse.__name__ = "number"
    return parse


def _shown(text: str) -> str:
    """The value refused, short: a thousand digits are not repeated on the line."""
    text = text.strip()
    return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"


MAX_UNITS = 1_000_000_000  # a line at one unit a second runs 30 years
MAX_SEED = 2**31 - 1
PORT = (0, 65535)

__all__ = ["MAX_SEED", "MAX_UNITS", "PORT", "LineParser", "real", "whole"]
