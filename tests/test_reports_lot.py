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
    same = MeasurementStats("s", "supply_voltage", "V", 3.2, 3.35, values=[3.3] * 7 + [3.3000000000000003] * 3)
    assert 0 < same.sigma < 1e-15 and same.cpk is None  # rounding noise is no spread (it was a Cpk of 3.6e13)


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


def supply_voltage_lot():
    """Ten units at 3.300 V +- 0.5 mV against 3.135..3.465 V; one outlier that fails at 3.41 V."""
    from linegate.plans import MeasurementRecord, Outcome, Status, StepOutcome, StepRecord
    from linegate.plans.verdict import first_failure

    records = []
    for i in range(1, 12):
        value = 3.41 if i == 11 else 3.2995 + i * 0.0001
        status = Status.FAIL if i == 11 else Status.PASS
        m = MeasurementRecord(name="supply_voltage", value=value, units="V", low=3.135, high=3.465 if i < 11 else 3.4,
                              limit="3.135..3.465 V", status=status, reason="above high" if i == 11 else "")
        base = make_record(i, measurements=0)
        step = StepRecord(name="power", test="t.py::test_power", outcome=StepOutcome.FAIL if i == 11 else
                          StepOutcome.PASS, started_at=base.started_at, duration_s=0.1, measurements=(m,))
        records.append(base.model_copy(update={"steps": (step,), "failure": first_failure([step]),
                                               "outcome": Outcome.FAIL if i == 11 else Outcome.PASS}))
    return records


def test_histogram_axis_labels_show_the_axis_ends():
    from linegate.reports.histogram import axis_labels

    lot = summarize(supply_voltage_lot())
    (s,) = lot.measurements
    assert (s.low, s.high) == (3.135, 3.465)  # the limits most units were tested against
    lo, hi = axis_labels(s.axis.lo, s.axis.hi)
    assert lo != hi and float(lo) == pytest.approx(s.axis.lo, abs=1e-3) and float(hi) == pytest.approx(s.axis.hi,
                                                                                                          abs=1e-3)
    assert s.axis.lo < 3.135 and s.axis.hi > 3.465  # the axis spans the limits, with room
    html = LotRenderer().render(lot)
    assert f'class="lg-axis-lo" x="18" y="117" font-size="10">{lo}<' in html and f">{hi} V</text>" in html
    assert ">3.3</text>" not in html and "3.3 V</text>" not in html
    assert axis_labels(3.2995, 3.3004) == ("3.2995", "3.3004")  # a narrow axis gets the digits it needs
    assert sum(s.counts) == 10  # the outlier was tested against other limits: left out of the bins, and said so
    assert "histogram: the 10 of 11 values tested against these limits" in html


def test_cpk_over_all_units_and_over_passing_units():
    lot = summarize(supply_voltage_lot())
    (s,) = lot.measurements
    assert s.passing.n == 10 and s.n == 11 and s.failed == 1
    assert s.cpk_passing is not None and s.cpk is not None and s.cpk_passing > 10 * s.cpk  # the outlier widens sigma
    passing = [3.2995 + i * 0.0001 for i in range(1, 11)]
    assert s.passing.mean == pytest.approx(statistics.fmean(passing))
    assert s.passing.sigma == pytest.approx(statistics.stdev(passing))
    html = LotRenderer().render(lot)
    assert "Cpk (all units)" in html and "Cpk (passing units)" in html
    assert f'cpk-passing ">{s.cpk_passing:.3g}<' in html and f"{s.cpk:.3g}</td>" in html


def test_pareto_one_bar_per_cause_from_the_station_s_real_messages():
    from linegate.drivers.dut.errors import DutPortError, DutTimeout
    from linegate.plans import Failure
    from linegate.reports.pareto import failure_key

    def key(step: str, message: str, measurement: str | None = None) -> str:
        return failure_key(Failure(step=step, measurement=measurement, message=message))

    ports = {key("boot", str(DutPortError(port, None, f"cannot open serial port: [Errno 2] could not open port "
                                                       f"{port}: [Errno 2] No such file or directory: '{port}'")))
             for port in ("/dev/pts/3", "/dev/pts/17", "/tmp/pytest-of-ci/pytest-8/test_a0/dut.sock")}
    assert ports == {"boot: <path>: cannot open serial port: [Errno <n>] could not open port <path>: [Errno <n>] "
                     "No such file or directory: <text>"}
    timeouts = {key("rf", str(DutTimeout(url, "AT+GMR", "no answer in time", received=got)))
                for url, got in (("socket://127.0.0.1:40211", "AT+G"), ("socket://127.0.0.1:39977", "busy p..."))}
    assert timeouts == {"rf: <url>: AT+GMR: no answer in time (received <text>)"}
    killed = {key("flash", f"step flash exceeded {s:g} s (its worker was stopped 5 s later)") for s in (30, 45.5)}
    assert killed == {"flash: step flash exceeded <n> s (its worker was stopped <n> s later)"}
    values = {key("power", f"supply_voltage = {v!r} V (limit 3.135..3.465 V): above high", "supply_voltage")
              for v in (3.41, 3.52)}
    assert values == {"power: supply_voltage"}
    assert key("power", "supply_voltage = 3.41 V (limit 3.135..3.465 V): above high") == \
        "power: supply_voltage = <n> V (limit <n>..<n> V): above high"
    assert key("pair", "MAC 24:0a:c4:00:00:01 not in the pool; chip 240AC4000001") == \
        "pair: MAC <mac> not in the pool; chip <hex>"
    assert key("step_3", "step_3 failed 2 times") == "step_3: step_3 failed <n> times"  # step names stay


def test_the_lot_pareto_groups_port_errors_into_one_bar():
    from linegate.plans import Failure

    records = [make_record(i, error=True) for i in range(1, 5)]
    records = [r.model_copy(update={"failure": Failure(step="step_2", message=f"/dev/pts/{i}: AT: no answer in time")})
               for i, r in enumerate(records)]
    lot = summarize(records)
    assert lot.pareto == [("step_2: <path>: AT: no answer in time", 4, 100.0)]


def test_first_pass_and_final_yield_per_unit_across_stations():
    from linegate.plans import StationRef

    def on(record, station):
        return record.model_copy(update={"station": StationRef(name=station, fixture="f", socket="A",
                                                               linegate_version="0.1.0")})

    first = [on(make_record(i, fail=i in (2, 3)), "st1") for i in range(1, 5)]
    retests = [on(make_record(100 + i, mac=first[i - 1].unit["mac"], minutes=60 + i, fail=i == 3), "st2")
               for i in (2, 3)]
    lot = summarize(first + retests)
    assert (lot.tests, lot.units, lot.retests) == (6, 4, 2)
    assert (lot.first_pass_units, lot.passed_units) == (2, 3)  # unit 2 passes on st2; unit 3 fails on both
    assert [s.socket for s in lot.sockets.sockets] == ["st1 A", "st2 A"]


def test_record_files_load_to_the_same_lot_and_a_bad_file_is_named(tmp_path):
    from linegate.reports.lot import load_tests, summarize_tests

    records = lot_records()
    for r in records:
        (tmp_path / f"{r.stem}.json").write_text(r.model_dump_json())
    from_files, from_records = summarize_tests(load_tests(tmp_path)), summarize(records)
    assert (from_files.tests, from_files.pareto, from_files.outcomes) == \
        (from_records.tests, from_records.pareto, from_records.outcomes)
    assert [(s.mean, s.sigma, s.counts) for s in from_files.measurements] == \
        [(s.mean, s.sigma, s.counts) for s in from_records.measurements]
    (tmp_path / "broken.json").write_text('{"record_id": "x"}')
    with pytest.raises(ValueError, match=r"broken\.json: not a unit record \(KeyError"):
        load_tests(tmp_path)
