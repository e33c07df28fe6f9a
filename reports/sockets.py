"""Yield per socket, and the flag on a socket that fails more units than the others (a fixture fault:
a worn pogo pin, a loose cable, a bad relay on one position of the jig).

Counts per socket:

- ``tests`` and the outcome columns count the records (tests) the socket ran;
- ``units`` counts the distinct units it tested; ``yield`` is the share of those whose last test in this
  socket passed;
- ``first-pass yield`` is the share of the units first tested in this socket that passed that first test
  (a unit's first test happens in exactly one socket, so these add up to the lot's first-pass yield);
- the most common failing step is the step of the first failure of the socket's FAIL and ERROR tests.

The flag: a socket's failure share is its (FAIL + ERROR) tests over its completed (PASS + FAIL + ERROR)
tests; ABORTED is the operator's stop, not the socket's. Each socket is compared with all other sockets
pooled by a one-sided Fisher exact test (is this socket's failure share higher than the rest's?), and
flagged when p < 0.01. Fisher's test is exact at any count, so a socket that fails 5 units of 5 in a lot of
20 is judged as soundly as one in a lot of 10,000, where a two-proportion z-test's normal approximation is
not valid. One-sided, because a socket that fails less than the others is no fixture fault. The threshold
is not divided by the number of sockets: with N good sockets a lot is wrongly flagged at most about N in
100 times, and a false flag costs a look at the socket's contacts, while a missed worn pin costs yield
for as long as it is missed (50 % against 10 % over 20 units each, p = 0.005, is flagged).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from linegate.plans import Outcome

ALPHA = 0.01
RULE = ("one-sided Fisher exact test of the socket's failure share ((FAIL + ERROR) / (PASS + FAIL + ERROR) "
        f"tests) against all other sockets pooled; flagged when p < {ALPHA}. Exact at any count, unlike a "
        "z-test on small lots; one-sided, because failing less is no fault; not divided by the number of "
        "sockets, because a false flag costs a look at the socket's contacts while a missed worn pin costs "
        "yield (with N good sockets, about N lots in 100 get a false flag). ABORTED tests are left out "
        "(an operator's stop, not the socket's)")


@dataclass
class SocketStats:
    socket: str
    tests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    units: int = 0
    passed_units: int = 0
    first_tests: int = 0
    first_pass: int = 0
    failing_steps: Counter[str] = field(default_factory=Counter)
    p_value: float | None = None  # against the other sockets pooled; None with one socket
    flagged: bool = False

    @property
    def completed(self) -> int:
        return self.outcomes["PASS"] + self.outcomes["FAIL"] + self.outcomes["ERROR"]

    @property
    def failed(self) -> int:
        return self.outcomes["FAIL"] + self.outcomes["ERROR"]

    @property
    def failure_pct(self) -> float:
        return 100.0 * self.failed / self.completed if self.completed else 0.0

    @property
    def yield_pct(self) -> float:
        return 100.0 * self.passed_units / self.units if self.units else 0.0

    @property
    def fpy_pct(self) -> float:
        return 100.0 * self.first_pass / self.first_tests if self.first_tests else 0.0

    @property
    def top_failing_step(self) -> tuple[str, int] | None:
        top = self.failing_steps.most_common(1)
        return top[0] if top else None


@dataclass
class SocketYield:
    sockets: list[SocketStats]
    threshold: float = ALPHA
    rule: str = RULE

    @property
    def flagged(self) -> list[SocketStats]:
        return [s for s in self.sockets if s.flagged]


class SocketTally:
    """Fed the lot's tests in time order, one pass; ``result`` gives the per-socket table."""

    def __init__(self) -> None:
        self._stats: dict[str, SocketStats] = {}
        self._last: dict[str, dict[str, bool]] = {}  # socket -> unit -> did its last test there pass
        self._seen: set[str] = set()

    def add(self, unit: str, socket: str, outcome: str, failure_step: str | None) -> None:
        s = self._stats.get(socket)
        if s is None:
            s = self._stats[socket] = SocketStats(socket)
            self._last[socket] = {}
        passed = outcome == Outcome.PASS
        s.tests += 1
        s.outcomes[outcome] += 1
        self._last[socket][unit] = passed
        if unit not in self._seen:
            self._seen.add(unit)
            s.first_tests += 1
            s.first_pass += passed
        if failure_step is not None and outcome in (Outcome.FAIL, Outcome.ERROR):
            s.failing_steps[failure_step] += 1

    def result(self) -> SocketYield:
        for s in self._stats.values():
            last = self._last[s.socket]
            s.units, s.passed_units = len(last), sum(last.values())
        return judged(list(self._stats.values()))


def judged(sockets: list[SocketStats]) -> SocketYield:
    """The sockets in natural order, each with its p against the others pooled and its flag."""
    sockets = sorted(sockets, key=lambda s: _natural(s.socket))
    if len(sockets) > 1:
        total_failed = sum(s.failed for s in sockets)
        total_completed = sum(s.completed for s in sockets)
        for s in sockets:
            rest_failed, rest_completed = total_failed - s.failed, total_completed - s.completed
            if not s.completed or not rest_completed:
                continue
            s.p_value = fisher_greater(s.failed, s.completed, rest_failed, rest_completed)
            s.flagged = s.p_value < ALPHA and s.failed * rest_completed > rest_failed * s.completed
    return SocketYield(sockets)


def fisher_greater(failed: int, n: int, other_failed: int, other_n: int) -> float:
    """One-sided Fisher exact p: the chance of ``failed`` or more failures among ``n`` tests when the
    ``failed + other_failed`` failures of the ``n + other_n`` tests fall at random (hypergeometric tail)."""
    total, failures = n + other_n, failed + other_failed
    top = min(n, failures)
    if failed > top:
        return 0.0
    log_all = _log_comb(total, n)
    tail = 0.0
    for k in range(failed, top + 1):
        term = math.exp(_log_comb(failures, k) + _log_comb(total - failures, n - k) - log_all)
        tail += term
        if term < tail * 1e-17:  # the tail falls off fast; the rest cannot change a double
            break
    return min(1.0, tail)


def _log_comb(n: int, k: int) -> float:
    if k < 0 or k > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _natural(name: str) -> list[tuple[int, int | str]]:
    """A2 before A10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]
