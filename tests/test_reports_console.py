"""The run's console summary on an 80-column terminal: every failure and report name readable, none cut."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from linegate.reports import IndexRow
from linegate.station.cli import _summary
from linegate.station.run import RunResult
from rich.console import Console
from synthetic import make_record

LONG = ("supply_current: [Errno 5] supply_current = 0.24 A (limit 0.06..0.1 A): above the high limit, and the "
        "rest of a long message")  # 120 characters: the summary shows 99 and "…"


def rows(sockets: str, units: int = 12) -> list[IndexRow]:
    records = [make_record(i, socket=sockets[i % len(sockets)], fail=i % 3 == 0, error=i == 4)
               for i in range(1, units + 1)]
    out = [IndexRow.of(i, r) for i, r in enumerate(records, 1)]
    out[2] = dataclasses.replace(out[2], failure=LONG)
    return out


def rendered(index_rows: list[IndexRow], width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    _summary(RunResult(run_dir=Path("/srv/line/out/run-20261101T080000-4242"), records=[], rows=index_rows),
             console, 12.5)
    return console.export_text().splitlines()


def table_rows(lines: list[str]) -> list[dict[str, str]]:
    """The table's body rows, a row's wrapped lines joined, as {header: text without whitespace}."""
    header: list[str] = []
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("┃"):
            cells = [c.strip() for c in line.strip("┃").split("┃")]
            header = cells if not header else [f"{a} {b}".strip() for a, b in zip(header, cells, strict=True)]
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[0]:
                rows.append(cells)
            else:
                rows[-1] = [a + b for a, b in zip(rows[-1], cells, strict=True)]
    return [{h: "".join(c.split()) for h, c in zip(header, row, strict=True)} for row in rows]


def squeezed(text: str) -> str:
    return "".join(text.split())


def expected_failure(row: IndexRow) -> str:
    return squeezed(row.failure if len(row.failure) <= 100 else row.failure[:99] + "…")


def test_several_sockets_at_80_columns_show_socket_failure_and_report_whole():
    index_rows = rows("ABCD")
    lines = rendered(index_rows)
    assert max(len(line) for line in lines) <= 80
    table = table_rows(lines)
    assert len(table) == len(index_rows)
    for row, shown in zip(index_rows, table, strict=True):
        assert shown["#"] == str(row.index) and shown["socket"] == row.socket and shown["outcome"] == row.outcome
        both = shown["report / failing step: measurement"]
        assert both == squeezed(row.report) + expected_failure(row)
    assert sum("…" in line for line in lines) == 1  # only the failure longer than 100 characters
    assert "[Errno 5]" in "\n".join(lines)  # not taken for markup


def test_one_socket_at_80_columns_has_no_socket_column_and_separate_failure_and_report():
    index_rows = rows("A", units=9)
    lines = rendered(index_rows)
    assert max(len(line) for line in lines) <= 80
    table = table_rows(lines)
    assert set(table[0]) == {"#", "outcome", "failing step: measurement", "report"}
    for row, shown in zip(index_rows, table, strict=True):
        assert shown["report"] == row.report and shown["failing step: measurement"] == expected_failure(row)
    reports = [line for line in lines if ".html" in line and line.startswith("│")]
    assert all(row.report in "\n".join(reports) for row in index_rows)  # each on one line, not folded


def test_a_wide_terminal_adds_the_serial_and_the_mac():
    index_rows = rows("AB")
    lines = rendered(index_rows, width=200)
    assert max(len(line) for line in lines) <= 200
    table = table_rows(lines)
    assert list(table[0]) == ["#", "socket", "unit", "MAC", "outcome", "failing step: measurement", "report"]
    for row, shown in zip(index_rows, table, strict=True):
        assert shown["unit"] == row.serial and shown["MAC"] == row.mac
        assert shown["failing step: measurement"] == expected_failure(row) and shown["report"] == row.report
    assert any(LONG[:99] + "…" in line for line in lines)  # on one line at this width
    assert "12 units in 12.50 s" in "\n".join(lines)
