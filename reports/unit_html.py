"""Per-unit HTML report: pytest-html's own page, rendered from the frozen record.

The page is pytest-html's template, stylesheet and script (so it looks and
filters like every pytest-html report QA has seen), with one results row per
plan step and the verdict, provenance and measurement table above them. It is
self-contained: no file or network is needed to view it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from functools import cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pytest_html
from linegate.plans import Status, StepOutcome, StepRecord, UnitRecord
from linegate.reports.gauge import gauge_svg
from linegate.reports.plot import csv_plot_svg

_PYTEST_HTML = Path(pytest_html.__file__).parent / "resources"
_OURS = Path(str(resources.files("linegate.reports") / "templates"))
_RESULT = {
    StepOutcome.PASS: "Passed",
    StepOutcome.FAIL: "Failed",
    StepOutcome.ERROR: "Error",
    StepOutcome.SKIPPED: "Skipped",
}
_TABLE_HEAD = [
    '<th class="sortable" data-column-type="result">Result</th>',
    '<th class="sortable" data-column-type="testId">Step</th>',
    '<th class="sortable" data-column-type="duration">Duration</th>',
    "<th>Station test</th>",
]


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(_OURS), str(_PYTEST_HTML)]),
        autoescape=jinja2.select_autoescape(["html", "jinja2", "j2"]),
    )


@cache
def script_hashes() -> tuple[str, ...]:
    """The Content-Security-Policy hashes (``sha256-...``) of the scripts of every unit report: pytest-html's
    app.js as its page includes it, and the page's event handlers (its reload button, our filter of
    measurements; a policy allows these with 'unsafe-hashes'). A server of reports allows these and no other."""
    page = (_PYTEST_HTML / "index.jinja2").read_text(encoding="utf-8")
    found = re.findall(r'<script>(\s*)\{%\s*include\s+"app\.js"\s*%\}(\s*)</script>', page)
    script = _environment().get_template("app.js").render()
    sources = [before + script + after for before, after in found]
    for template in (page, (_OURS / "unit_summary.html.j2").read_text(encoding="utf-8")):
        sources += re.findall(r'\son[a-z]+="([^"{}]*)"', template)
    return tuple("sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in sources)


class UnitReportRenderer:
    """Compiles the templates once; ``render`` is called per unit."""

    def __init__(self) -> None:
        env = _environment()
        self._page = env.get_template("index.jinja2")
        self._summary = env.get_template("unit_summary.html.j2")
        self._css = (_PYTEST_HTML / "style.css").read_text() + (_OURS / "extra.css").read_text()
        self._version = pytest_html.__version__

    def render(self, r: UnitRecord) -> str:
        rows = [(step, m, gauge_svg(m)) for step, m in r.measurements()]
        failed = sum(1 for _, m, _ in rows if m.status is Status.FAIL)
        marginal = sum(1 for _, m, _ in rows if m.status is Status.MARGINAL)
        summary = self._summary.render(
            r=r,
            rows=rows,
            failed_count=failed,
            marginal_count=marginal,
            failure_sentence=self.failure_sentence(r),
            plots={a.name: csv_plot_svg(a.content) for a in r.attachments if a.mime_type == "text/csv"},
            started=_ts(r.started_at),
            ended=_ts(r.ended_at),
        )
        outcomes: dict[str, dict[str, Any]] = {k: {"label": v, "value": 0} for k, v in (
            ("failed", "Failed"), ("passed", "Passed"), ("skipped", "Skipped"),
            ("xfailed", "Expected failures"), ("xpassed", "Unexpected passes"),
            ("error", "Errors"), ("rerun", "Reruns"),
        )}
        tests: dict[str, list[dict[str, object]]] = {}
        for step in r.steps:
            result = _RESULT[step.outcome]
            outcomes[result.lower()]["value"] += 1
            tests[step.name] = [self._step_row(step, result, gauges={m.name: g for s, m, g in rows if s is step})]
        data = {
            "environment": {},  # the provenance table above the verdict says it all, verdict first
            "tests": tests,
            "renderCollapsed": ["passed", "skipped"],
            "initialSort": "result",
            "title": f"{r.outcome.value} {r.unit.get('serial') or r.unit.get('mac', '')}",
        }
        return self._page.render(
            title=f"{r.outcome.value} — unit {r.unit.get('serial') or r.unit.get('mac', '?')} — socket "
            f"{r.station.socket} — {r.plan.name}",
            date=r.ended_at.strftime("%d-%b-%Y"),
            time=r.ended_at.strftime("%H:%M:%S"),
            version=self._version,
            styles=self._css,
            run_count=f"{len(r.steps)} steps took {r.duration_s * 1000:.0f} ms.",
            running_state="finished",
            self_contained=True,
            outcomes=outcomes,
            test_data=json.dumps(data),
            table_head=_TABLE_HEAD,
            additional_summary={"prefix": [summary], "summary": [], "postfix": []},
        )

    @staticmethod
    def failure_sentence(r: UnitRecord) -> str:
        if r.failure is None:
            return ""
        return f"First failure in step {r.failure.step}: {r.failure.message}"

    @staticmethod
    def _shared_note(step: StepRecord) -> str:
        """Which shared instruments the step held and how long it waited for them (nothing when neither)."""
        if not step.shared and not step.lock_wait_s:
            return ""
        held = f"shared {escape(', '.join(step.shared))}" if step.shared else "shared"
        return (f'<div class="lg-shared" title="cross-process locks of shared instruments">{held} &middot; '
                f"waited {step.lock_wait_s * 1000:.1f} ms</div>")

    @staticmethod
    def _step_row(step: StepRecord, result: str, gauges: dict[str, str]) -> dict[str, object]:
        cells = [
            f'<td class="col-result">{result}</td>',
            f'<td class="col-testId">{escape(step.name)}</td>',
            f'<td class="col-duration">{step.duration_s * 1000:.1f} ms</td>',
            f"<td>{escape(step.test)}{UnitReportRenderer._shared_note(step)}</td>",
        ]
        extras = []
        if step.measurements:
            body = "".join(
                f'<tr class="lg-row-{m.status.value}"><td>{escape(m.name)}</td><td>{escape(str(m.value))}</td>'
                f'<td>{escape(m.units or "")}</td><td>{escape(m.limit)}</td>'
                f'<td class="lg-status lg-{m.status.value}">{m.status.value}</td>'
                f"<td>{gauges.get(m.name, '')}{escape(m.reason)}</td></tr>"
                for m in step.measurements
            )
            extras.append({
                "name": "measurements",
                "format_type": "html",
                "content": '<table class="lg-meas"><tr><th>Measurement</th><th>Value</th><th>Units</th>'
                f"<th>Limit</th><th>Status</th><th></th></tr>{body}</table>",
            })
        log = escape(step.message) + ("\n\n" + escape(step.output) if step.output else "")
        return {
            "testId": step.name,
            "result": result,
            "duration": f"{step.duration_s * 1000:.1f} ms",
            "resultsTableRow": cells,
            "extras": extras,
            "log": log or "No output captured.",
        }
