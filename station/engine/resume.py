"""Before a continued run: units whose record was written but whose line in the ledger's journal was not.

A station killed between writing a unit's record (its JSON, then its rows in the results store) and
journaling the unit as finished (``Ledger.unit_finished``) would test that unit again when the same
command continues the line: a second record, a FAIL counted twice against the retest limit and in the
yield. Recovery reads what was recorded since the journal's last line (the results store's rows, and
JSON records the store did not get before the kill) and journals those units now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.schema import identities
from linegate.station.ledger.schema import units as journal
from linegate.station.results.rebuild import rebuild_files, record_files, run_folders, station_of
from linegate.station.results.schema import provisioning, units
from linegate.station.results.store import ResultsStore
from sqlalchemy import func, select

MARGIN_S = 300.0  # records this long before the journal's last line are looked at too (clocks, slow writes)
SLOWEST_UNIT_S = 3600.0  # a unit started this long before ``since`` may have ended after it


def journal_recorded(ledger: Ledger, store: ResultsStore, out: Path, station: str) -> int:
    """Journal the units ``station`` recorded but did not journal; how many. Other stations' run folders
    in ``out`` and their rows in the store are not looked at (a shared out/ is not this station's past)."""
    with ledger.engine.connect() as conn:
        marks = [conn.execute(select(func.max(t.c.updated_at))).scalar() for t in (journal, identities)]
    latest = max((m for m in marks if m is not None), default=None)
    if latest is None:
        return 0  # the ledger was never written to: no run of it was cut short after a record
    since = latest - MARGIN_S
    folders = [f for f in run_folders([out]) if _mtime(f) > since and station_of(f) == station]
    recent = [p for folder in folders for p in record_files(folder) if _mtime(p) > since]
    if recent:
        rebuild_files(store, recent)  # killed between the JSON and its rows: the rows first
    after = datetime.fromtimestamp(max(since, 0.0), UTC)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(units.c.record_id, units.c.mac, units.c.serial, units.c.outcome, units.c.ended_at,
                   units.c.record_path, provisioning.c.service, provisioning.c.identity)
            .select_from(units.outerjoin(provisioning, provisioning.c.record_id == units.c.record_id))
            .where(units.c.station == station, units.c.started_at >= after - timedelta(seconds=SLOWEST_UNIT_S),
                   units.c.ended_at >= after, units.c.outcome != "ABORTED")
            .order_by(units.c.ended_at)).all()
    journaled = 0
    known: dict[str, tuple[str | None, float]] = {}
    for row in rows:
        key = row.mac or (f"sn:{row.serial}" if row.serial else None)
        if key is None:
            continue
        ended = (row.ended_at if row.ended_at.tzinfo else row.ended_at.replace(tzinfo=UTC)).timestamp()
        if key not in known:
            known[key] = _journaled(ledger, key)
        record_id, updated = known[key]
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


def _journaled(ledger: Ledger, key: str) -> tuple[str | None, float]:
    with ledger.engine.connect() as conn:
        row = conn.execute(select(journal.c.record_id, journal.c.updated_at).where(journal.c.mac == key)).first()
    return (None, 0.0) if row is None else (row.record_id, row.updated_at)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


__all__ = ["journal_recorded"]
