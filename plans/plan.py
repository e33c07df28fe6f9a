"""A plan: the ordered station tests of a product and every measurement's limits.

Plans are versioned YAML files; every result names the plan's version and the
SHA-256 of the file it was loaded from.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from linegate.plans.errors import PlanError, load_yaml_model
from linegate.plans.limits import Limits
from linegate.plans.provisioning import ProvisioningSpec
from linegate.plans.serial import SerialSpec
from linegate.plans.yamlfile import YamlFileError, read_capped
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class MeasurementSpec(Limits):
    name: str
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a valid measurement name")
        return value


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    test: str = Field(description="station test as 'file.py::function'")
    description: str = ""
    measurements: tuple[MeasurementSpec, ...] = ()
    timeout_s: float | None = Field(None, gt=0, le=86400, description="the step's deadline; default the plan's")

    @field_validator("test")
    @classmethod
    def _test(cls, value: str) -> str:
        path, sep, func = value.partition("::")
        if not sep or not path.endswith(".py") or not func.isidentifier():
            raise ValueError(f"{value!r} is not of the form 'file.py::test_function'")
        return value

    @model_validator(mode="after")
    def _unique(self) -> StepSpec:
        names = [m.name for m in self.measurements]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"measurement names repeated: {dupes}")
        return self

    def measurement(self, name: str) -> MeasurementSpec | None:
        for spec in self.measurements:
            if spec.name == name:
                return spec
        return None


class RetestSpec(BaseModel):
    """How often a unit may fail before the station refuses it and sends it to rework."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(ge=1, le=1000, strict=True,
                              description="failed tests (FAIL or ERROR, on any station) after which a unit is refused")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    description: str = ""
    station_tests: str = Field("../station_tests", description="folder of the station tests, relative to the plan file")
    stop_on_failure: bool = True
    step_timeout_s: float | None = Field(None, gt=0, le=86400, description="deadline of a step that sets none")
    steps: tuple[StepSpec, ...]
    steps_from: str | None = Field(None, description="take steps and station_tests from this plan file")
    provisioning: ProvisioningSpec | None = None
    serial: SerialSpec | None = Field(None, description="the form every unit's serial number must have")
    retest: RetestSpec | None = Field(None, description="the retest limit: a unit failed this often goes to rework")

    # Set by load_plan, not by the file.
    path: Path | None = Field(None, exclude=True)
    sha256: str = Field("", exclude=True)
    tests_sha256: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _unique_steps(self) -> Plan:
        if not self.steps:
            raise ValueError("a plan needs at least one step")
        names = [s.name for s in self.steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"step names repeated: {dupes}")
        return self

    @property
    def tests_dir(self) -> Path:
        base = self.path.parent if self.path else Path.cwd()
        return (base / self.station_tests).resolve()

    def timeout_of(self, step: StepSpec) -> float | None:
        return step.timeout_s if step.timeout_s is not None else self.step_timeout_s

    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


class StepsFromError(PlanError):
    """``steps_from`` files refer to each other in a cycle or too deeply; the message names the files."""


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; PlanError names file, field and problem."""
    return _load_plan(Path(path), Path(path), ())


# Deep enough for any real family of plans, shallow enough to stay far from Python's recursion limit.
MAX_STEPS_FROM_DEPTH = 16


def _load_plan(path: Path, named: Path, chain: tuple[Path, ...]) -> Plan:
    """``named`` is the plan the user gave; ``chain`` the resolved plans whose ``steps_from`` led here."""
    try:
        raw = read_capped(path, "plan")
    except OSError as e:
        raise PlanError(f"{path}: cannot read plan: {e.strerror or e}") from e
    except YamlFileError as e:
        raise PlanError(f"{path}: {e}") from e
    digest = hashlib.sha256(raw)
    chain = (*chain, path.resolve())

    def with_base_steps(doc: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(doc.get("steps_from"), str):
            return doc
        if "steps" in doc:
            raise PlanError(f"{path}: steps_from: a plan takes its steps from another plan or lists its own, "
                            "not both")
        base_path = (path.parent / doc["steps_from"]).resolve()
        if base_path in chain:
            loop = " -> ".join(str(p) for p in (*chain, base_path))
            raise StepsFromError(f"{named}: steps_from: plans take their steps from each other in a cycle: {loop}")
        if len(chain) >= MAX_STEPS_FROM_DEPTH:
            raise StepsFromError(f"{named}: steps_from: more than {MAX_STEPS_FROM_DEPTH} plans deep "
                                 f"(the {MAX_STEPS_FROM_DEPTH}th is {path})")
        try:
            base = _load_plan(base_path, named, chain)
        except StepsFromError:
            raise
        except PlanError as e:
            if len(chain) > 1:  # only the plan the user named says where the broken file came from
                raise
            raise PlanError(f"{path}: steps_from: {e}") from e
        digest.update(base.sha256.encode())  # the hash covers the steps this plan runs
        return {**doc, "steps": [s.model_dump(exclude_none=True) for s in base.steps],
                "station_tests": str(base.tests_dir)}

    plan = load_yaml_model(path, raw, Plan, "plan", "name, version and steps", PlanError, with_base_steps)
    plan = plan.model_copy(update={"path": path.resolve(), "sha256": digest.hexdigest()})
    return plan.model_copy(update={"tests_sha256": tests_digest(plan.tests_dir)})


def tests_digest(folder: Path) -> str:
    """SHA-256 over the station tests' Python files (names and contents): a changed test changes it.

    Every ``.py`` file under the folder counts, not only the ones the steps name: conftest files and
    modules the tests import change what a step does as much as the step's own file."""
    digest = hashlib.sha256()
    if not folder.is_dir():
        return ""  # the run refuses the plan, naming the missing folder
    for file in sorted(f for f in folder.rglob("*.py") if "__pycache__" not in f.parts):
        try:
            content = file.read_bytes()
        except OSError:
            continue
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()
