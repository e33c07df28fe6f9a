"""The supervisor and its socket workers: real processes (spawn), real ptys, real pyvisa-sim.

Sockets test side by side; a worker that dies or hangs in a step has its unit recorded ERROR and is
restarted while the other sockets go on; a stop records every socket's unit ABORTED.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.cli import sockets_like
from linegate.station.compose import run_fixture, station
from linegate.station.engine.options import LineOptions, StationServices
from linegate.station.engine.sockets import IllegalPhase, Slot, SocketPhase
from linegate.station.events import Event, RecordWritten, StepStarted, Verdict, WorkerDied, WorkerStarted
from linegate.station.run import run_sockets

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"

CODE = '''
import os
import signal
import time
from pathlib import Path

MARK = Path(__file__).parent


def test_wait(unit, measure):
    time.sleep(0.25)
    measure("done", True)


test_wait_again = test_wait
test_wait_more = test_wait


def test_die_once(unit, measure):
    """The second unit's worker dies in the middle of this step (SIGKILL, or a segfault): once."""
    if unit.index == 2 and not (MARK / "died").exists():
        (MARK / "died").write_text(str(os.getpid()))
        if (MARK / "segfault").exists():
            import ctypes
            import faulthandler

            faulthandler.disable()  # a plain crash, as a C extension's would be
            ctypes.string_at(0)
        os.kill(os.getpid(), signal.SIGKILL)
    measure("done", True)


def test_blocked(unit, measure):
    """The second unit blocks with the deadline's signal masked (a driver call that never returns)."""
    if unit.index == 2:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    measure("done", True)


def test_spins(unit, measure):
    if unit.index == 2:
        while True:
            pass
    measure("done", True)
'''


def _plan(tmp_path: Path, *steps: tuple[str, str, float | None]) -> Path:
    tests = tmp_path / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "supervised_steps.py").write_text(CODE)
    text = "name: supervised\nversion: '1'\nstation_tests: tests\nstop_on_failure: false\nsteps:\n"
    for name, test, timeout in steps:
        text += f"  - name: {name}\n    test: supervised_steps.py::{test}\n"
        if timeout is not None:
            text += f"    timeout_s: {timeout}\n"
        text += "    measurements:\n      - {name: done, equals: true}\n"
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def _station(sockets: int, fail_share: float = 0.0):
    config = load_fixture(FIXTURE)
    sim = config.simulated.model_copy(update={"fail_share": fail_share})
    return config.model_copy(update={"sockets": sockets_like(config.sockets[0], sockets), "simulated": sim})


def test_two_sockets_test_side_by_side_and_every_unit_is_recorded_once(tmp_path):
    plan = load_plan(_plan(tmp_path, ("wait", "test_wait", None), ("again", "test_wait_again", None)))
    events: list[Event] = []
    t0 = time.monotonic()
    result = run_fixture(_station(2), plan, out=tmp_path / "out", units=6, events=events.append)
    elapsed = time.monotonic() - t0
    assert [r.outcome.value for r in result.records] == ["PASS"] * 6
    assert sorted({r.station.socket for r in result.records}) == ["A", "B"]
    assert len({r.unit["serial"] for r in result.records}) == 6
    assert [row.index for row in result.rows] == [1, 2, 3, 4, 5, 6]
    started = [e for e in events if isinstance(e, WorkerStarted)]
    assert sorted(e.socket for e in started) == ["A", "B"] and len({e.pid for e in started}) == 2
    assert all(e.pid != os.getpid() for e in started)
    # Side by side: units of A and B overlap in time (each unit waits 0.5 s on its own)
    spans: dict[tuple[str, int], list] = {}
    for e in events:
        if isinstance(e, StepStarted | Verdict):
            spans.setdefault((e.socket, e.index), []).append(e.at)
    a = [v for (s, _), v in spans.items() if s == "A"]
    b = [v for (s, _), v in spans.items() if s == "B"]
    assert any(x[0] < y[-1] and y[0] < x[-1] for x in a for y in b), "no unit of A overlapped one of B"
    assert elapsed < 6 * 0.5 + 5  # one after another would be >= 3 s of steps alone, plus start-up
    assert (result.run_dir / "index.html").exists() and (result.run_dir / "junit.xml").exists()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSEGV"])
def test_a_worker_killed_mid_step_gets_its_unit_error_and_is_restarted_while_the_other_socket_goes_on(tmp_path,
                                                                                                       how):
    plan = load_plan(_plan(tmp_path, ("wait", "test_wait", None), ("die", "test_die_once", None)))
    if how == "SIGSEGV":
        (tmp_path / "tests" / "segfault").touch()
    events: list[Event] = []
    result = run_fixture(_station(2), plan, out=tmp_path / "out", units=6, events=events.append)
    by_index = {r.unit["serial"]: r for r in result.records}
    assert len(result.records) == 6 and len(by_index) == 6
    errors = [r for r in result.records if r.outcome.value == "ERROR"]
    assert len(errors) == 1
    lost = errors[0]
    assert lost.failure is not None and lost.failure.step == "die"
    assert f"worker died ({how})" in lost.failure.message
    assert [s.name for s in lost.steps] == ["wait", "die"]  # the finished step, then the one it died in
    assert [s.outcome.value for s in lost.steps] == ["pass", "error"]
    assert (result.run_dir / f"{lost.stem}.json").exists() and (result.run_dir / f"{lost.stem}.html").exists()
    died = [e for e in events if isinstance(e, WorkerDied)]
    assert len(died) == 1 and died[0].socket == lost.station.socket and died[0].index > 0
    restarted = [e for e in events if isinstance(e, WorkerStarted) and e.socket == lost.station.socket]
    assert len(restarted) == 2 and restarted[0].pid != restarted[1].pid
    assert sum(r.outcome.value == "PASS" for r in result.records) == 5
    written = [e for e in events if isinstance(e, RecordWritten)]
    assert len(written) == 6  # the lost unit's record too


def test_a_step_blocked_past_its_deadline_is_killed_after_the_grace_and_the_socket_tests_on(tmp_path):
    plan = load_plan(_plan(tmp_path, ("blocked", "test_blocked", 0.5)))
    events: list[Event] = []
    t0 = time.monotonic()
    result = run_fixture(_station(1), plan, out=tmp_path / "out", units=3, events=events.append)
    assert time.monotonic() - t0 < 30, "the 60 s block was cut short"
    outcomes = [r.outcome.value for r in result.records]
    assert outcomes == ["PASS", "ERROR", "PASS"]
    lost = result.records[1]
    assert lost.failure is not None
    assert lost.failure.message.startswith("step blocked exceeded 0.5 s (its worker was stopped")
    died = [e for e in events if isinstance(e, WorkerDied)]
    assert len(died) == 1 and died[0].reason.startswith("step blocked exceeded 0.5 s")


def test_a_step_spinning_in_python_is_stopped_inside_its_worker_without_a_restart(tmp_path):
    plan = load_plan(_plan(tmp_path, ("spins", "test_spins", 0.5)))
    events: list[Event] = []
    result = run_fixture(_station(1), plan, out=tmp_path / "out", units=3, events=events.append)
    assert [r.outcome.value for r in result.records] == ["PASS", "ERROR", "PASS"]
    assert result.records[1].steps[0].message == "StepTimeout: step spins exceeded 0.5 s"
    assert not [e for e in events if isinstance(e, WorkerDied)]
    assert len([e for e in events if isinstance(e, WorkerStarted)]) == 1


def test_a_stop_records_each_sockets_unit_aborted(tmp_path):
    plan = load_plan(_plan(tmp_path, ("wait", "test_wait", None), ("again", "test_wait_again", None),
                           ("more", "test_wait_more", None)))
    events: list[Event] = []
    fired = threading.Event()

    def stop_when_both_run(event: Event) -> None:
        events.append(event)
        running = {e.socket for e in events if isinstance(e, StepStarted)}
        if running == {"A", "B"} and not fired.is_set():
            fired.set()
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, in the supervisor

    result = run_fixture(_station(2), plan, out=tmp_path / "out", units=10,
                         events=stop_when_both_run)
    assert result.aborted
    aborted = [r for r in result.records if r.outcome.value == "ABORTED"]
    assert sorted(r.station.socket for r in aborted) == ["A", "B"]
    assert len(result.records) < 10
    assert (result.run_dir / "index.html").exists()


def test_socket_phases_move_only_as_the_table_says():
    slot = Slot("A")
    slot.move(SocketPhase.TESTING)
    slot.move(SocketPhase.DEAD)
    with pytest.raises(IllegalPhase, match="socket A: cannot go to testing from dead"):
        slot.move(SocketPhase.TESTING)
    slot.move(SocketPhase.STARTING)
    slot.move(SocketPhase.FINISHING)
    slot.move(SocketPhase.EXITED)
    with pytest.raises(IllegalPhase):
        slot.move(SocketPhase.STARTING)


def _jammed(jig) -> None:
    raise RuntimeError("the handler's gripper jammed")


class _JamsOnSecond:
    """The simulated line, but the handler fails while putting the second unit in (outside any step)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def next_unit(self, socket: str):
        start = self.inner.next_unit(socket)
        if start is not None and start.index == 2:
            start = replace(start, bench=_jammed)
        return start


def test_an_exception_outside_a_step_kills_only_that_worker_which_is_restarted(tmp_path):
    plan = load_plan(_plan(tmp_path, ("wait", "test_wait", None)))
    events: list[Event] = []
    with station(_station(1), units=4) as composed:
        result = run_sockets(composed.config, plan, units=_JamsOnSecond(composed.units), probe=None,
                             options=LineOptions(tmp_path / "out"), services=StationServices(events=events.append))
    assert [r.outcome.value for r in result.records] == ["PASS", "ERROR", "PASS", "PASS"]
    lost = result.records[1]
    assert lost.failure is not None and "RuntimeError: the handler's gripper jammed" in lost.failure.message
    assert "failed outside a step" in lost.failure.message
    log = result.run_dir / "station-fault.log"
    assert "Traceback" in log.read_text() and "_jammed" in log.read_text()
    died = [e for e in events if isinstance(e, WorkerDied)]
    assert len(died) == 1 and died[0].index == 2
    assert len([e for e in events if isinstance(e, WorkerStarted)]) == 2


def test_ctrl_c_to_the_whole_process_group_stops_every_socket_once_each_unit_aborted(tmp_path):
    """A terminal's Ctrl-C reaches the supervisor and every worker: the supervisor alone acts on it."""
    import json
    import subprocess
    import sys

    plan = _plan(tmp_path, ("wait", "test_wait", None), ("again", "test_wait_again", None))
    fixture = tmp_path / "two.yaml"
    text = FIXTURE.read_text()
    assert "  - name: A\n    dut:\n      port: .sim/socket-A" in text
    fixture.write_text(text.replace("  - name: A\n", "  - name: B\n    dut: {port: .sim/socket-B}\n  - name: A\n"))
    proc = subprocess.Popen([sys.executable, "-m", "linegate", "run", "--fixture", str(fixture), "--plan", str(plan),
                             "--units", "40", "--out", "o", "--events", "ev.jsonl"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen = (tmp_path / "ev.jsonl").read_text() if (tmp_path / "ev.jsonl").exists() else ""
        if seen.count('"kind":"verdict"') >= 2:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "linegate: stopped by the operator" and "Traceback" not in err
    run_dir = next((tmp_path / "o").glob("run-*"))
    records = [json.loads(p.read_text()) for p in run_dir.glob("*.json") if p.name != "run.json"]
    aborted = [r for r in records if r["outcome"] == "ABORTED"]
    assert 1 <= len(aborted) <= 2 and len({r["station"]["socket"] for r in aborted}) == len(aborted)
    assert all(r["outcome"] in ("PASS", "ABORTED") for r in records)
    assert (run_dir / "junit.xml").exists()


OPERATOR_CODE = '''
def test_ask(operator, measure):
    measure("led", operator.confirm("Is the LED green?"))
    measure("volts", operator.ask_number("Meter reading?", low=3.0, high=3.6, units="V"), "V")
'''


def _asking_plan(tmp_path: Path, module: str) -> Path:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / f"{module}.py").write_text(OPERATOR_CODE)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"name: asking\nversion: '1'\nstation_tests: tests\nsteps:\n  - name: ask\n    test: {module}.py::"
                    "test_ask\n    measurements:\n      - {name: led, equals: true}\n"
                    "      - {name: volts, units: V, low: 3.2, high: 3.4}\n")
    return plan


def test_a_station_test_asks_the_operator_and_the_answers_go_into_the_record(tmp_path):
    plan = _asking_plan(tmp_path, "asking")
    answered: list[tuple[bool, str]] = []
    supervisor_of: list = []

    def answer(event: Event) -> None:
        from linegate.station.events import Prompt

        if isinstance(event, Prompt):
            prompts = supervisor_of[0].prompts
            if event.ask == "confirm":
                answered.append(prompts.answer(event.prompt_id, "maybe", "alice"))  # refused: not yes/no
                answered.append(prompts.answer(event.prompt_id, "yes", "alice"))
            else:
                answered.append(prompts.answer(event.prompt_id, "9", "alice"))  # refused: above 3.6
                answered.append(prompts.answer(event.prompt_id, "3.31", "alice"))

    from linegate.station.engine import supervisor as sup

    real = sup.Supervisor.__init__

    def keep(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.panel = True  # as a panel would: the test answers through the supervisor's open prompts
        supervisor_of.append(self)

    sup.Supervisor.__init__ = keep
    try:
        result = run_fixture(_station(1), load_plan(plan), out=tmp_path / "out", units=1,
                             events=answer)
    finally:
        sup.Supervisor.__init__ = real
    assert answered == [(False, "answer yes or no"), (True, ""), (False, "9 is above 3.6"), (True, "")]
    [record] = result.records
    assert record.outcome.value == "PASS"
    assert [(p.ask, p.text, p.answer, p.who) for p in record.prompts] == [
        ("confirm", "Is the LED green?", "yes", "alice"), ("number", "Meter reading?", "3.31", "alice")]


def test_with_nobody_to_ask_the_step_errors_at_once_saying_so(tmp_path):
    plan = _asking_plan(tmp_path, "asking2")
    t0 = time.monotonic()
    result = run_fixture(_station(1), load_plan(plan), out=tmp_path / "out", units=1)
    assert time.monotonic() - t0 < 20
    [record] = result.records
    assert record.outcome.value == "ERROR"
    assert "nobody to answer: no terminal and no panel" in record.steps[0].message


def test_the_unit_report_lists_the_operators_answers(tmp_path):
    from datetime import UTC, datetime

    from linegate.plans import PromptRecord
    from linegate.reports import UnitReportRenderer

    plan = load_plan(_plan(tmp_path, ("wait", "test_wait", None)))
    [record] = run_fixture(_station(1), plan, out=tmp_path / "out", units=1).records
    asked = record.model_copy(update={"prompts": (PromptRecord(
        step="wait", ask="confirm", text="Is the <LED> green?", answer="yes", who="alice",
        at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),)})
    html = UnitReportRenderer().render(asked)
    assert "Operator answers (1)" in html
    assert "Is the &lt;LED&gt; green?" in html and "<b>yes</b>" in html and "alice" in html
    assert "2026-11-23 09:30:00" in html


def test_the_panels_controls_stop_one_socket_name_the_operator_and_stop_the_station(tmp_path):
    from linegate.station.engine.controls import StationControls

    plan = load_plan(_plan(tmp_path, ("wait", "test_wait", None), ("again", "test_wait_again", None)))
    controls = StationControls()
    assert controls.stop() == (False, "the station is not running")
    assert controls.set_operator("  Li   Wei ") == (True, "")
    assert controls.set_operator("") == (False, "give a name of 1 to 64 printable characters")
    events: list[Event] = []

    def drive(event: Event) -> None:
        events.append(event)
        verdicts = [e for e in events if isinstance(e, Verdict)]
        if isinstance(event, StepStarted) and event.socket == "B" and event.index > 0 and not any(
                isinstance(e, Verdict) and e.socket == "B" for e in events):
            assert controls.stop("B") == (True, "")  # B's first unit: ABORTED, B out of service
            assert controls.stop("Z") == (False, "no socket 'Z'")
        if len([v for v in verdicts if v.socket == "A"]) == 3 and isinstance(event, Verdict):
            controls.stop()  # the whole station

    result = run_fixture(_station(2), plan, out=tmp_path / "out", units=20, events=drive,
                         controls=controls)
    b = [r for r in result.records if r.station.socket == "B"]
    a = [r for r in result.records if r.station.socket == "A"]
    assert [r.outcome.value for r in b] == ["ABORTED"]
    assert [r.outcome.value for r in a][:3] == ["PASS"] * 3 and len(a) <= 4
    assert result.aborted and len(result.records) < 20
    assert {r.station.operator for r in result.records} == {"Li Wei"}
