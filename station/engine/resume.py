"""Before a continued run: units whose record was written but whose line in the ledger's journal was not.

A station killed between writing a unit's record (its JSON, then its rows in the results store) and
journaling the unit as finished (``Ledger.unit_finished``) would test that unit again when the same
command continues the line: a second record, a FAIL counted twice against the retest limit and in the
yield. Recovery reads what was recorded since the journal's last line (the results store's rows, and
JSON records the store did not get before the kill) and journals those units now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.schema import units as journal
from linegate.station.results.rebuild import rebuild_files, record_files, run_folders
from linegate.station.results.schema import provisioning, units
from linegate.station.results.store import ResultsStore
from sqlalchemy import func, select

MARGIN_S = 300.0  # records this long before the journal's last line are looked at too (clocks, slow writes)


def journal_recorded(ledger: Ledger, store: ResultsStore, out: Path) -> int:
    """Journal the units recorded but not journaled; how many."""
    with ledger.engine.connect() as conn:
        latest = conn.execute(select(func.max(journal.c.updated_at))).scalar()
        known = {r.mac: (r.record_id, r.updated_at) for r in conn.execute(
            select(journal.c.mac, journal.c.record_id, journal.c.updated_at))}
    since = (latest or 0.0) - MARGIN_S
    recent = [p for folder in run_folders([out]) for p in record_files(folder) if _mtime(p) > since]
    if recent:
        rebuild_files(store, recent)  # killed between the JSON and its rows: the rows first
    after = datetime.fromtimestamp(max(since, 0.0), UTC)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(units.c.record_id, units.c.mac, units.c.serial, units.c.outcome, units.c.ended_at,
                   units.c.record_path, provisioning.c.service, provisioning.c.identity)
            .select_from(units.outerjoin(provisioning, provisioning.c.record_id == units.c.record_id))
            .where(units.c.ended_at >= after, units.c.outcome != "ABORTED").order_by(units.c.ended_at)).all()
    journaled = 0
    for row in rows:
        key = row.mac or (f"sn:{row.serial}" if row.serial else None)
        if key is None:
            continue
        ended = (row.ended_at if row.ended_at.tzinfo else row.ended_at.replace(tzinfo=UTC)).timestamp()
        record_id, updated = known.get(key, (None, 0.0))
        if record_id == row.record_id or updated >= ended:
            continue  # journaled, or a later test of the unit is
        ident = ledger.find(row.service, row.identity) if row.service and row.identity else None
        if ident is not None and ident.unit_mac != row.mac:
            ident = None
        ledger.unit_finished(key, row.outcome, row.record_id, row.serial or None, ident=ident,
                             record_path=row.record_path or None)
        known[key] = (row.record_id, ended)
        journaled += 1
    return journaled


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


__all__ = ["journal_recorded"]
