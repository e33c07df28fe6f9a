"""The run's index.html: every unit of the run with a link to its report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from linegate.plans import UnitRecord

_OURS = Path(str(resources.files("linegate.reports") / "templates"))


@dataclass(frozen=True)
class IndexRow:
    index: int
    serial: str
    mac: str
    outcome: str
    failure: str
    duration_s: float
    report: str
    socket: str = ""

    @classmethod
    def of(cls, index: int, r: UnitRecord) -> IndexRow:
        failure = ""
        if r.failure is not None:
            failure = f"{r.failure.step}: {r.failure.measurement or r.failure.message}"
        return cls(
            index=index,
            serial=r.unit.get("serial", ""),
            mac=r.unit.get("mac", ""),
            outcome=r.outcome.value,
            failure=failure,
            duration_s=r.duration_s,
            report=f"{r.stem}.html",
            socket=r.station.socket,
        )


class RunIndexRenderer:
    def __init__(self) -> None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(_OURS)), autoescape=jinja2.select_autoescape(["j2"])
        )
        self._page = env.get_template("run_index.html.j2")

    def render(self, title: str, meta: dict[str, str], rows: Sequence[IndexRow]) -> str:
        counts = Counter(row.outcome for row in rows)
        sockets = len({row.socket for row in rows})
        return self._page.render(title=title, meta=meta, rows=rows, counts=counts, total=len(rows),
                                 sockets=sockets)
