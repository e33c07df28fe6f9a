"""Instruments that answer garbage or refuse the safe state, at the jig and through a station run.

The instruments are pyvisa-sim devices (tests/sim/faulty-instruments.yaml), each the project's
simulated supply with one fault:
    ASRL11 *IDN? answer not ASCII     ASRL12 MEAS:VOLT? answer not ASCII
    ASRL13 refuses OUTP OFF           ASRL14 refuses every setting, error entry not ASCII
    ASRL15 error queue never empty
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import pyvisa
from linegate.fixtures.config import (
    DutPort,
    FixtureConfig,
    InstrumentAddress,
    Instruments,
    Socket,
    default_sim_instruments,
    load_fixture,
)
from linegate.fixtures.jig import Jig, JigError
from linegate.plans import load_plan
from linegate.station.compose import run_fixture

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).parent / "sim" / "faulty-instruments.yaml"
PLAN = REPO / "plans" / "esp-at-module.yaml"
IDN_GARBLED, VOLTAGE_GARBLED, REFUSES_OFF, ERROR_QUEUE_GARBLED, ERROR_QUEUE_STUCK = (
    f"ASRL{n}::INSTR" for n in (11, 12, 13, 14, 15))


def instruments(psu: str) -> Instruments:
    backend = f"{BENCH}@sim"
    return Instruments(psu=InstrumentAddress(address=psu, backend=backend, timeout_ms=200),
                       dmm=InstrumentAddress(address="ASRL2::INSTR", backend=backend, timeout_ms=200))


def open_jig(psu: str) -> Jig:
    config = FixtureConfig(station="bench", sockets=(Socket(name="A", dut=DutPort(port="loop://")),),
                           instruments=instruments(psu))
    return Jig.open(config)


def fixture_file(tmp_path: Path, psu: str, bench: Path = BENCH) -> Path:
    """A simulated station (ESP-AT module on a pty) whose supply is ``psu`` of the faulty bench."""
    path = tmp_path / "station.yaml"
    path.write_text(f"""\
station: faulty-bench
sockets:
  - name: A
    dut: {{port: .sim/socket-A}}
instruments:
  psu: {{address: "{psu}", backend: "{bench}@sim", timeout_ms: 200}}
  dmm: {{address: "ASRL2::INSTR", backend: "{bench}@sim", timeout_ms: 200}}
simulated: {{seed: 1, fail_share: 0}}
""")
    return path


def linegate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180)


def records(out: Path) -> list[dict]:
    run_dir = next(out.glob("run-*"))
    return [json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json")) if p.name != "run.json"]


# -- the jig -------------------------------------------------------------------------------
def test_jig_open_with_a_non_ascii_identification_is_a_jig_error():
    with pytest.raises(JigError) as caught:
        open_jig(IDN_GARBLED)
    assert str(caught.value) == (r"ASRL11::INSTR: *IDN?: answer is not ASCII text: "
                                 r"b'LINEGATE-SIM,PSU-3305,\xc3\xbf\xc3\xbe\xc2\x80,1.4.2'")


def test_safe_state_turns_the_supply_off_and_reports_no_problem():
    jig = open_jig(VOLTAGE_GARBLED)
    try:
        assert jig.psu is not None
        jig.psu.output(True)
        assert jig.psu.is_output_on()
        assert jig.safe_state() == []
        assert not jig.psu.is_output_on()
    finally:
        jig.close()


def test_refused_output_off_is_returned_and_logged(caplog):
    jig = open_jig(REFUSES_OFF)
    try:
        with caplog.at_level(logging.WARNING, logger="linegate.fixtures.jig"):
            problems = jig.safe_state()
            logged = [(r.levelno, r.getMessage()) for r in caplog.records]
    finally:
        jig.close()
    expected = 'psu ASRL13::INSTR: OUTP OFF: instrument reported -100,"Command error"'
    assert problems == [expected]
    assert logged == [(logging.WARNING, f"safe state not reached: {expected}")]


def test_garbled_answer_during_safe_state_is_returned_not_raised():
    jig = open_jig(ERROR_QUEUE_GARBLED)
    try:
        assert jig.safe_state() == [
            r"psu ASRL14::INSTR: OUTP OFF; SYST:ERR?: answer is not ASCII text: b'+0,\xc2\xab\xc2\xbb'"]
    finally:
        jig.close()


def test_supply_gone_during_safe_state_is_returned_and_close_still_closes():
    jig = open_jig(VOLTAGE_GARBLED)
    assert jig.psu is not None
    jig.psu.resource.close()  # the supply dropped off the bus
    [problem] = jig.safe_state()
    assert problem.startswith("psu ASRL12::INSTR: OUTP OFF: VISA error: ")
    assert "\n" not in problem
    jig.close()
    assert jig.psu is None and jig.dmm is None


def test_jig_open_with_an_error_queue_that_never_empties_is_a_jig_error():
    with pytest.raises(JigError) as caught:
        open_jig(ERROR_QUEUE_STUCK)
    assert str(caught.value) == ('ASRL15::INSTR: *CLS; SYST:ERR?: error queue still not empty after 32 reads, '
                                 'last -350,"Queue overflow"')


# -- through a station run -----------------------------------------------------------------
def test_cli_jig_with_a_non_ascii_identification_exits_3_with_one_line(tmp_path):
    done = linegate("run", "--fixture", str(fixture_file(tmp_path, IDN_GARBLED)), "--plan", str(PLAN),
                    "--units", "1", "--out", "o", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and "UnicodeDecodeError" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        r"linegate: jig: ASRL11::INSTR: *IDN?: answer is not ASCII text: "
        r"b'LINEGATE-SIM,PSU-3305,\xc3\xbf\xc3\xbe\xc2\x80,1.4.2'"]


def test_cli_non_ascii_reading_mid_run_makes_each_unit_error_with_its_record(tmp_path):
    done = linegate("run", "--fixture", str(fixture_file(tmp_path, VOLTAGE_GARBLED)), "--plan", str(PLAN),
                    "--units", "2", "--out", "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    found = records(tmp_path / "o")
    assert [r["outcome"] for r in found] == ["ERROR", "ERROR"]
    for record in found:
        assert record["failure"] == {
            "step": "power_on", "measurement": None,
            "message": r"InstrumentBadAnswer: ASRL12::INSTR: MEAS:VOLT?: answer is not ASCII text: b'3.3000\xc2\xb5'"}
        assert "safe_state" not in record["dut"], "the supply still turned off after the bad answer"


def test_run_with_a_garbled_error_queue_keeps_every_record_and_names_the_safe_state_problem(tmp_path):
    config = load_fixture(fixture_file(tmp_path, ERROR_QUEUE_GARBLED))
    result = run_fixture(config, load_plan(PLAN), out=tmp_path / "o", units=2)
    assert [r.outcome.value for r in result.records] == ["ERROR", "ERROR"]
    for record in result.records:
        assert record.failure is not None and record.failure.message.startswith(
            "InstrumentBadAnswer: ASRL14::INSTR: CURR 0.5000; SYST:ERR?: answer is not ASCII text")
        assert record.dut["safe_state"] == (
            r"psu ASRL14::INSTR: OUTP OFF; SYST:ERR?: answer is not ASCII text: b'+0,\xc2\xab\xc2\xbb'")
    assert len(records(tmp_path / "o")) == 2


def test_run_with_a_supply_refusing_output_off_records_it_on_every_unit(tmp_path):
    config = load_fixture(fixture_file(tmp_path, REFUSES_OFF))
    result = run_fixture(config, load_plan(PLAN), out=tmp_path / "o", units=2)
    assert len(result.records) == 2
    for record in result.records:
        assert record.dut["safe_state"] == 'psu ASRL13::INSTR: OUTP OFF: instrument reported -100,"Command error"'


def test_a_jig_opened_after_a_session_that_left_an_error_in_the_supply_clears_it(tmp_path, caplog):
    # pyvisa-sim keeps a bench's state for the whole process, as a real supply keeps its error
    # queue between sessions: an earlier session's refused command is still queued at open.
    bench = default_sim_instruments()
    manager = pyvisa.ResourceManager(f"{bench}@sim")
    try:
        earlier = manager.open_resource("ASRL1::INSTR", read_termination="\n", write_termination="\n")
        earlier.write("OUTP 1")
    finally:
        manager.close()
    config = load_fixture(fixture_file(tmp_path, "ASRL1::INSTR", bench))
    # in this process, where pyvisa-sim kept the error: a worker's own process has a fresh simulated bench
    with caplog.at_level(logging.INFO, logger="linegate.drivers.instruments.scpi"):
        jig = Jig.open(config.model_copy(update={"sockets": ()}))
    try:
        assert jig.psu is not None and jig.psu.stale_errors == ('-224,"Illegal parameter value"',)
        jig.psu.write("*CLS")  # the queue is empty now: the first setting of the session is not blamed
    finally:
        jig.close()
    assert 'ASRL1::INSTR: stale error cleared on open: -224,"Illegal parameter value"' in caplog.messages
