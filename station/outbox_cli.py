"""``linegate results outbox``: what a station's outbox holds for each central store it sends to.

Per target (the central store, never with its password): how far it has the outbox, when it was last
reached and its last error, the units not yet sent, and the units it refused for what they hold (set
aside, with its reason). Read-only: it never writes the station's store.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from linegate.station.results import set_aside
from linegate.station.results.reader import ResultsReader
from linegate.station.results.rows import as_utc
from linegate.station.results.schema import sync_state, units
from linegate.station.results.store import ResultsStore
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError


def outbox_state(store: ResultsStore | ResultsReader) -> list[dict[str, Any]]:
    """One document per target: ``target, synced_revision, synced_at, last_error, behind, set_aside`` (a list)."""
    with store.engine.connect() as conn:
        targets = conn.execute(select(sync_state).order_by(sync_state.c.target)).all()
        refused = set_aside.listed(conn)
        found = []
        for t in targets:
            behind = conn.execute(select(func.count()).where(units.c.revision > t.revision)).scalar_one()
            found.append({"target": t.target, "synced_revision": t.revision,
                          "synced_at": _iso(t.synced_at), "last_error": t.last_error, "behind": int(behind),
                          "set_aside": [{"record_id": s.record_id, "serial": s.serial, "station": s.station,
                                         "ended_at": _iso(s.ended_at), "set_aside_at": _iso(s.at),
                                         "reason": s.reason} for s in refused.get(t.target, [])]})
    return found


def show(path: Path, *, as_json: bool, console: Console) -> int:
    with ResultsReader(path, what="read the outbox") as store:
        try:
            state = outbox_state(store)
        except SQLAlchemyError as e:
            raise store.error(e) from e
    if as_json:
        print(json.dumps({"outbox": str(path), "targets": state}, indent=1))
        return 0
    if not state:
        console.print(f"results outbox {path}: no central store was ever sent to from here", markup=False)
        return 0
    for t in state:
        when = f", last reached {t['synced_at']}" if t["synced_at"] else ", never reached"
        error = f"; last error: {printable(t['last_error'])}" if t["last_error"] else ""
        console.print(f"{t['target']}: {t['behind']} behind, {len(t['set_aside'])} set aside{when}{error}",
                      markup=False, highlight=False)
        if t["set_aside"]:
            table = Table("record id", "serial", "station", "ended", "refused because", box=None)
            for s in t["set_aside"]:
                table.add_row(s["record_id"], printable(s["serial"]), printable(s["station"]), s["ended_at"] or "",
                              printable(s["reason"]))
            console.print(table)
    return 0


def printable(text: str) -> str:
    """Stored text as a terminal may show it: control characters escaped, never sent."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _iso(when: datetime | None) -> str | None:
    return as_utc(when).isoformat(timespec="seconds") if when is not None else None


__all__ = ["outbox_state", "show"]
