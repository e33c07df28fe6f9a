"""The typed event stream: every kind has a wire form that round-trips, and a station run emits them in order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import run_fixture
from linegate.station.events import (
    KINDS,
    Event,
    EventError,
    MeasurementTaken,
    Prompt,
    PromptAnswered,
    ProvisioningStarted,
    RecordWritten,
    ResultsSync,
    StepFinished,
    StepStarted,
    UnitStarted,
    UnitWanted,
    Verdict,
    WorkerDied,
    WorkerStarted,
    from_wire,
    to_wire,
)
from linekit import run_service

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"
AT = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)

SAMPLES: list[Event] = [
    UnitStarted("A", index=1, serial="LG1", steps=6, at=AT),
    StepStarted("A", index=1, step="power_on", number=1, of=6, at=AT),
    MeasurementTaken("A", index=1, step="power_on", name="supply_voltage", value=3.3, units="V",
                     limit="3.25 <= x <= 3.35", status="pass", at=AT),
    StepFinished("A", index=1, step="power_on", outcome="pass", duration_s=0.012, at=AT),
    Prompt("B", index=4, prompt_id="p1", text="Is the LED green?", options=("yes", "no"), at=AT),
    Verdict("A", index=1, outcome="FAIL", failure="supply_current = 0.24 A (limit <= 0.1)", commit_status=None,
            serial="LG1", mac="24:0a:c4:00:00:01", at=AT),
    RecordWritten("A", index=1, record_id="0b5e", path="out/run-1/LG1.json", at=AT),
    ProvisioningStarted("A", index=1, mac="24:0a:c4:00:00:01", at=AT),
    Prompt("A", index=2, prompt_id="p2", text="Meter reading?", ask="number", low=3.0, high=3.6, units="V",
           timeout_s=60.0, at=AT),
    PromptAnswered("A", index=2, prompt_id="p2", answer="3.31", who="alice", at=AT),
    WorkerStarted("C", pid=4242, startup_s=0.91, at=AT),
    UnitWanted("C", at=AT),
    UnitWanted("C", wanted=False, at=AT),
    WorkerDied("C", reason="socket C's worker died (SIGKILL)", pid=4242, index=7, at=AT),
    ResultsSync("", target="postgresql+psycopg://station:***@db/line", behind=12, oldest_s=185.0, reachable=False,
                error="OperationalError: connection refused", at=AT),
]


def test_every_kind_has_a_sample():
    assert {type(e) for e in SAMPLES} == set(KINDS.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.kind)
def test_wire_form_round_trips(event):
    line = to_wire(event)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["v"] == 1 and doc["kind"] == event.kind and doc["socket"] == event.socket
    assert doc["at"] == "2026-11-23T09:00:00.123456+00:00"
    assert from_wire(line) == event


@pytest.mark.parametrize(("line", "problem"), [
    ('{"v": 1, "kind": "teleport", "socket": "A"}', "unknown kind 'teleport'"),
    ('{"v": 2, "kind": "verdict", "socket": "A"}', "wire version is not 1"),
    ('{"v": 1, "kind": "verdict", "socket": "A", "index": 1, "outcome": "PASS", "mood": "good"}',
     "unknown field(s) ['mood']"),
    ('{"v": 1, "kind": "verdict", "socket": "A"}', "verdict: "),
    ("[1, 2]", "not a JSON object"),
    ("{nope", "not JSON"),
])
def test_what_is_not_an_event_is_refused(line, problem):
    with pytest.raises(EventError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        from_wire(line)


def test_a_station_run_tells_each_unit_step_by_step(tmp_path):
    seen: list[Event] = []
    plan = load_plan(REPO / "plans" / "esp-at-module.yaml")
    result = run_fixture(load_fixture(FIXTURE), plan, out=tmp_path, units=3, events=seen.append)
    index_of = {e.record_id: e.index for e in seen if isinstance(e, RecordWritten)}
    assert len(index_of) == 3
    for record in result.records:
        mine = [e for e in seen if getattr(e, "index", None) == index_of[record.record_id]]
        kinds = [e.kind for e in mine]
        assert kinds[0] == "unit_started" and kinds[-2:] == ["verdict", "record_written"]
        starts = [e for e in mine if isinstance(e, StepStarted)]
        finishes = [e for e in mine if isinstance(e, StepFinished)]
        assert [e.step for e in starts] == [s.name for s in plan.steps]
        assert [e.step for e in finishes] == [s.name for s in record.steps]
        assert [(e.number, e.of) for e in starts] == [(i + 1, len(plan.steps)) for i in range(len(plan.steps))]
        measured = [e.name for e in mine if isinstance(e, MeasurementTaken)]
        assert measured == [m.name for s in record.steps for m in s.measurements]
        verdict = next(e for e in mine if isinstance(e, Verdict))
        assert verdict.outcome == record.outcome.value
        written = next(e for e in mine if isinstance(e, RecordWritten))
        assert written.record_id == record.record_id and Path(written.path).is_file()
    for event in seen:
        assert from_wire(to_wire(event)) == event


def test_the_gate_is_a_step_of_the_stream_and_the_verdict_carries_the_commit(emulator, tmp_path, monkeypatch):
    seen: list[Event] = []
    real = run_fixture

    def with_events(*args, **kwargs):
        return real(*args, **kwargs, events=seen.append)

    monkeypatch.setattr("linekit.run_fixture", with_events)
    result, _ = run_service(emulator, "ayla", tmp_path, units=2, fail_share=0.0)
    assert [r.outcome.value for r in result.records] == ["PASS", "PASS"]
    provisions = [e for e in seen if isinstance(e, StepFinished) and e.step == "provision"]
    assert len(provisions) == 2 and all(e.outcome == "pass" for e in provisions)
    assert [e.commit_status for e in seen if isinstance(e, Verdict)] == ["committed", "committed"]
