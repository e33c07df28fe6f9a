"""What QA reads, rendered from frozen unit records."""

from __future__ import annotations

from linegate.reports.run_index import IndexRow, RunIndexRenderer
from linegate.reports.unit_html import UnitReportRenderer

__all__ = ["IndexRow", "RunIndexRenderer", "UnitReportRenderer"]
