"""What a unit's serial number must look like, as the plan says (``serial: {regex: ...}``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SERIAL = 64


class SerialSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    regex: str = Field(max_length=200, description="the whole serial must match (Python re, full match)")
    description: str = Field("", max_length=200, description="what a good serial looks like, for the operator")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as e:
            raise ValueError(f"{value!r} is not a regular expression: {e}") from None
        return value

    def refusal(self, serial: str) -> str | None:
        """Why ``serial`` is refused, in one sentence; ``None`` when it is good."""
        return refusal(serial, self)


def refusal(serial: str, spec: SerialSpec | None) -> str | None:
    """Why ``serial`` cannot be a unit's serial (empty, too long, not printable, not the plan's form)."""
    if not serial.strip():
        return "the serial is empty"
    if len(serial) > MAX_SERIAL:
        return f"the serial is {len(serial)} characters long, over {MAX_SERIAL}"
    if not serial.isprintable() or any(c.isspace() for c in serial):
        return f"the serial {serial!r} holds spaces or control characters"
    if spec is not None and re.fullmatch(spec.regex, serial) is None:
        hint = f" ({spec.description})" if spec.description else ""
        return f"the serial {serial!r} does not match the plan's form {spec.regex}{hint}"
    return None
