"""Provenance of the code: every record names the station tests it ran by SHA-256, and linegate's version."""

from __future__ import annotations

import shutil
from pathlib import Path

from linegate.fixtures.config import load_fixture
from linegate.plans import load_plan
from linegate.station.compose import run_fixture

from linegate import __version__

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sim-station.yaml"


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "station_tests", tmp_path / "station_tests")
    plan = tmp_path / "plans" / "esp-at-module.yaml"
    plan.parent.mkdir()
    shutil.copy(REPO / "plans" / "esp-at-module.yaml", plan)
    return plan


def test_editing_a_station_test_changes_the_provenance_the_plan_file_does_not(tmp_path):
    plan_path = _copy(tmp_path)
    before = load_plan(plan_path)
    test_file = tmp_path / "station_tests" / "test_esp_at_module.py"
    test_file.write_text(test_file.read_text().replace("CURRENT_SAMPLES = 8", "CURRENT_SAMPLES = 4"))
    after = load_plan(plan_path)
    assert before.sha256 == after.sha256, "the plan file did not change"
    assert len(before.tests_sha256) == 64 and before.tests_sha256 != after.tests_sha256
    helper = tmp_path / "station_tests" / "conftest.py"
    helper.write_text("# a conftest changes what the steps do\n")
    assert load_plan(plan_path).tests_sha256 != after.tests_sha256


def test_the_record_and_its_reports_carry_it(tmp_path):
    plan = load_plan(REPO / "plans" / "esp-at-module.yaml")
    result = run_fixture(load_fixture(FIXTURE), plan, out=tmp_path, units=1)
    record = result.records[0]
    assert record.plan.tests_sha256 == plan.tests_sha256 and record.station.linegate_version == __version__
    assert result.run_dir is not None
    html = (result.run_dir / f"{record.stem}.html").read_text()
    assert plan.tests_sha256 in html and f"linegate {__version__}" in html
    assert plan.tests_sha256 in (result.run_dir / "junit.xml").read_text()
