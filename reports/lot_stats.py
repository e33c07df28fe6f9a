"""A measurement's statistics across a lot: moments that merge (files and database give the same), Cpk.

``Moments`` keep the count, mean and sum of squared deviations (M2), so groups computed apart (per
limit set, per outcome, per database group) merge exactly (Chan et al.) and sigma never comes from the
cancelling ``sum(x^2) - n mean^2`` of large values with a small spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from linegate.reports.histogram import Axis


@dataclass(frozen=True)
class Moments:
    n: int = 0
    mean: float = math.nan
    m2: float = 0.0  # sum of squared deviations from the mean
    smallest: float = math.inf
    largest: float = -math.inf

    @staticmethod
    def of(values: Sequence[float]) -> Moments:
        if not values:
            return Moments()
        mean = math.fsum(values) / len(values)
        return Moments(len(values), mean, math.fsum((v - mean) ** 2 for v in values), min(values), max(values))

    @staticmethod
    def from_sums(n: int, shift: float, s1: float, s2: float, smallest: float, largest: float) -> Moments:
        """From ``n``, the sum and the sum of squares of ``value - shift`` (a shift near the values keeps the
        difference of squares from cancelling)."""
        if n == 0:
            return Moments()
        return Moments(n, shift + s1 / n, max(0.0, s2 - s1 * s1 / n), smallest, largest)

    def __add__(self, other: Moments) -> Moments:
        if not other.n:
            return self
        if not self.n:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta * delta * self.n * other.n / n,
                       min(self.smallest, other.smallest), max(self.largest, other.largest))

    @property
    def sigma(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else math.nan


def cpk(m: Moments, low: float | None, high: float | None) -> float | None:
    """min(USL - mean, mean - LSL) / (3 sigma) over the limits that exist; None without limits or spread.

    Equal values leave a sigma of rounding noise (3.5e-16 for a 3.3 V supply read the same every time), not
    a spread: below a billionth of the values' magnitude there is none, and no Cpk of 1e13."""
    sigma = m.sigma
    scale = max(abs(m.mean), abs(low or 0.0), abs(high or 0.0)) if m.n else 0.0
    if not m.n or math.isnan(sigma) or sigma <= 1e-9 * scale or (low is None and high is None):
        return None
    sides = [(high - m.mean) if high is not None else math.inf, (m.mean - low) if low is not None else math.inf]
    return min(sides) / (3 * sigma)


@dataclass
class MeasurementStats:
    """One numeric measurement over the lot: every test's value (``overall``), the passing tests' values
    (``passing``), how many failed their limits, and the histogram's axis and bin counts."""

    step: str
    name: str
    units: str
    low: float | None
    high: float | None
    values: list[float] = field(default_factory=list)  # only to build the statistics from values at hand
    failed: int = 0
    overall: Moments = field(default_factory=Moments)
    passing: Moments = field(default_factory=Moments)
    axis: Axis | None = None
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.values and not self.overall.n:
            self.overall = Moments.of(self.values)

    @property
    def n(self) -> int:
        return self.overall.n

    @property
    def mean(self) -> float:
        return self.overall.mean

    @property
    def sigma(self) -> float:
        return self.overall.sigma

    @property
    def cpk(self) -> float | None:
        return cpk(self.overall, self.low, self.high)

    @property
    def cpk_passing(self) -> float | None:
        return cpk(self.passing, self.low, self.high)


LimitSet = tuple[str, float | None, float | None]  # units, low, high


def main_limits(counts: dict[LimitSet, int]) -> LimitSet:
    """The limits most of the lot's values were tested against (a plan change mid-lot leaves two sets);
    ties go to the set that sorts first, so files and database agree."""
    return min(counts, key=lambda k: (-counts[k], _order(k)))


def _order(k: LimitSet) -> tuple[str, float, float]:
    units, low, high = k
    return units, -math.inf if low is None else low, math.inf if high is None else high
