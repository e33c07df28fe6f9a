"""One socket's tile: its state and the unit in it, built from the socket's events.

A tile is plain data; the hub (hub.py) holds the lock around it. ``light()`` is the tile without
its lists (steps, measurements): what every pushed message carries; ``full()`` adds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from linegate.station.events import (
    Event,
    MeasurementTaken,
    Prompt,
    PromptAnswered,
    StepFinished,
    StepStarted,
    UnitStarted,
    UnitWanted,
    Verdict,
    WorkerDied,
    WorkerStarted,
)
from linegate.station.panel.states import SocketState, check, verdict_state

MAX_MEASUREMENTS = 1000  # per unit; beyond, only counted (the report has them all)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def prompt_view(event: Prompt, link: Callable[[str], str | None]) -> dict[str, Any]:
    """The dialog a prompt asks for (``ask``: confirm/choose/number/text); ``link`` gives its image's URL."""
    return {"id": event.prompt_id, "index": event.index, "text": event.text, "options": list(event.options),
            "ask": event.ask, "low": event.low, "high": event.high, "units": event.units, "regex": event.regex,
            "image": link(event.image) if event.image else None, "timeout_s": event.timeout_s, "at": iso(event.at),
            "error": ""}


@dataclass
class Unit:
    index: int
    serial: str | None
    steps_total: int
    started_at: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    measurements_dropped: int = 0
    step: str = ""  # the step running now ("" between steps)
    number: int = 0
    verdict: str | None = None
    failure: str = ""
    commit_status: str | None = None
    record_id: str | None = None
    report: str | None = None
    ended_at: str | None = None

    def light(self) -> dict[str, Any]:
        running = self.steps[-1] if self.steps and self.steps[-1]["outcome"] is None else None
        return {"index": self.index, "serial": self.serial, "steps_total": self.steps_total,
                "started_at": self.started_at, "step": self.step, "number": self.number,
                "step_started_at": running["started_at"] if running else None, "steps_done": self._done(),
                "measurements_count": len(self.measurements) + self.measurements_dropped,
                "verdict": self.verdict, "failure": self.failure, "commit_status": self.commit_status,
                "record_id": self.record_id, "report": self.report, "ended_at": self.ended_at}

    def _done(self) -> int:
        return sum(1 for s in self.steps if s["outcome"] is not None)


@dataclass
class Tile:
    name: str
    state: SocketState = SocketState.STARTING  # WAITING only once the station takes a scan (UnitWanted)
    reason: str = ""  # why it is out of service
    unit: Unit | None = None
    prompt: dict[str, Any] | None = None
    scan: dict[str, Any] | None = None  # the last scan: serial, accepted, reason, at
    stopping: bool = False
    units: int = 0  # units judged on this socket

    def move(self, to: SocketState, why: str) -> None:
        """Checked against the table; raises IllegalTransition without moving."""
        check(self.name, self.state, to, why)
        self.state = to

    def apply(self, event: Event, link: Callable[[str], str | None] = lambda path: None) -> None:
        """The event's effect on the tile (``link``: a prompt image's URL); a transition the table refuses
        raises after the tile has followed the station (the hub logs it)."""
        to = self._target(event)
        self._update(event, link)
        if to is not None and to is not self.state:
            now, self.state = self.state, to
            check(self.name, now, to, event.kind)

    def _target(self, event: Event) -> SocketState | None:
        if isinstance(event, UnitStarted):
            return SocketState.TESTING
        if isinstance(event, Verdict):
            return verdict_state(event.outcome)
        if isinstance(event, WorkerDied):
            return SocketState.OUT_OF_SERVICE
        if isinstance(event, WorkerStarted) and self.state is SocketState.OUT_OF_SERVICE:
            return SocketState.STARTING
        if isinstance(event, UnitWanted):
            if event.wanted:
                return SocketState.WAITING
            return SocketState.CLOSED if self.state is SocketState.WAITING else None
        return None

    def _update(self, event: Event, link: Callable[[str], str | None]) -> None:
        if isinstance(event, UnitStarted):
            self.unit = Unit(event.index, event.serial, event.steps, iso(event.at))
            self.prompt, self.stopping, self.scan = None, False, None
            return
        if isinstance(event, WorkerDied):
            self.reason, self.prompt = event.reason, None
            return
        if isinstance(event, WorkerStarted):
            self.reason = ""
            return
        unit = self.unit if self.unit is not None and self.unit.index == getattr(event, "index", None) else None
        if isinstance(event, Verdict):
            if unit is None:  # a unit lost before its first event: told by the supervisor
                unit = self.unit = Unit(event.index, event.serial, 0, iso(event.at))
            unit.verdict, unit.failure, unit.commit_status = event.outcome, event.failure, event.commit_status
            unit.serial = event.serial or unit.serial
            unit.ended_at, unit.step, self.prompt, self.stopping = iso(event.at), "", None, False
            self.units += 1
        elif unit is None:
            return
        elif isinstance(event, StepStarted):
            unit.step, unit.number = event.step, event.number
            unit.steps_total = event.of or unit.steps_total
            unit.steps.append({"name": event.step, "number": event.number, "started_at": iso(event.at),
                               "outcome": None, "duration_s": None, "message": ""})
        elif isinstance(event, MeasurementTaken):
            if len(unit.measurements) >= MAX_MEASUREMENTS:
                unit.measurements_dropped += 1
            else:
                unit.measurements.append(measurement(event))
        elif isinstance(event, StepFinished):
            self._finish_step(unit, event)
        elif isinstance(event, Prompt):
            self.prompt = prompt_view(event, link)
        elif isinstance(event, PromptAnswered) and self.prompt is not None and self.prompt["id"] == event.prompt_id:
            self.prompt = None  # answered here, at the terminal, or nobody in time

    def _finish_step(self, unit: Unit, event: StepFinished) -> None:
        step = next((s for s in reversed(unit.steps) if s["name"] == event.step and s["outcome"] is None), None)
        if step is None:  # a step told only when done (the gate's provision)
            step = {"name": event.step, "number": len(unit.steps) + 1,
                    "started_at": iso(event.at - timedelta(seconds=event.duration_s))}
            unit.steps.append(step)
        step.update(outcome=event.outcome, duration_s=event.duration_s, message=event.message)
        if unit.step == event.step:
            unit.step = ""
        if self.prompt is not None:  # its step is over: the prompt with it
            self.prompt = None

    def light(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state.value, "reason": self.reason,
                "unit": self.unit.light() if self.unit else None, "prompt": self.prompt, "scan": self.scan,
                "stopping": self.stopping, "units": self.units}

    def full(self) -> dict[str, Any]:
        doc = self.light()
        if self.unit is not None:
            doc["unit"] |= {"steps": self.unit.steps, "measurements": self.unit.measurements}
        return doc


def measurement(event: MeasurementTaken) -> dict[str, Any]:
    return {"step": event.step, "name": event.name, "value": event.value, "units": event.units,
            "limit": event.limit, "status": event.status}
