"""Shared instruments: cross-process locks (fixtures/locks.py) and the steps that hold them.

The locks are real ``flock``s on files held by real processes; the shared instrument is a DMM on
127.0.0.1 (tests/shared_scpi.py) reached through pyvisa-py, which breaks when two connections use
it at once; the DUTs are the simulated ESP-AT modules on ptys. The proof runs two station
processes side by side, one per socket, as the supervisor's socket workers will.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from html import unescape
from pathlib import Path

import pytest
from linegate.fixtures.deadline import Deadline, StepTimeout
from linegate.fixtures.locks import InstrumentLocks, LockError, LockOrderError
from linegate.reports import UnitReportRenderer
from linegate.station.engine.processes import lock_dir_of
from shared_scpi import SharedScpiDmm, bench, socket_station

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def hold_elsewhere(path: Path) -> subprocess.Popen[str]:
    """Another process holding the lock file ``path`` (until it is killed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def free_elsewhere(path: Path) -> bool:
    """Whether another process can lock ``path`` right now."""
    probe = ("import fcntl, os, sys\n"
             "fcntl.flock(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)")
    return subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True).returncode == 0


# -- InstrumentLocks ---------------------------------------------------------------


def test_several_names_are_taken_in_sorted_order_and_released_together(tmp_path):
    locks = InstrumentLocks(tmp_path / "locks")
    with locks.hold(["psu", "dmm", "psu"]) as hold:
        assert hold.names == ("dmm", "psu") and hold.waited_s == 0.0
        assert locks.held == ("dmm", "psu")
        assert not free_elsewhere(locks.path("dmm")) and not free_elsewhere(locks.path("psu"))
    assert locks.held == ()
    assert free_elsewhere(locks.path("dmm")) and free_elsewhere(locks.path("psu"))
    assert locks.take_tally() == (0.0, ("dmm", "psu"))
    assert locks.take_tally() == (0.0, ())


def test_a_name_already_held_is_taken_again_without_waiting_and_kept_until_the_outer_hold_ends(tmp_path):
    locks = InstrumentLocks(tmp_path)
    with locks.hold(["dmm"]):
        with locks.hold(["dmm"]), locks.hold(["dmm", "psu"]):  # dmm again, psu after it: in order
            assert locks.held == ("dmm", "psu")
        assert locks.held == ("dmm",)
        assert not free_elsewhere(locks.path("dmm")) and free_elsewhere(locks.path("psu"))
    assert free_elsewhere(locks.path("dmm"))


def test_an_exception_in_the_block_releases_and_a_hold_never_entered_releases_nothing(tmp_path):
    locks = InstrumentLocks(tmp_path)
    with pytest.raises(ZeroDivisionError), locks.hold(["dmm"]):
        1 / 0  # noqa: B018
    assert locks.held == () and free_elsewhere(locks.path("dmm"))
    with locks.hold(["dmm"]):
        locks.hold(["dmm"]).__exit__(None, None, None)  # a step hold whose entering was cut short
        assert locks.held == ("dmm",)
    holding = locks.hold(["dmm"])
    with holding, pytest.raises(RuntimeError, match="entered once"), holding:
        pass


def test_taking_a_name_that_sorts_before_one_held_is_refused_before_any_wait(tmp_path):
    locks = InstrumentLocks(tmp_path)
    holder = hold_elsewhere(locks.path("dmm"))  # would block forever if hold waited
    try:
        with locks.hold(["psu"]):
            with pytest.raises(LockOrderError) as refused, locks.hold(["dmm"]):
                pass
            assert locks.held == ("psu",)
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    assert "\n" not in message and "dmm" in message and "psu" in message
    assert "name order (dmm before psu)" in message


def test_a_holder_killed_with_sigkill_leaves_no_lock_behind(tmp_path):
    locks = InstrumentLocks(tmp_path)
    holder = hold_elsewhere(locks.path("dmm"))
    killer = threading.Timer(0.3, holder.kill)
    killer.start()
    try:
        with locks.hold(["dmm"]) as hold:
            assert 0.2 < hold.waited_s < 5
    finally:
        killer.cancel()
        holder.wait()
    assert holder.returncode == -9
    assert locks.take_tally()[0] == hold.waited_s


def test_the_step_deadline_interrupts_a_blocked_hold_and_leaves_nothing_held(tmp_path):
    locks = InstrumentLocks(tmp_path)
    holder = hold_elsewhere(locks.path("dmm"))
    deadline = Deadline()
    try:
        deadline.start("rail", 0.3)
        deadline.arm()
        t0 = time.monotonic()
        with pytest.raises(StepTimeout, match=r"^step rail exceeded 0\.3 s$"), locks.hold(["amp", "dmm"]):
            pass
        assert time.monotonic() - t0 < 2
    finally:
        deadline.stop()
        holder.kill()
        holder.wait()
    assert locks.held == ()
    assert free_elsewhere(locks.path("amp"))  # taken before dmm blocked: released again


def test_a_lock_file_that_cannot_be_opened_is_one_line_naming_the_instrument_and_the_file(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    locks = InstrumentLocks(tmp_path / "not-a-dir")
    with pytest.raises(LockError) as e, locks.hold(["dmm"]):
        pass
    lock_file = tmp_path / "not-a-dir" / "instrument-dmm.lock"
    assert str(e.value) == f"instrument dmm: lock file {lock_file}: cannot open: Not a directory"
    assert locks.held == ()


# -- steps holding shared instruments ----------------------------------------------


def test_a_step_naming_a_shared_instrument_holds_it_from_setup_to_teardown_and_shared_only_inside(tmp_path):
    with SharedScpiDmm(read_s=0.01) as dmm:
        fixture, plan = bench(tmp_path, dmm.address, module="shared_one", sockets=1)
        done = socket_station(str(fixture), str(plan), "A", str(tmp_path / "out"), True, 2)
        assert dmm.violations == [] and dmm.readings == 4
    records = done["records"]
    assert [r["outcome"] for r in records] == ["PASS", "PASS"], [r["failure"] for r in records]
    for record in records:
        steps = {s["name"]: s for s in record["steps"]}
        assert [steps[n]["shared"] for n in ("ready", "rail", "link", "fine")] == [[], ["dmm"], [], ["dmm"]]
        assert all(s["lock_wait_s"] == 0.0 for s in record["steps"])  # nobody else: no wait
    assert (tmp_path / "barrier" / "teardowns.txt").read_text().splitlines() == ["dmm", "dmm"]
    assert free_elsewhere(InstrumentLocks(lock_dir_of("shared-bench")).path("dmm"))


def test_a_step_blocked_on_a_shared_instrument_ends_at_its_deadline_holding_nothing(tmp_path):
    with SharedScpiDmm(read_s=0.01) as dmm:
        fixture, plan = bench(tmp_path, dmm.address, module="shared_deadline", sockets=1,
                              extra="step_timeout_s: 0.4\n")
        holder = hold_elsewhere(InstrumentLocks(lock_dir_of("shared-bench")).path("dmm"))
        try:
            done = socket_station(str(fixture), str(plan), "A", str(tmp_path / "out"), True, 1)
        finally:
            holder.kill()
            holder.wait()
    [record] = done["records"]
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["rail"]["outcome"] == "error"
    assert steps["rail"]["message"] == "StepTimeout: step rail exceeded 0.4 s"
    assert (steps["rail"]["shared"], 0.3 < steps["rail"]["lock_wait_s"] < 2) == ([], True)  # waited, never held
    assert steps["link"]["outcome"] == "pass"  # the next step runs, and holds nothing
    assert steps["fine"]["outcome"] == "error"  # blocked inside shared("dmm") this time
    assert steps["fine"]["message"] == "StepTimeout: step fine exceeded 0.4 s"
    assert not (tmp_path / "barrier" / "teardowns.txt").exists()  # rail's fixtures were never set up


def run_two_sockets(tmp_path: Path, *, locked: bool, units: int = 4) -> tuple[SharedScpiDmm, list[dict]]:
    with SharedScpiDmm(read_s=0.05) as dmm:
        fixture, plan = bench(tmp_path, dmm.address, module="shared_two", locked=locked)
        jobs = [(str(fixture), str(plan), s, str(tmp_path / f"out-{s}"), locked, units) for s in "AB"]
        # not a multiprocessing.Pool: its daemonic processes could not start a station's workers
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(socket_station, *zip(*jobs, strict=True)))
    return dmm, done


def test_two_socket_stations_never_use_the_shared_dmm_at_once_with_locks(tmp_path):
    dmm, done = run_two_sockets(tmp_path, locked=True)
    assert dmm.violations == []
    assert dmm.readings == 2 * 4 * 2
    records = [r for d in done for r in d["records"]]
    assert [r["outcome"] for r in records] == ["PASS"] * 8, [r["failure"] for r in records]
    assert sorted({r["station"]["socket"] for r in records}) == ["A", "B"]
    waits = [s["lock_wait_s"] for r in records for s in r["steps"] if s["name"] in ("rail", "fine")]
    assert sum(w > 0 for w in waits) >= 2, waits  # they did queue for the DMM
    assert all(s["lock_wait_s"] == 0.0 for r in records for s in r["steps"] if s["name"] in ("ready", "link"))
    # the record files on disk carry the wait, and the unit report shows it
    waited = [(path, s) for d in done for path in Path(d["run_dir"]).glob("*.json") if path.name != "run.json"
              for s in json.loads(path.read_text())["steps"] if s["lock_wait_s"] > 0]
    assert waited and all(s["shared"] == ["dmm"] for _, s in waited)
    path, step = waited[0]
    rows = step_rows(path.with_suffix(".html").read_text())
    assert f">shared dmm &middot; waited {step['lock_wait_s'] * 1000:.1f} ms</div>" in rows[step["name"]]


def test_control_without_locks_the_two_stations_do_collide_on_the_dmm(tmp_path):
    dmm, done = run_two_sockets(tmp_path, locked=False)
    assert len(dmm.violations) > 0
    failures = [r["failure"]["message"] for d in done for r in d["records"] if r["outcome"] != "PASS"]
    assert failures  # a spoilt reading: an overload, or the settings-conflict error


def test_the_unit_report_shows_the_wait_only_for_steps_that_held_a_shared_instrument(tmp_path):
    with SharedScpiDmm(read_s=0.01) as dmm:
        fixture, plan = bench(tmp_path, dmm.address, module="shared_report", sockets=1)
        socket_station(str(fixture), str(plan), "A", str(tmp_path / "out"), True, 1)
    [path] = [p for p in (tmp_path / "out").glob("*/*.json") if p.name != "run.json"]
    from linegate.plans import UnitRecord

    record = UnitRecord.model_validate_json(path.read_text())
    steps = {s.name: s for s in record.steps}
    waited = record.model_copy(update={"steps": (steps["link"], steps["rail"].model_copy(
        update={"lock_wait_s": 0.0421}))})
    rows = step_rows(UnitReportRenderer().render(waited))
    assert "lg-shared" not in rows["link"]
    assert ">shared dmm &middot; waited 42.1 ms</div>" in rows["rail"]
    unwaited = record.model_copy(update={"steps": (steps["rail"],)})  # held, not waited: shown as 0.0 ms
    assert ">shared dmm &middot; waited 0.0 ms</div>" in step_rows(UnitReportRenderer().render(unwaited))["rail"]


def step_rows(html: str) -> dict[str, str]:
    """The unit report's step table, as the page's script gets it: each step's row cells, joined."""
    blob = re.search(r'data-jsonblob="([^"]*)"', html)
    assert blob is not None
    tests = json.loads(unescape(blob.group(1)))["tests"]
    return {name: "".join(runs[0]["resultsTableRow"]) for name, runs in tests.items()}


ORDER_TESTS = '''
from linegate.fixtures.context import STATE


def test_order(psu, shared, measure):
    with shared("dmm"):
        measure("ok", True)


def test_both(shared, request, measure):
    with shared("psu", "dmm") as (psu, dmm):
        measure("held", ",".join(request.config.stash[STATE].locks.held))
        measure("both", psu.idn == dmm.idn)


def test_own(amp, shared, request, measure):
    with shared("amp") as same:
        measure("held", ",".join(request.config.stash[STATE].locks.held))
        measure("same", same is amp)
'''


def test_lock_order_in_a_step_and_a_sockets_own_instrument(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "shared_order.py").write_text(ORDER_TESTS)
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: order\nversion: '1'\nstation_tests: tests\nstop_on_failure: false\nsteps:\n"
                    "  - {name: order, test: shared_order.py::test_order, measurements: [{name: ok, equals: true}]}\n"
                    "  - name: both\n    test: shared_order.py::test_both\n"
                    "    measurements: [{name: held, equals: 'dmm,psu'}, {name: both, equals: true}]\n"
                    "  - name: own\n    test: shared_order.py::test_own\n"
                    "    measurements: [{name: held, equals: ''}, {name: same, equals: true}]\n")
    with SharedScpiDmm(read_s=0.01) as dmm:
        where = f"{{address: '{dmm.address}', backend: '@py', driver: scpi-dmm}}"
        fixture = tmp_path / "station.yaml"
        fixture.write_text(f"station: order-bench\nsockets:\n  - name: A\n    dut: {{port: .sim/socket-A}}\n"
                           f"    instruments:\n      amp: {where}\n"
                           f"instruments:\n  dmm: {where}\n  psu: {where}\nsimulated: {{seed: 1, fail_share: 0}}\n")
        done = socket_station(str(fixture), str(plan), "A", str(tmp_path / "out"), True, 1)
    [record] = done["records"]
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["order"]["outcome"] == "error"
    assert steps["order"]["message"] == (
        "LockOrderError: instrument dmm: cannot lock it while holding psu: shared instruments are locked in "
        "name order (dmm before psu); take both in one hold, dmm first")
    assert (steps["both"]["outcome"], steps["both"]["shared"]) == ("pass", ["dmm", "psu"])
    assert (steps["own"]["outcome"], steps["own"]["shared"]) == ("pass", [])


def test_through_the_supervisor_two_socket_workers_never_use_the_shared_dmm_at_once(tmp_path):
    """The station as ``linegate run`` runs it: one worker process per socket, locks in the station's folder."""
    from linegate.fixtures.config import load_fixture
    from linegate.plans import load_plan
    from linegate.station.compose import run_fixture

    with SharedScpiDmm() as dmm:
        fixture, plan = bench(tmp_path, dmm.address, module="shared_supervised")
        result = run_fixture(load_fixture(fixture), load_plan(plan), out=tmp_path / "out", units=6)
    assert dmm.violations == []
    assert [r.outcome.value for r in result.records] == ["PASS"] * 6, [r.failure for r in result.records]
    assert sorted({r.station.socket for r in result.records}) == ["A", "B"]
    waits = [s.lock_wait_s for r in result.records for s in r.steps if s.name in ("rail", "fine")]
    assert sum(w > 0 for w in waits) >= 2, waits  # they did queue for the DMM
