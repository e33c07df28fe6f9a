"""Measurement limits and their verdicts (pass / marginal / fail)."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Status(StrEnum):
    PASS = "pass"
    MARGINAL = "marginal"
    FAIL = "fail"


Scalar = str | int | float | bool


class Limits(BaseModel):
    """What counts as a pass for one measurement.

    Numeric: ``low``/``high`` bound a pass; ``marginal_low``/``marginal_high``
    sit inside them and mark values that pass but are close to the edge.
    Otherwise ``equals`` (exact value) or ``regex`` (full match of the text).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    units: str | None = None
    low: float | None = None
    high: float | None = None
    marginal_low: float | None = None
    marginal_high: float | None = None
    equals: Scalar | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Limits:
        numeric = [self.low, self.high, self.marginal_low, self.marginal_high]
        kinds = sum([any(v is not None for v in numeric), self.equals is not None, self.regex is not None])
        if kinds == 0:
            raise ValueError("needs a limit: low/high, equals or regex")
        if kinds > 1:
            raise ValueError("give only one kind of limit: low/high, equals or regex")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low} is greater than high {self.high}")
        if self.marginal_low is not None and self.marginal_high is not None:
            if self.marginal_low > self.marginal_high:
                raise ValueError(
                    f"marginal_low {self.marginal_low} is greater than marginal_high {self.marginal_high}"
                )
        for name, bound in (("marginal_low", self.marginal_low), ("marginal_high", self.marginal_high)):
            if bound is None:
                continue
            if self.low is not None and bound < self.low:
                raise ValueError(f"{name} {bound} is below low {self.low}")
            if self.high is not None and bound > self.high:
                raise ValueError(f"{name} {bound} is above high {self.high}")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from e
        return self

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.regex) if self.regex is not None else None

    @property
    def is_numeric(self) -> bool:
        return self.equals is None and self.regex is None

    def describe(self) -> str:
        if self.regex is not None:
            return f"matches /{self.regex}/"
        if self.equals is not None:
            return f"== {self.equals!r}"
        unit = f" {self.units}" if self.units else ""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}..{self.high:g}{unit}"
        if self.low is not None:
            return f">= {self.low:g}{unit}"
        return f"<= {self.high:g}{unit}"

    def judge(self, value: Any) -> tuple[Status, str]:
        """The verdict for ``value`` and, unless it passed, why."""
        if self._pattern is not None:
            text = str(value)
            if self._pattern.fullmatch(text):
                return Status.PASS, ""
            return Status.FAIL, f"{text!r} does not match /{self.regex}/"
        if self.equals is not None:
            if _same(value, self.equals):
                return Status.PASS, ""
            return Status.FAIL, f"{value!r} is not {self.equals!r}"
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return Status.FAIL, f"{value!r} is not a number"
        unit = f" {self.units}" if self.units else ""
        if self.low is not None and value < self.low:
            return Status.FAIL, f"{value:g}{unit} is below the low limit {self.low:g}{unit}"
        if self.high is not None and value > self.high:
            return Status.FAIL, f"{value:g}{unit} is above the high limit {self.high:g}{unit}"
        if self.marginal_low is not None and value < self.marginal_low:
            return Status.MARGINAL, f"{value:g}{unit} is below the marginal bound {self.marginal_low:g}{unit}"
        if self.marginal_high is not None and value > self.marginal_high:
            return Status.MARGINAL, f"{value:g}{unit} is above the marginal bound {self.marginal_high:g}{unit}"
        return Status.PASS, ""


def _same(value: Any, expected: Scalar) -> bool:
    # True == 1 in Python; a measurement of 1 must not pass "equals: true".
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)
