"""A station killed between a unit's record and its journal line: the same command continues the line without
testing that unit again (one record per unit, a FAIL counted once)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest


def demo(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "6", "--state-dir", "s", "--out",
                           "o", *extra], cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})}, start_new_session=True)  # a group of its own to kill


def serials(out: Path) -> Counter[str]:
    found = [json.loads(p.read_text()) for p in out.glob("run-*/*.json") if p.name != "run.json"]
    return Counter(r["unit"]["serial"] for r in found if r["outcome"] != "ABORTED")


@pytest.mark.parametrize(("service", "sockets", "nth"), [("yosmart", "1", "3"), ("ayla", "2", "2")])  # per worker
def test_killed_between_the_record_and_the_journal_the_unit_is_not_tested_again(tmp_path, service, sockets, nth):
    killed = demo(tmp_path, "--service", service, "--sockets", sockets,
                  env={"LINEGATE_CRASH_AT": f"recorded:{nth}", "LINEGATE_CRASH_KILL": "group"})
    assert killed.returncode == -9, killed.stdout + killed.stderr
    before = serials(tmp_path / "o")
    assert sum(before.values()) >= int(nth)
    again = demo(tmp_path, "--service", service, "--sockets", sockets)
    assert again.returncode == 0, again.stdout + again.stderr
    # each worker counts its own records: with 2 sockets both may have reached the kill's unit at once
    assert re.search(rf"recovery: [1-{sockets}] unit\(s\) recorded before the stop but not journaled: marked finished",
                     again.stdout), again.stdout
    after = serials(tmp_path / "o")
    assert len(after) == 6 and set(after.values()) == {1}, after  # every unit once, none twice


def test_a_demo_without_a_state_dir_tests_its_units_again_in_the_same_out_folder(tmp_path):
    """The demo's state is fresh each run: the records an earlier demo left in out/ are not its past."""
    for _ in range(2):
        run = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "3", "--out", "o"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "recovery:" not in run.stdout
    assert sum(serials(tmp_path / "o").values()) == 6


def test_a_station_sharing_an_out_folder_does_not_take_another_stations_units_for_its_own(tmp_path):
    from datetime import UTC, datetime, timedelta

    from linegate.station.engine.resume import journal_recorded
    from linegate.station.ledger.journal import Ledger
    from linegate.station.results.store import ResultsStore
    from synthetic import make_record

    now = datetime.now(UTC)
    folder = tmp_path / "out" / "run-1"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"meta": {"station": "line-1"}}))
    made = make_record(1, fail=True)
    record = made.model_copy(update={"started_at": now, "ended_at": now + timedelta(seconds=2),
                                     "station": made.station.model_copy(update={"name": "line-1"})})
    (folder / "unit-1.json").write_text(record.model_dump_json())
    ledger = Ledger(tmp_path / "ledger.db")
    try:
        with ResultsStore(tmp_path / "results.db") as store:
            ledger.unit_finished("sn:SN-9", "PASS", "r-9", "SN-9")  # this ledger has a past: line-2 ran SN-9
            assert journal_recorded(ledger, store, tmp_path / "out", "line-2") == 0  # line-1's unit: not line-2's
            assert journal_recorded(ledger, store, tmp_path / "out", "line-1") == 1  # ... but line-1's
    finally:
        ledger.close()
