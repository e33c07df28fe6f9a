"""Bad plan and fixture files through ``linegate run``: exit 2, one stderr line naming file and field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from linegate.station.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"
PLAN = REPO / "plans" / "esp-at-module.yaml"


def plan_with(tmp_path: Path, old: str, new: str, encoding: str = "utf-8") -> Path:
    text = PLAN.read_text()
    assert old in text
    path = tmp_path / "plan.yaml"
    path.write_bytes(text.replace(old, new, 1).encode(encoding))
    return path


def fixture_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "fixture.yaml"
    path.write_text(FIXTURE.read_text() + extra)
    return path


def cycle(tmp_path: Path) -> Path:
    for name, base in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.yaml").write_text(f'name: {name}\nversion: "1"\nsteps_from: {base}.yaml\n')
    return tmp_path / "a.yaml"


def oversized(tmp_path: Path) -> Path:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.seek(38 * 1024 * 1024)
        f.write(b"\n")
    return path


CASES = {
    "nan limit": (lambda t: (FIXTURE, plan_with(t, "low: 0.060", "low: .nan")),
                  "steps[4](supply_current).measurements[0](supply_current).low: nan is not a finite number"),
    "duplicate key": (lambda t: (FIXTURE, plan_with(t, "version:", "name: again\nversion:")),
                      "line 5: duplicate key 'name' (first given on line 4)"),
    "steps_from cycle": (lambda t: (FIXTURE, cycle(t)), "steps_from: plans take their steps from each other"),
    "oversized plan": (lambda t: (FIXTURE, oversized(t)), "plan is 38.0 MiB, over the 1.0 MiB limit"),
    "not utf-8": (lambda t: (FIXTURE, plan_with(t, "version:", "# caf\u00e9\nversion:", "latin-1")),
                  "line 5: not UTF-8 text (byte 0xe9)"),
    "unknown fault": (lambda t: (fixture_with(t, "  faults: [smoke]\n"), PLAN),
                      "simulated.faults: unknown fault 'smoke'; known: bad-mac, baud-garble"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_files_exit_2_with_one_line_naming_file_and_field(tmp_path, capsys, case):
    make, expected = CASES[case]
    fixture, plan = make(tmp_path)
    named = fixture if fixture != FIXTURE else plan
    rc = main(["run", "--fixture", str(fixture), "--plan", str(plan), "--units", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"linegate: error: {named}: ") and expected in lines[0], lines[0]
    assert not (tmp_path / "o").exists()


def test_a_steps_from_cycle_in_a_real_process_is_one_line_not_a_recursion_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "linegate", "run", "--fixture", str(FIXTURE), "--plan", str(cycle(tmp_path)),
         "--out", "o"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    chain = " -> ".join(str(tmp_path / f"{n}.yaml") for n in ("a", "b", "a"))
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert done.stderr == (f"linegate: error: {tmp_path / 'a.yaml'}: steps_from: plans take their steps "
                           f"from each other in a cycle: {chain}\n")


HUGE = "100000000000000000000"  # past SQLite's INTEGER (2**63 - 1)
NUMBER_CASES = [  # every numeric option of every command: out of its range, one line naming it and the range
    (["results", "units", "--limit", HUGE], "argument --limit: must be 1 to 1000000000, not " + HUGE),
    (["results", "units", "--limit", "-1"], "argument --limit: must be 1 to 1000000000, not -1"),
    (["demo", "--units", HUGE], "argument --units: must be 1 to 1000000000"),
    (["demo", "--units", "0"], "argument --units: must be 1 to 1000000000, not 0"),
    (["demo", "--sockets", "17"], "argument --sockets: must be 1 to 16, not 17"),
    (["demo", "--seed", HUGE], "argument --seed: must be 0 to 2147483647"),
    (["demo", "--seed", "x"], "argument --seed: 'x' is not a whole number (0 to 2147483647)"),
    (["run", "--fixture", "f.yaml", "--plan", "p.yaml", "--units", HUGE], "argument --units: must be 1 to"),
    (["sim", "dut", "--seed", "-1"], "argument --seed: must be 0 to 2147483647, not -1"),
    (["sim", "cloud", "--port", "100000"], "argument --port: must be 0 to 65535, not 100000"),
    (["sim", "cloud", "--mqtt-port", "-1"], "argument --mqtt-port: must be 0 to 65535, not -1"),
    (["sim", "cloud", "--latency-ms", "nan"], "argument --latency-ms: must be 0 to 60000, not nan"),
    (["sim", "cloud", "--latency-ms", "1e300"], "argument --latency-ms: must be 0 to 60000, not 1e300"),
    (["sim", "cloud", "--latency-ms", "-5"], "argument --latency-ms: must be 0 to 60000, not -5"),
    (["sim", "cloud", "--fault-rate", "inf"], "argument --fault-rate: must be 0 to 1, not inf"),
    (["sim", "cloud", "--drop-rate", "-0.1"], "argument --drop-rate: must be 0 to 1, not -0.1"),
    (["sim", "cloud", "--token-expiry-after", "0"], "argument --token-expiry-after: must be 1 to 1000000000"),
    (["sim", "cloud", "--token-expiry-after", HUGE], "argument --token-expiry-after: must be 1 to 1000000000"),
]


@pytest.mark.parametrize(("argv", "said"), NUMBER_CASES, ids=[" ".join(a)[:60] for a, _ in NUMBER_CASES])
def test_a_number_out_of_its_range_is_bad_input_in_one_line(tmp_path, capsys, monkeypatch, argv, said):
    monkeypatch.chdir(tmp_path)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"linegate: error: {said}"), err
    assert list(tmp_path.iterdir()) == [], "refused before anything opens"


def test_a_limit_past_sqlite_integers_is_exit_2_not_a_station_fault(tmp_path):
    """The case of issue 19: on a real store, in a real process: one line, no fault log anywhere."""
    from linegate.station.results.store import ResultsStore
    from synthetic import make_record

    with ResultsStore(tmp_path / "results.db") as store:
        store.write(make_record(1), run_dir=tmp_path)
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    done = subprocess.run([sys.executable, "-m", "linegate", "results", "units", "--state-dir", str(tmp_path),
                           "--limit", HUGE], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TMPDIR": str(own_tmp)})
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr == (f"linegate: error: argument --limit: must be 1 to 1000000000, not {HUGE} "
                           "(see 'linegate results units --help')\n")
    assert not list(tmp_path.rglob("*fault*"))


def test_the_query_api_refuses_a_limit_sqlite_cannot_count():
    from linegate.station.results.query import QueryError, UnitFilter

    with pytest.raises(QueryError, match="limit 100000000000000000000: must be 1 to 1000000000"):
        UnitFilter(limit=int(HUGE))


def _folder_cases(t: Path) -> dict[str, list[str]]:
    """Every option naming a file or a database to write, its folder missing (``t/nowhere``)."""
    nowhere = t / "nowhere"
    ayla = str(REPO / "plans" / "esp-at-ayla.yaml")
    return {
        "demo --results path": ["demo", "--units", "1", "--out", "o", "--results", str(nowhere / "c.db")],
        "demo --results url": ["demo", "--units", "1", "--out", "o", "--results", f"sqlite:///{nowhere}/c.db"],
        "run fixture results": ["run", "--fixture", str(fixture_with(t, f"results: {nowhere}/c.db\n")), "--plan",
                                str(PLAN), "--units", "1", "--out", "o"],
        "run --ledger": ["run", "--fixture", str(FIXTURE), "--plan", ayla, "--units", "1", "--out", "o",
                         "--cloud", "http://127.0.0.1:9", "--ledger", str(nowhere / "l.db")],
        "results sync --results": ["results", "sync", "--state-dir", str(t / "st"), "--results",
                                   str(nowhere / "c.db")],
        "db upgrade --results url": ["db", "upgrade", "--results", f"sqlite:///{nowhere}/r.db"],
        "db upgrade --ledger url": ["db", "upgrade", "--ledger", f"sqlite:///{nowhere}/l.db"],
        "ledger status --ledger url": ["ledger", "status", "--ledger", f"sqlite:///{nowhere}/l.db"],
        "report lot --out": ["report", "lot", str(t / "run"), "--out", str(nowhere / "lot.html")],
        "report lot --results --out": ["report", "lot", "--results", str(t / "st" / "results.db"), "--out",
                                       str(nowhere / "lot.html")],
        "report junit --out": ["report", "junit", str(t / "run"), "--out", str(nowhere / "junit.xml")],
        "sim cloud --state": ["sim", "cloud", "--port", "0", "--no-mqtt", "--state", str(nowhere / "c.sqlite")],
        "sim dut --state": ["sim", "dut", "--state", str(nowhere / "dut.json")],
    }


FOLDER_CASES = ["demo --results path", "demo --results url", "run fixture results", "run --ledger",
                "results sync --results", "db upgrade --results url", "db upgrade --ledger url",
                "ledger status --ledger url", "report lot --out", "report lot --results --out", "report junit --out",
                "sim cloud --state", "sim dut --state"]


@pytest.mark.parametrize("name", FOLDER_CASES)
def test_a_file_to_write_whose_folder_is_missing_is_refused_and_not_made(tmp_path, name):
    """``demo --results /nonexistent-dir/x.db`` made /nonexistent-dir: a named file's folder must exist."""
    from linegate.station.results.store import ResultsStore
    from synthetic import make_record

    (tmp_path / "run").mkdir()
    with ResultsStore(tmp_path / "st" / "results.db") as store:
        store.write(make_record(1), run_dir=tmp_path / "run", record_path=tmp_path / "run" / "u.json")
    (tmp_path / "run" / "u.json").write_text(make_record(1).model_dump_json())
    done = subprocess.run([sys.executable, "-m", "linegate", *_folder_cases(tmp_path)[name]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{tmp_path / 'nowhere'}" in lines[0] and "does not exist" in lines[0], lines[0]
    assert not (tmp_path / "nowhere").exists()
    assert not list(tmp_path.rglob("*fault*"))


@pytest.mark.parametrize("state", ["a-file", "/proc/linegate-state"])
def test_a_state_dir_that_cannot_be_a_folder_is_refused(tmp_path, state):
    """The station's own folder may be made (as --out); a file in its place, or one that cannot be written, not."""
    (tmp_path / "a-file").write_text("")
    done = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "1", "--out", "o", "--state-dir",
                           state], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"linegate: error: --state-dir {state}: "), lines[0]
    assert not (tmp_path / "o").exists()


def test_a_state_dir_not_there_yet_is_made_with_its_folders(tmp_path):
    done = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "1", "--service", "none", "--out",
                           "o", "--state-dir", "new/station"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new" / "station" / "results.db").is_file()


def test_a_fault_of_report_never_makes_a_folder_named_as_its_out_file(tmp_path, monkeypatch, capsys):
    """The traceback of 'report lot --out FILE' went to FILE/station-fault.log, making a folder FILE."""
    import linegate.reports.lot as lot
    from synthetic import make_record

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "u.json").write_text(make_record(1).model_dump_json())
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(lot, "write_summary", broken)
    out = tmp_path / "lot.html"
    assert main(["report", "lot", str(tmp_path / "run"), "--out", str(out)]) == 1
    assert not out.exists() and "a bug" in capsys.readouterr().err
    assert list((tmp_path / "tmp").glob("*station-fault.log"))
