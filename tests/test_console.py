"""The console as a view of the event stream: live rows per socket on a terminal, plain lines elsewhere, 80 columns."""

from __future__ import annotations

import io
from pathlib import Path

from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import run_fixture
from linegate.station.console import LiveConsole
from linegate.station.events import StepStarted, UnitStarted, Verdict
from rich.console import Console

REPO = Path(__file__).resolve().parent.parent
LONG = "supply_current: supply_current = 0.24093 A (limit 0.06 <= x <= 0.1): above the high limit 0.1 A by far"


def _console(width: int = 80, terminal: bool = False) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=terminal, color_system=None, highlight=False), out


def test_plain_lines_fit_80_columns_and_keep_the_verdict_and_the_start_of_the_failure():
    console, out = _console()
    view = LiveConsole(console, ["A", "B"], total=20)
    with view:
        view(UnitStarted("B", index=7, serial="LG01000007", steps=6))
        view(Verdict("B", index=7, outcome="FAIL", failure=LONG, serial="LG01000007", mac="24:0a:c4:f3:c6:4a"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 80
    assert lines[0].startswith("  [  7/20] B LG01000007   FAIL     supply_current: supply_current = 0.24")
    assert lines[0].endswith("…") and "24:0a:c4" not in lines[0]


def test_one_socket_lines_name_no_socket_and_a_pass_has_no_failure_text():
    console, out = _console(width=120)
    view = LiveConsole(console, ["A"], total=None)
    view(Verdict("A", index=1, outcome="PASS", serial="LG1", mac="24:0a:c4:00:00:01"))
    assert out.getvalue().rstrip() == "  [  1] LG1          24:0a:c4:00:00:01 PASS"


def test_the_live_rows_show_each_socket_its_unit_step_and_verdict():
    console, _ = _console()
    view = LiveConsole(console, ["A", "B"], live=False)
    view(UnitStarted("A", index=3, serial="LG3", steps=6))
    view(StepStarted("A", index=3, step="supply_current", number=5, of=6))
    view(Verdict("B", index=2, outcome="ERROR", failure="psu: refused", serial="LG2"))
    shown = _console(width=80)
    shown[0].print(view)
    text = shown[1].getvalue()
    row_a = next(line for line in text.splitlines() if line.startswith("A"))
    row_b = next(line for line in text.splitlines() if line.startswith("B"))
    assert "3 LG3" in row_a and "5/6 supply_current" in row_a and " s" in row_a
    assert "ERROR" in row_b
    assert all(len(line) <= 80 for line in text.splitlines())


def test_a_station_run_through_the_view_prints_one_line_per_unit(tmp_path):
    console, out = _console()
    plan = load_plan(REPO / "plans" / "esp-at-module.yaml")
    with LiveConsole(console, ["A"], total=4) as view:
        result = run_fixture(load_fixture(REPO / "fixtures" / "sim-station.yaml"), plan, out=tmp_path, units=4,
                          events=view)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    for line, record in zip(lines, result.records, strict=True):
        assert record.outcome.value in line and record.unit["serial"] in line and len(line) <= 80


def test_on_a_terminal_the_live_view_starts_and_stops(tmp_path):
    console, out = _console(terminal=True)
    with LiveConsole(console, ["A"], total=1) as view:
        assert view._live is not None and view._live.is_started
        view(UnitStarted("A", index=1, serial="LG1", steps=1))
        view(Verdict("A", index=1, outcome="PASS", serial="LG1", mac="24:0a:c4:00:00:01"))
    assert not view._live.is_started
    assert "PASS" in out.getvalue()
