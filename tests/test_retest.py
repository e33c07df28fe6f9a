"""The retest limit (plan ``retest: {max_attempts: N}``): a unit failed N times, on any station sharing the
results, is refused before testing, at the terminal, on the panel and for ``--sn``; an override is possible
and recorded (JSON, HTML, results store). Real simulated stations, real SQLite (and PostgreSQL when it
answers), real HTTP."""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from linegate.fixtures.config import load_fixture
from linegate.fixtures.sim.jig import SimulatedLine
from linegate.plans import PlanError, load_plan
from linegate.plans.record import (
    Failure,
    Outcome,
    PlanRef,
    StationRef,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from linegate.station import cli
from linegate.station.compose import run_fixture
from linegate.station.engine.retest import RetestChecked
from linegate.station.engine.sources import UnitStart
from linegate.station.handler import OperatorUnits
from linegate.station.panel import PanelHub, serve
from linegate.station.panel.i18n import text
from linegate.station.panel_cli import Panel
from linegate.station.results.attempts import RetestPolicy, StoreAttempts
from linegate.station.results.schema import units
from linegate.station.results.store import ResultsStore
from panelkit import wait_state
from pgkit import pg_schema, postgres_up
from sqlalchemy import select

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"

STEP = '''
def test_current(measure):
    measure("current_a", 0.5, "A")
'''


def _plan(tmp_path: Path, max_attempts: object = 2) -> Path:
    """One step that always fails (0.5 A over a 0.1 A limit): every unit FAILs."""
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "retest_steps.py").write_text(STEP)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"name: retest\nversion: '1'\nstation_tests: tests\nretest: {{max_attempts: {max_attempts}}}\n"
                    "steps:\n  - name: current\n    test: retest_steps.py::test_current\n    measurements:\n"
                    "      - {name: current_a, high: 0.1, units: A}\n")
    return plan


def _fixture(tmp_path: Path, station: str) -> Path:
    path = tmp_path / f"{station}.yaml"
    path.write_text(FIXTURE.read_text().replace("station: sim-station-1", f"station: {station}"))
    return path


def _record(serial: str, outcome: Outcome, station: str, at: datetime, socket: str = "A") -> UnitRecord:
    """A unit record as another station wrote it."""
    failed = outcome in (Outcome.FAIL, Outcome.ERROR)
    step = StepRecord(name="current", test="retest_steps.py::test_current",
                      outcome=StepOutcome.FAIL if failed else StepOutcome.PASS, started_at=at, duration_s=0.1)
    return UnitRecord(record_id=str(uuid.uuid4()), outcome=outcome, unit={"serial": serial},
                      station=StationRef(name=station, fixture="f.yaml", socket=socket, linegate_version="0"),
                      plan=PlanRef(name="retest", version="1", sha256="0" * 64, path="plan.yaml"),
                      started_at=at, ended_at=at + timedelta(seconds=1), duration_s=1.0, steps=(step,),
                      failure=Failure(step="current", message="current_a too high") if failed else None)


def _seed(store: ResultsStore, serial: str, *outcomes: Outcome, station: str = "line-2") -> None:
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    for i, outcome in enumerate(outcomes):
        store.write(_record(serial, outcome, station, start + timedelta(minutes=i)), run_dir="seeded")


def _policy(max_attempts: int, *stores: ResultsStore, central: str | None = None, said: list[str] | None = None):
    from linegate.plans.plan import RetestSpec

    say = said.append if said is not None else (lambda _: None)
    return RetestPolicy(RetestSpec(max_attempts=max_attempts), StoreAttempts(*stores, central=central, say=say))


# -- the plan field ------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["0", "two", "1.5", "-3"])
def test_a_bad_retest_limit_is_refused_in_one_line_naming_the_file_and_field(tmp_path, bad):
    with pytest.raises(PlanError, match=r"plan.yaml: retest.max_attempts: ") as caught:
        load_plan(_plan(tmp_path, bad))
    assert "\n" not in str(caught.value)


def test_a_bad_retest_limit_on_the_command_line_exits_2(tmp_path, capsys):
    code = cli.main(["run", "--fixture", str(FIXTURE), "--plan", str(_plan(tmp_path, "0")), "--units", "1",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "plan.yaml: retest.max_attempts" in err


# -- counting ------------------------------------------------------------------------------
def test_fail_and_error_count_aborted_and_pass_do_not(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        _seed(store, "SN-7", Outcome.FAIL, Outcome.ABORTED, Outcome.PASS, Outcome.ERROR, Outcome.ABORTED)
        _seed(store, "SN-8", Outcome.FAIL)
        found = StoreAttempts(store).failures("SN-7")
        assert [f.outcome for f in found.failed] == ["FAIL", "ERROR"] and found.note == ""
        rework = _policy(2, store).check("SN-7")
        assert rework is not None
        assert rework.message() == ("send to rework: SN-7 failed 2 times (last: current: current_a too high on "
                                    "line-2 socket A at 2026-11-20 08:03:00 UTC)")
        assert _policy(3, store).check("SN-7") is None
        assert _policy(2, store).check("SN-8") is None


def test_a_failure_in_the_central_store_counts_once_even_when_also_local(tmp_path):
    with ResultsStore(tmp_path / "local.db") as local, ResultsStore(tmp_path / "central.db") as central:
        twice = _record("SN-5", Outcome.FAIL, "line-1", datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
        local.write(twice, run_dir=tmp_path)
        central.write(twice, run_dir=tmp_path)  # synced: the same record_id in both
        _seed(central, "SN-5", Outcome.FAIL, station="line-2")
        failures = StoreAttempts(local, central=central.url).failures("SN-5")
        assert [f.station for f in failures.failed] == ["line-1", "line-2"]


def test_a_central_store_that_does_not_answer_falls_back_to_the_local_count_and_says_so_once(tmp_path):
    said: list[str] = []
    away = "postgresql+psycopg://postgres:secret@127.0.0.1:1/test"
    with ResultsStore(tmp_path / "local.db") as local:
        _seed(local, "SN-3", Outcome.FAIL, Outcome.FAIL, station="here")
        policy = _policy(2, local, central=away, said=said)
        started = time.monotonic()
        first, second = policy.check("SN-3"), policy.check("SN-3")
        assert time.monotonic() - started < 5
    assert first is not None and second is not None
    assert "counted on this station only: the central store postgresql+psycopg://postgres:***@127.0.0.1:1/test " \
           "is away" in first.message()
    assert len(said) == 1 and "does not answer" in said[0] and "secret" not in said[0]


@pytest.mark.skipif(not postgres_up(), reason="no PostgreSQL answers on 127.0.0.1:5432")
def test_failures_another_station_wrote_to_a_central_postgresql_count(tmp_path):
    with pg_schema() as url, ResultsStore(url) as central, ResultsStore(tmp_path / "local.db") as local:
        _seed(central, "SN-4", Outcome.FAIL, station="line-9")
        _seed(local, "SN-4", Outcome.ERROR, station="here")
        rework = _policy(2, local, central=url).check("SN-4")
        assert rework is not None and "failed 2 times" in rework.message()


# -- two stations, real runs -----------------------------------------------------------------
def test_a_serial_failing_on_two_stations_is_refused_on_the_third_try(tmp_path):
    plan = load_plan(_plan(tmp_path))
    stations = {name: load_fixture(_fixture(tmp_path, name)) for name in ("line-1", "line-2")}
    with ResultsStore(tmp_path / "line-1.db") as one, ResultsStore(tmp_path / "line-2.db") as two:
        # line-1's store stands for the central store line-2 counts in (the other station wrote into it)
        for name, store, central in (("line-1", one, None), ("line-2", two, one.url)):
            policy = _policy(2, store, central=central)
            result = run_fixture(stations[name], plan, out=tmp_path / name, serials=["SN-1"], results=store,
                                 retest=policy)
            assert [r.outcome for r in result.records] == [Outcome.FAIL]
        second = result.records[0]
        assert second.retest is not None and second.retest.failed_before == 1 and not second.retest.overridden
        rework = _policy(2, two, central=one.url).check("SN-1")
        assert rework is not None
        at = rework.last.at.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert rework.message() == f"send to rework: SN-1 failed 2 times (last: current: current_a on line-2 " \
                                   f"socket A at {at})"
        assert _policy(2, two).check("SN-1") is None  # line-2 alone has seen one failure
        # a unit that reaches the station over the limit anyway is not tested (the console says why)
        said: list[str] = []
        checked = RetestChecked(_Handing(["SN-1", "SN-2"]), _policy(2, two, central=one.url), say=said.append)
        start = checked.next_unit("A")
        assert start is not None and start.serial == "SN-2" and start.retest is None
        assert said == [f"socket A: {rework.message()}; not tested"]


class _Handing:
    """A source handing out serials, as a robot handler would."""

    def __init__(self, serials: list[str]) -> None:
        self.serials = serials

    def next_unit(self, socket: str) -> UnitStart | None:
        return UnitStart(socket=socket, index=1, serial=self.serials.pop(0)) if self.serials else None


# -- --sn and --override-retest on the command line ------------------------------------------
def test_sn_over_the_limit_exits_2_and_override_retest_records_who_and_why(tmp_path, capsys):
    plan, fixture, state = _plan(tmp_path), _fixture(tmp_path, "line-1"), tmp_path / "state"

    def run(*extra: str) -> tuple[int, str]:
        code = cli.main(["run", "--fixture", str(fixture), "--plan", str(plan), "--sn", "SN-1", "--out",
                         str(tmp_path / "out"), "--state-dir", str(state), *extra])
        return code, capsys.readouterr().err.strip()

    assert run() == (0, "") and run() == (0, "")  # failed twice
    code, err = run()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("linegate: error: --sn SN-1: send to rework: SN-1 failed 2 times (last: current: "
                          "current_a on line-1 socket A at ")
    assert err.endswith("--override-retest SN-1 --override-reason TEXT tests it anyway")
    assert run("--override-retest", "SN-1")[0] == 2  # no reason: refused
    code, err = run("--override-retest", "SN-1", "--override-reason", "connector reseated")
    assert code == 0, err
    with ResultsStore(state / "results.db") as store, store.engine.connect() as conn:
        rows = conn.execute(select(units.c.retest_override, units.c.record_path, units.c.report_path)
                            .order_by(units.c.started_at)).all()
    assert [r.retest_override for r in rows] == [None, None, "demo: connector reseated"]
    record = json.loads(Path(rows[-1].record_path).read_text())
    assert record["retest"]["failed_before"] == 2 and record["retest"]["max_attempts"] == 2
    assert (record["retest"]["override_by"], record["retest"]["override_reason"]) == ("demo", "connector reseated")
    html = Path(rows[-1].report_path).read_text()
    assert "tested past the limit by demo</b>: connector reseated" in html


# -- the terminal ------------------------------------------------------------------------------
def test_at_the_terminal_a_unit_for_rework_is_asked_again_or_overridden_with_a_reason(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        _seed(store, "SN-9", Outcome.FAIL, Outcome.FAIL)
        said: list[str] = []
        answers = ["SN-9", "", "SN-9", "the probe was dirty"]
        asked: list[str] = []

        def ask(prompt: str) -> str:
            asked.append(prompt)
            return answers.pop(0)

        policy = _policy(2, store)
        source = RetestChecked(OperatorUnits(1, None, ask=ask, say=said.append, retest=policy, operator="Mei"),
                               policy)
        start = source.next_unit("A")
    assert start is not None and start.serial == "SN-9"
    assert start.retest is not None and start.retest.failed_before == 2
    assert (start.retest.override_by, start.retest.override_reason) == ("Mei", "the probe was dirty")
    assert said[0].startswith("socket A: refused: send to rework: SN-9 failed 2 times") and len(said) == 2
    assert sum("override the retest limit?" in a for a in asked) == 2


# -- the panel -----------------------------------------------------------------------------------
def test_the_panel_refuses_a_unit_for_rework_and_an_override_starts_it_recording_who_and_why(tmp_path, capsys):
    plan = load_plan(_plan(tmp_path))
    config = load_fixture(_fixture(tmp_path, "line-1"))
    two = config.model_copy(update={"sockets": cli.sockets_like(config.sockets[0], 2), "operator": ""})
    args = argparse.Namespace(ui="127.0.0.1:0", ui_token=None, lang="en")
    done: dict = {}
    with ExitStack() as stack, httpx.Client() as client:
        store = stack.enter_context(ResultsStore(tmp_path / "results.db"))
        _seed(store, "SN-9", Outcome.FAIL, Outcome.ERROR, station="line-2")
        policy = _policy(2, store)
        panel = Panel(args, two, plan, stack, None, 2, scans=True, retest=policy)
        line = stack.enter_context(SimulatedLine(two, base=tmp_path / "ptys"))
        real = line.config.model_copy(update={"simulated": None})  # modules on ptys, as a real jig's ports
        run = threading.Thread(target=lambda: done.setdefault("result", run_fixture(
            real, plan, out=tmp_path / "out", events=panel.hub, controls=panel.controls, units_source=panel.units,
            results=store, retest=policy)))
        run.start()
        url = panel.url
        wait_state(client, url, lambda s: all(t["state"] == "waiting" for t in s["sockets"]))
        wait_state(client, url, lambda s: len(panel.units.waiting()) == 2)
        refused = client.post(url + "api/sockets/A/serial", json={"serial": "SN-9"})
        assert refused.status_code == 409
        reason = refused.json()["reason"]
        assert reason.startswith("send to rework: SN-9 failed 2 times (last: current: current_a too high on "
                                 "line-2 socket A at 2026-11-20")
        tile = _tile(client.get(url + "api/state").json(), "A")
        assert tile["scan"]["override"] is True and tile["scan"]["reason"] == reason
        override = url + "api/sockets/A/override"
        nameless = client.post(override, json={"serial": "SN-9", "reason": "probe cleaned"})
        assert (nameless.status_code, nameless.json()["reason"]) == (409, text("en", "refused.override_name"))
        assert client.post(override, json={"serial": "SN-9", "reason": " "}).status_code == 422
        assert client.post(url + "api/operator", json={"name": "Li Wei"}).json()["accepted"] is True
        wrong = client.post(url + "api/sockets/B/override", json={"serial": "SN-9", "reason": "probe cleaned"})
        assert wrong.status_code == 409  # not refused in socket B
        accepted = client.post(override, json={"serial": "SN-9", "reason": "probe cleaned"}).json()
        assert accepted == {"accepted": True, "reason": "tested past the retest limit, overridden by Li Wei"}
        assert client.post(url + "api/sockets/B/serial", json={"serial": "SN-2"}).json()["accepted"] is True
        wait_state(client, url, lambda s: all(t["unit"] and t["unit"]["verdict"] for t in s["sockets"]))
        run.join(30)
    console = capsys.readouterr().out
    assert "socket A: refused: send to rework: SN-9 failed 2 times" in console
    assert "socket A: SN-9 tested past the retest limit: Li Wei says 'probe cleaned'" in console
    by_serial = {r.unit["serial"]: r for r in done["result"].records}
    overridden = by_serial["SN-9"].retest
    assert overridden is not None and overridden.failed_before == 2
    assert (overridden.override_by, overridden.override_reason) == ("Li Wei", "probe cleaned")
    assert by_serial["SN-2"].retest is None
    with ResultsStore(tmp_path / "results.db") as again, again.engine.connect() as conn:
        row = conn.execute(select(units.c.retest_override).where(units.c.record_id == by_serial["SN-9"].record_id))
        assert row.scalar_one() == "Li Wei: probe cleaned"


def test_the_rework_refusal_and_the_override_words_are_in_both_catalogues():
    fields = {"serial": "SN-9", "count": 2, "failure": "current", "station": "line-2", "socket": "A",
              "at": "2026-11-20 08:01:00 UTC"}
    zh = text("zh", "refused.rework", **fields)
    assert "SN-9" in zh and "送返修" in zh and "{" not in zh
    assert text("en", "refused.rework", **fields).startswith("send to rework: SN-9 failed 2 times")
    for key in ("override.submit", "override.placeholder", "refused.override_name", "scan.overridden"):
        assert text("zh", key) != text("en", key)


def _tile(state: dict, name: str) -> dict:
    return next(t for t in state["sockets"] if t["name"] == name)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_in_the_browser_a_scan_refused_for_rework_offers_the_override_and_the_override_starts_it():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
    hub = PanelHub("line-1", "retest", "1", "ab" * 32, ["A"], operator="Mei", lang="en")
    overrides: list[tuple[str, ...]] = []
    hub.on_serial = lambda socket, serial: (False, "send to rework: SN-9 failed 2 times")
    hub.overridable = lambda socket, serial: serial == "SN-9"

    def override(*given: str) -> tuple[bool, str]:
        overrides.append(given)
        return True, ""

    hub.on_override = override
    with serve(hub) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(server.url)
            a = page.locator('[data-socket="A"]')
            form = a.locator('[data-role="override-form"]')
            sync_api.expect(form).to_be_hidden()
            a.locator('[data-role="serial"]').fill("SN-9")
            a.locator('[data-role="serial"]').press("Enter")
            sync_api.expect(a.locator('[data-role="scan-msg"]')).to_have_text(
                "Refused: send to rework: SN-9 failed 2 times")
            sync_api.expect(form).to_be_visible()
            form.locator('[data-role="override-reason"]').fill("probe cleaned")
            form.locator("button").click()
            sync_api.expect(a.locator('[data-role="scan-msg"]')).to_have_text(
                "Accepted: SN-9 · tested past the retest limit, overridden by Mei")
            sync_api.expect(form).to_be_hidden()
        finally:
            browser.close()
    assert overrides == [("A", "SN-9", "Mei", "probe cleaned")]


def test_a_central_store_no_station_has_sent_to_yet_answers_with_no_failures(tmp_path):
    """An empty central database answers: its lack of tables is not the store being away."""
    import sqlite3

    sqlite3.connect(tmp_path / "central.db").close()
    told: list[str] = []
    with ResultsStore(tmp_path / "local.db") as local:
        attempts = StoreAttempts(local, central=str(tmp_path / "central.db"), say=told.append)
        found = attempts.failures("SN-1")
        attempts.close()
    assert (found.failed, found.note, told) == ((), "", [])


@pytest.mark.parametrize(("reason", "said"), [
    ("x" * 100_000, "--override-reason: the reason is 100000 characters (at most 200)"),
    ("ok\x1b[31m\x07", "--override-reason: the reason holds control characters"),
    ("   ", "--override-reason: the reason is empty")])
def test_one_rule_for_a_reason_at_the_command_line_as_at_the_panel(tmp_path, capsys, reason, said):
    plan, fixture = _plan(tmp_path), _fixture(tmp_path, "line-1")
    code = cli.main(["run", "--fixture", str(fixture), "--plan", str(plan), "--sn", "SN-1", "--out",
                     str(tmp_path / "out"), "--state-dir", str(tmp_path / "state"), "--override-retest", "SN-1",
                     "--override-reason", reason])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [f"linegate: error: {said}"] if "empty" not in said else code == 2


def test_csv_cells_a_spreadsheet_would_run_are_quoted_and_numbers_stay():
    from linegate.station.results_cli import csv_cell

    assert [csv_cell(v) for v in ("=HYPERLINK(1)", "+1", "-x", "@SUM", "\tx", "plain", -0.5, 3, None)] == \
        ["'=HYPERLINK(1)", "'+1", "'-x", "'@SUM", "'\\tx", "plain", -0.5, 3, ""]
    # a control character reaches no terminal: written as its escape (an operator "op<ESC>[31mX<BEL>" did)
    assert csv_cell("op\x1b[31mX\x07") == "op\\x1b[31mX\\x07"


@pytest.mark.parametrize("field", ["operator", "station"])
def test_a_fixture_naming_its_operator_or_station_with_control_characters_is_refused(field):
    from linegate.fixtures.config import FixtureConfig
    from pydantic import ValidationError

    doc = {"station": "line-1", "sockets": [{"name": "A", "dut": {"port": "/dev/null"}}], field: "op\x1b[31mX\x07"}
    with pytest.raises(ValidationError, match=f"the {field} holds control characters"):
        FixtureConfig.model_validate(doc)
