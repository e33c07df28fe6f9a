"""The per-unit HTML report, rendered from a frozen record."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from linegate.plans import (
    Failure,
    MeasurementRecord,
    Outcome,
    PlanRef,
    StationRef,
    Status,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from linegate.reports import UnitReportRenderer


def record(outcome: Outcome = Outcome.FAIL) -> UnitRecord:
    now = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
    bad = MeasurementRecord(name="supply_current", value=0.24, units="A", low=0.06, high=0.1,
                            marginal_low=0.068, marginal_high=0.092, limit="0.06..0.1 A",
                            status=Status.FAIL, reason="0.24 A is above the high limit 0.1 A")
    ok = MeasurementRecord(name="at_ok", value=True, equals=True, limit="== True", status=Status.PASS)
    steps = (
        StepRecord(name="link", test="t.py::test_link", outcome=StepOutcome.PASS, started_at=now,
                   duration_s=0.001, measurements=(ok,)),
        StepRecord(name="supply_current", test="t.py::test_current", outcome=StepOutcome.FAIL, started_at=now,
                   duration_s=0.002, measurements=(bad,), message="supply_current: 0.24 A is above the high limit"),
    )
    return UnitRecord(
        record_id="r1", outcome=outcome, unit={"serial": "LG0001", "mac": "24:0a:c4:00:00:01"},
        station=StationRef(name="st1", fixture="f.yaml", socket="A", operator="alice", linegate_version="0.1.0"),
        plan=PlanRef(name="p", version="1.2", sha256="ab" * 32, path="/p.yaml"),
        instruments={"psu": "ACME,PSU,1,1"}, dut={"at_version": "4.1.1.0"},
        started_at=now, ended_at=now, duration_s=0.004, steps=steps,
        failure=Failure(step="supply_current", measurement="supply_current",
                        message="supply_current = 0.24 A (limit 0.06..0.1 A): above the high limit"),
    )


def test_report_shows_verdict_failure_provenance_and_gauge():
    html = UnitReportRenderer().render(record())
    assert 'id="lg-verdict">FAIL<' in html
    assert "First failure in step supply_current: supply_current = 0.24 A" in html
    assert "sha256:" + "ab" * 32 in html and "ACME,PSU,1,1" in html and "LG0001" in html
    assert "2026-11-22T10:00:00.123+00:00" in html
    assert html.count('<svg class="lg-gauge"') == 1  # only the numeric measurement
    assert 'class="lg-row-fail" data-measurement="supply_current"' in html


def test_report_is_self_contained():
    html = UnitReportRenderer().render(record(Outcome.PASS))
    assert not re.search(r'<(link|script)[^>]+(href|src)="(http|//)', html)
    assert "<style" in html and "data-jsonblob" in html


def test_a_csv_attachment_is_plotted():
    from linegate.plans import Attachment

    csv_text = "t_s,current_A\n" + "\n".join(f"{i / 10:.1f},{0.08 + (i % 3) * 0.001:.4f}" for i in range(20))
    r = record(Outcome.PASS).model_copy(update={"attachments": (
        Attachment(name="supply-current.csv", mime_type="text/csv", content=csv_text),)})
    html = UnitReportRenderer().render(r)
    assert 'class="lg-plot"' in html and "<polyline" in html and "current_A" in html


def test_the_run_index_is_rewritten_with_bounded_cost_and_complete_at_the_end(tmp_path, monkeypatch):
    """A long run must not rewrite a growing index after every unit (O(N^2))."""
    import json

    from linegate.station import output
    from synthetic import make_record

    clock = [1000.0]
    monkeypatch.setattr(output.time, "monotonic", lambda: clock[0])
    writes = []
    writer = output.RunWriter(tmp_path, {"station": "s"})
    original = writer.write_index

    def counted():
        writes.append(len(writer.rows))
        original()
        writer._index_cost = 0.5  # as if a long index took 0.5 s to write: due again after 10 s

    monkeypatch.setattr(writer, "write_index", counted)
    for i in range(30):
        writer(make_record(i))
        clock[0] += 1.0  # one unit per second
    assert writes == [1, 11, 21]  # the first unit at once, then every 10 s of line time
    writer.finish()
    assert writes[-1] == 30
    assert len(json.loads((writer.run_dir / "run.json").read_text())["units"]) == 30
    index = (writer.run_dir / "index.html").read_text()
    assert all(f'href="{record.stem}.html"' in index for record in writer.records)


def test_report_names_the_socket_next_to_station_and_fixture():
    r = record().model_copy(update={"station": StationRef(name="line3-st2", fixture="quad.yaml", socket="C",
                                                          linegate_version="0.1.0")})
    html = UnitReportRenderer().render(r)
    where = html[html.index('id="lg-where"'):]
    where = where[:where.index("</div>")]
    assert 'id="lg-socket">C<' in where and "<b>line3-st2</b>" in where and "<b>quad.yaml</b>" in where
    assert html.index('id="lg-where"') < html.index('class="lg-facts"')  # under the verdict, above the details
    assert ">FAIL — unit LG0001 — socket C — p</title>" in html


def test_run_index_has_a_socket_column():
    from linegate.reports import IndexRow, RunIndexRenderer
    from synthetic import make_record

    rows = [IndexRow.of(i, make_record(i, socket="AB"[i % 2])) for i in range(1, 5)]
    assert [row.socket for row in rows] == ["B", "A", "B", "A"]
    html = RunIndexRenderer().render("run-x", {"station": "s"}, rows)
    assert "<th>#</th><th>Socket</th><th>Serial</th>" in html
    assert html.count('<td class="socket">A</td>') == 2 and html.count('<td class="socket">B</td>') == 2
    assert '2 sockets (<a href="lot.html#sockets">yield per socket</a>)' in html
    single = RunIndexRenderer().render("run-y", {"station": "s"}, rows[:1])
    assert '<td class="socket">B</td>' in single and "yield per socket" not in single
