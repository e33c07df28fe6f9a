"""The simulated line end to end: the same code path that faces real hardware."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from linegate.fixtures.config import load_fixture
from linegate.plans import UnitRecord, load_plan
from linegate.station.compose import run_fixture
from linegate.station.events import UnitStarted, WorkerStarted
from linegate.station.run import LineError
from linekit import with_worker_patch

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"
PLAN = REPO / "plans" / "esp-at-module.yaml"
BOTH_UP = """
import time
from pathlib import Path

from linegate.fixtures.context import STATE


def pytest_collection_finish(session):  # each worker, jig open, waits for the other before any unit
    up = Path({up!r})
    (up / session.config.stash[STATE].config.sockets[0].name).touch()
    deadline = time.monotonic() + 30
    while len(list(up.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
"""
SCHEMA = json.loads((REPO / "plans" / "unit-record.schema.json").read_text())


@pytest.fixture(scope="module")
def line_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    events: list = []
    result = run_fixture(load_fixture(FIXTURE), load_plan(PLAN), out=out, units=16, events=events.append)
    return result, events


def test_every_unit_has_a_record_html_and_index(line_run):
    result, _ = line_run
    assert len(result.records) == 16 and result.run_dir is not None
    assert (result.run_dir / "index.html").is_file()
    for record in result.records:
        assert (result.run_dir / f"{record.stem}.html").is_file()
        doc = json.loads((result.run_dir / f"{record.stem}.json").read_text())
        jsonschema.validate(doc, SCHEMA)
        assert doc["outcome"] in ("PASS", "FAIL", "ERROR", "ABORTED")
        assert doc["unit"]["serial"] and doc["plan"]["sha256"] == load_plan(PLAN).sha256
        assert doc["instruments"]["psu"].startswith("LINEGATE-SIM")


def test_units_differ_and_fail_for_different_reasons(line_run):
    result, _ = line_run
    macs = [r.unit.get("mac") for r in result.records if "mac" in r.unit]
    assert len(set(macs)) == len(macs) >= 12
    outcomes = {r.outcome.value for r in result.records}
    assert {"PASS", "FAIL"} <= outcomes
    reasons = {r.failure.step for r in result.records if r.failure}
    assert len(reasons) >= 2


def test_jig_is_opened_once_for_the_whole_run(line_run):
    """The socket's worker opens its jig once, as it starts, and tests every unit on it."""
    _, events = line_run
    [started] = [e for e in events if isinstance(e, WorkerStarted)]
    assert [e.kind for e in events].index("worker_started") == 0
    assert sum(isinstance(e, UnitStarted) for e in events) == 16 and started.socket == "A"


def test_failing_unit_names_step_measurement_and_skips_the_rest(line_run):
    result, _ = line_run
    current = [r for r in result.records if r.failure and r.failure.measurement == "supply_current"]
    assert current, "seed 1 has a high-current unit"
    record = current[0]
    assert "above the high limit 0.1 A" in record.failure.message
    after = next(s for s in record.steps if s.name == "factory_param")
    assert after.outcome.value == "skipped" and "earlier step" in after.message


def test_serial_transcript_is_attached(line_run):
    result, _ = line_run
    record = next(r for r in result.records if r.outcome.value == "PASS")
    transcript = next(a for a in record.attachments if a.name == "serial-transcript.txt")
    assert "AT+CIPSTAMAC?" in transcript.content and "+CIPSTAMAC:" in transcript.content


def test_two_sockets_each_unit_is_tested_through_its_own_socket(tmp_path):
    """unit and dut follow the socket from unit to unit (on one socket they are set up once)."""
    config = load_fixture(FIXTURE)
    second = config.sockets[0].model_copy(
        update={"name": "B", "dut": config.sockets[0].dut.model_copy(update={"port": ".sim/socket-B"})})
    config = config.model_copy(update={"sockets": [config.sockets[0], second],
                                       "simulated": config.simulated.model_copy(update={"fail_share": 0.0})})
    (tmp_path / "up").mkdir()
    plan = with_worker_patch(load_plan(PLAN), tmp_path, BOTH_UP.format(up=str(tmp_path / "up")))
    result = run_fixture(config, plan, out=tmp_path / "out", units=6)
    assert {r.station.socket for r in result.records} == {"A", "B"}  # side by side: whichever frees first
    assert all(r.outcome.value == "PASS" for r in result.records)
    macs = [r.unit["mac"] for r in result.records]
    assert len(set(macs)) == 6
    for record in result.records:
        assert record.dut["port"].endswith(f"socket-{record.station.socket}")
        transcript = next(a for a in record.attachments if a.name == "serial-transcript.txt").content
        assert record.unit["mac"] in transcript  # read through this socket's driver, in this unit


def test_committed_schema_matches_the_record_model():
    assert UnitRecord.model_json_schema() == SCHEMA


def plan_with(tmp_path: Path, extra_step: str) -> Path:
    text = PLAN.read_text().replace("station_tests: ../station_tests", f"station_tests: {REPO / 'station_tests'}")
    path = tmp_path / "plan.yaml"
    path.write_text(text + extra_step)
    return path


def own_plan(tmp_path: Path, module: str, code: str, steps: str) -> Path:
    """A plan of its own over one station test file ``<module>.py`` holding ``code``.

    Module names must differ between tests: pytest imports them into this one process."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / f"{module}.py").write_text(code)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"name: own\nversion: '1'\nstation_tests: tests\nsteps:\n{steps}")
    return plan


def test_measurement_without_limit_and_declared_but_not_recorded_fail_the_unit(tmp_path):
    plan = own_plan(
        tmp_path, "test_unplanned", "def test_extra(measure):\n    measure('unplanned', 1.0)\n",
        "  - name: extra\n    test: test_unplanned.py::test_extra\n    measurements:\n"
        "      - {name: planned, low: 0, high: 2}\n",
    )
    result = run_fixture(load_fixture(FIXTURE), load_plan(plan), out=tmp_path / "out", units=1)
    record = result.records[0]
    assert record.outcome.value == "FAIL"
    message = record.steps[0].message
    assert "'unplanned' has no limit" in message and "'planned' was not recorded" in message


def test_unknown_station_test_is_refused_before_any_unit(tmp_path):
    plan = plan_with(tmp_path, "  - name: ghost\n    test: test_esp_at_module.py::test_ghost\n")
    with pytest.raises(LineError, match=r"steps\[6\]\(ghost\)"):
        run_fixture(load_fixture(FIXTURE), load_plan(plan), out=tmp_path / "out", units=1)
    assert not (tmp_path / "out").exists()


def test_instrument_error_is_error_not_fail(tmp_path):
    plan = own_plan(
        tmp_path, "test_bad_query", "def test_bad_query(psu, measure):\n    measure('v', float(psu.query('NOPE?')))\n",
        "  - name: q\n    test: test_bad_query.py::test_bad_query\n"
        "    measurements:\n      - {name: v, low: 0, high: 1}\n",
    )
    fixture = tmp_path / "f.yaml"
    fixture.write_text(FIXTURE.read_text().replace('backend: "@sim"}', 'backend: "@sim", timeout_ms: 100}'))
    record = run_fixture(load_fixture(fixture), load_plan(plan), out=tmp_path / "out", units=1).records[0]
    assert record.outcome.value == "ERROR"
    assert "InstrumentTimeout" in record.failure.message and "NOPE?" in record.failure.message


def test_a_steps_log_records_and_output_go_into_its_step(tmp_path, capsys):
    plan = own_plan(
        tmp_path, "test_logs",
        "import logging, sys\n"
        "def test_one(measure):\n"
        "    logging.getLogger('station.one').warning('supply sagged to %.2f V', 3.01)\n"
        "    logging.getLogger('station.one').debug('not captured: below the configured level')\n"
        "    print('printed in one')\n"
        "    measure('v', 1.0)\n"
        "def test_two(measure):\n"
        "    print('calibration is due', file=sys.stderr)\n"
        "    measure('v2', 1.0)\n",
        "  - name: one\n    test: test_logs.py::test_one\n    measurements: [{name: v, low: 0, high: 2}]\n"
        "  - name: two\n    test: test_logs.py::test_two\n    measurements: [{name: v2, low: 0, high: 2}]\n",
    )
    result = run_fixture(load_fixture(FIXTURE), load_plan(plan), out=tmp_path / "out", units=2)
    for record in result.records:
        one, two = record.steps
        assert "--- Captured log ---" in one.output
        assert "WARNING  station.one:test_logs.py:3 supply sagged to 3.01 V" in one.output
        assert "not captured" not in one.output and "printed in one" in one.output
        assert "supply sagged" not in two.output
        assert "calibration is due" in two.output


def test_output_and_log_records_between_units_are_not_swallowed(capsys):
    import logging

    from linegate.station.capture import StepCapture

    capture = StepCapture()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = []
    try:
        with capture:
            logging.getLogger("drain").warning("commit for unit 7 waits for the service")
            print("unit 7 written")
            capture.start()
            logging.getLogger("step").warning("inside a step")
            print("printed inside")
            capture.stop()
    finally:
        root.handlers[:] = saved
    seen = capsys.readouterr()
    assert "commit for unit 7 waits" in seen.err  # no other handler: stderr, as without the station
    assert "unit 7 written" in seen.out and "inside" not in seen.out + seen.err
    assert capture.take() == (
        "--- Captured stdout ---\nprinted inside\n"
        "--- Captured log ---\nWARNING  step:test_line.py:" + str(_line_of("inside a step")) + " inside a step"
    )


def _line_of(text: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line and "warning(" in line)
