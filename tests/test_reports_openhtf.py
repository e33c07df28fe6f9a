"""The OpenHTF export has the shape OpenHTF's own JSON output writes for an equivalent test."""

from __future__ import annotations

import json

from linegate.reports.openhtf_export import openhtf_json
from synthetic import make_record


def openhtf_reference(tmp_path) -> dict:
    """What OpenHTF writes for a two-phase test with a ranged and a string measurement."""
    import openhtf as htf
    from openhtf.output.callbacks import json_factory
    from openhtf.util import units

    @htf.measures(htf.Measurement("current").in_range(0.06, 0.1).with_units(units.AMPERE))
    def step_a(test):
        test.measurements.current = 0.08

    @htf.measures(htf.Measurement("fw").equals("4.1"))
    def step_b(test):
        test.measurements.fw = "4.0"

    path = tmp_path / "htf.json"
    test = htf.Test(step_a, step_b, test_name="reference")
    test.add_output_callbacks(json_factory.OutputToJSON(str(path), indent=1))
    test.execute(test_start=lambda: "DUT1")
    return json.loads(path.read_text())


def test_same_keys_as_openhtf_and_values_its_enums_accept(tmp_path):
    from openhtf.core import measurements, test_record

    ours = json.loads(openhtf_json(make_record(3, fail=True)))
    ref = openhtf_reference(tmp_path)
    assert set(ours) == set(ref)
    assert set(ours["phases"][0]) == set(ref["phases"][1])
    ref_m = ref["phases"][1]["measurements"]["current"]
    our_m = ours["phases"][1]["measurements"]["current_1_0"]
    assert set(our_m) == set(ref_m) and set(our_m["units"]) == set(ref_m["units"])
    assert our_m["units"] == ref_m["units"]  # ampere, AMP, A
    assert our_m["validators"] == ["0.06 <= x <= 0.1"] == ref_m["validators"]
    assert test_record.Outcome[ours["outcome"]] is test_record.Outcome.FAIL
    for phase in ours["phases"]:
        test_record.PhaseOutcome[phase["outcome"]]
        for m in phase["measurements"].values():
            measurements.Outcome[m["outcome"]]
    assert ours["outcome_details"][0]["code"] == "step_1:current_1_0"
    assert ours["metadata"]["test_name"] == "p" and ours["metadata"]["linegate"]["plan_sha256"] == "0" * 64


def test_written_per_unit_by_the_line(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    demo = subprocess.run([sys.executable, "-m", "linegate", "demo", "--units", "3", "--out", str(out),
                           "--service", "none"], capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    exports = list(out.glob("run-*/openhtf/*.json"))
    assert len(exports) == 3
    assert {json.loads(p.read_text())["outcome"] for p in exports} <= {"PASS", "FAIL", "ERROR"}
