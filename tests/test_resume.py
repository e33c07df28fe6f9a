"""A station killed between a unit's record and its journal line: the same command continues the line without
testing that unit again (one record per unit, a FAIL counted once)."""

from __future__ import annotations

import json
import os
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


@pytest.mark.parametrize(("service", "sockets", "nth"), [("yosmart", "1", "3"), ("ayla", "2", "4")])
def test_killed_between_the_record_and_the_journal_the_unit_is_not_tested_again(tmp_path, service, sockets, nth):
    killed = demo(tmp_path, "--service", service, "--sockets", sockets,
                  env={"LINEGATE_CRASH_AT": f"recorded:{nth}", "LINEGATE_CRASH_KILL": "group"})
    assert killed.returncode == -9, killed.stdout + killed.stderr
    before = serials(tmp_path / "o")
    assert sum(before.values()) >= int(nth)
    again = demo(tmp_path, "--service", service, "--sockets", sockets)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "recovery: 1 unit(s) recorded before the stop but not journaled: marked finished" in again.stdout
    after = serials(tmp_path / "o")
    assert len(after) == 6 and set(after.values()) == {1}, after  # every unit once, none twice
