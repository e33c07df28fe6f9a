"""JUnit XML for a run: one test suite per unit, one test case per step (for CI systems)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from linegate.plans import StepOutcome, UnitRecord


def junit_xml(records: Sequence[UnitRecord], name: str = "linegate") -> str:
    suites = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in records:
        unit = r.unit.get("serial") or r.unit.get("mac") or r.record_id
        counts = {k: 0 for k in totals}
        suite = ET.SubElement(suites, "testsuite", name=f"{r.plan.name}.{unit}",
                              timestamp=r.started_at.isoformat(timespec="milliseconds"), time=f"{r.duration_s:.3f}",
                              hostname=r.station.host or r.station.name)
        props = ET.SubElement(suite, "properties")
        for key, value in {"outcome": r.outcome.value, "mac": r.unit.get("mac", ""), "station": r.station.name,
                           "socket": r.station.socket, "plan": f"{r.plan.name} v{r.plan.version}",
                           "plan_sha256": r.plan.sha256, "tests_sha256": r.plan.tests_sha256,
                           "record_id": r.record_id, "report": f"{r.stem}.html",
                           **({"identity": r.provisioning.identity, "commit": r.provisioning.commit_status}
                              if r.provisioning else {})}.items():
            ET.SubElement(props, "property", name=key, value=str(value))
        for step in r.steps:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=f"{r.plan.name}.{unit}", name=step.name,
                                 time=f"{step.duration_s:.3f}")
            failing = [m for m in step.measurements if m.status.value == "fail"]
            detail = "\n".join(f"{m.name} = {m.value!r} {m.units or ''} (limit {m.limit}): {m.reason}"
                               for m in step.measurements)
            if step.outcome is StepOutcome.FAIL:
                counts["failures"] += 1
                message = failing[0].reason if failing else step.message
                ET.SubElement(case, "failure", message=message[:500], type="limit").text = detail or step.message
            elif step.outcome is StepOutcome.ERROR:
                counts["errors"] += 1
                ET.SubElement(case, "error", message=step.message[:500], type="station").text = step.output[-4000:]
            elif step.outcome is StepOutcome.SKIPPED:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=step.message[:500])
            elif detail:
                ET.SubElement(case, "system-out").text = detail
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        suites.set(k, str(v))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
