"""Lot summary and JUnit export, from synthetic records and from a real demo run."""

from __future__ import annotations

import statistics
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest
from linegate.reports.junit import junit_xml
from linegate.reports.lot import LotRenderer, MeasurementStats, summarize
from synthetic import make_record


def lot_records():
    records = [make_record(i) for i in range(1, 9)]  # 8 passing units
    records.append(make_record(9, fail=True))  # fails, retested below and passes
    records.append(make_record(109, mac=records[-1].unit["mac"], minutes=200))
    records.append(make_record(10, fail=True))  # fails for good
    records.append(make_record(11, error=True))
    return records


def test_yield_first_pass_yield_retests_and_errors():
    lot = summarize(lot_records())
    assert (lot.tests, lot.units, lot.retests) == (12, 11, 1)
    assert lot.passed_units == 9 and lot.first_pass_units == 8
    assert lot.yield_pct == pytest.approx(900 / 11) and lot.fpy_pct == pytest.approx(800 / 11)
    assert lot.outcomes["ERROR"] == 1
    assert lot.pareto[0][:2] == ("step_1: current_1_0", 2) and lot.pareto[-1][2] == pytest.approx(100.0)
    assert lot.provisioning["committed"] == 9


def test_cpk_mean_and_sigma():
    s = MeasurementStats("s", "m", "A", 0.06, 0.10, values=[0.079, 0.081, 0.080, 0.082, 0.078])
    mean, sigma = statistics.fmean(s.values), statistics.stdev(s.values)
    assert s.mean == pytest.approx(mean) and s.sigma == pytest.approx(sigma)
    assert s.cpk == pytest.approx(min(0.10 - mean, mean - 0.06) / (3 * sigma))
    assert MeasurementStats("s", "m", "", None, None, values=[1.0, 2.0]).cpk is None
    assert MeasurementStats("s", "m", "", 0.0, 1.0, values=[0.5]).cpk is None  # no spread from one value


def test_lot_page_has_kpis_pareto_histograms_and_every_unit():
    html = LotRenderer().render(summarize(lot_records()))
    assert 'id="kpi-yield"' in html and "81.8%" in html and "72.7%" in html
    assert 'id="pareto"' in html and "step_1: current_1_0" in html
    assert html.count('class="lg-hist"') == 20 and 'class="lg-limit"' in html
    assert html.count("<tr><td>") >= 12 and "LG00000109_" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_junit_counts_and_messages():
    root = ET.fromstring(junit_xml(lot_records(), name="run-x"))
    assert root.tag == "testsuites" and root.get("failures") == "2" and root.get("errors") == "1"
    suite = root.find("testsuite[@name='p.LG00000010']")
    failure = suite.find("testcase[@name='step_1']/failure")
    assert failure is not None and failure.get("message") == "above high"
    assert suite.find("properties/property[@name='outcome']").get("value") == "FAIL"


def test_report_lot_command_on_a_demo_run(tmp_path):
    out = tmp_path / "out"
    demo = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "5", "--out", str(out),
                           "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    run_dir = next(out.glob("run-*"))
    assert (run_dir / "lot.html").exists() and (run_dir / "junit.xml").exists()  # written at the end of the run
    target = tmp_path / "lot.html"
    done = subprocess.run([sys.executable, "-m", "linegate", "report", "lot", str(run_dir), "--out", str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and target.read_text().count(".html\">") == 5
    bad = subprocess.run([sys.executable, "-m", "linegate", "report", "lot", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a run folder" in bad.stderr and "Traceback" not in bad.stderr
