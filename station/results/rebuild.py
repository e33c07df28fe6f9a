"""Making a station's results store again from its units' JSON records (the artifacts it was made from).

Each ``*.json`` of a run folder that is a unit record is written into the store as the station wrote it
(its run, record and report paths), idempotently by ``record_id``: a record the store already holds in
the same state is left alone, one it holds in an earlier state (pending, then committed) is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from linegate.plans import UnitRecord
from linegate.station.results.schema import provisioning, units
from linegate.station.results.store import ResultsStore
from pydantic import ValidationError
from sqlalchemy import select

NOT_RECORDS = frozenset({"run.json", "lot.json"})


@dataclass
class Rebuilt:
    folders: int = 0
    written: int = 0  # records written (new to the store, or a later state of one it held)
    kept: int = 0  # already there as the file has it
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # JSON files that are not unit records

    @property
    def records(self) -> int:
        return self.written + self.kept


def run_folders(roots: Iterable[Path]) -> list[Path]:
    """The run folders under ``roots``: a folder holding unit records, or one holding ``run-*`` folders."""
    found: dict[Path, None] = {}
    for root in roots:
        if not root.is_dir():
            continue
        inner = sorted(p for p in root.glob("run-*") if p.is_dir())
        for folder in inner or [root]:
            found[folder.resolve()] = None
    return list(found)


def _state(store: ResultsStore, record_id: str) -> tuple[str, str | None] | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(units.c.outcome, provisioning.c.commit_status)
                           .select_from(units.outerjoin(provisioning, provisioning.c.record_id == units.c.record_id))
                           .where(units.c.record_id == record_id)).first()
    return None if row is None else (row.outcome, row.commit_status)


def station_of(folder: Path) -> str | None:
    """The station a run folder's ``run.json`` names (None: no readable run.json)."""
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("meta", {})
    except (OSError, ValueError, AttributeError):
        return None
    return meta.get("station") if isinstance(meta, dict) else None


def record_files(folder: Path) -> list[Path]:
    """The JSON files of a run folder that may be unit records, oldest file name first."""
    return [p for p in sorted(folder.glob("*.json")) if p.name not in NOT_RECORDS and not p.name.startswith(".")]


def rebuild(store: ResultsStore, folders: Iterable[Path]) -> Rebuilt:
    """Every unit record of ``folders`` into ``store``."""
    done = Rebuilt()
    for folder in folders:
        done.folders += 1
        rebuild_files(store, record_files(folder), done)
    return done


def rebuild_files(store: ResultsStore, paths: Iterable[Path], done: Rebuilt | None = None) -> Rebuilt:
    """These unit record files into ``store`` (each in its own run folder, the file's)."""
    done = done if done is not None else Rebuilt()
    for path in paths:
        try:
            record = UnitRecord.model_validate_json(path.read_bytes())
        except ValidationError as e:
            done.unreadable.append((path, f"not a unit record ({e.error_count()} problem(s))"))
            continue
        except OSError as e:
            done.unreadable.append((path, e.strerror or str(e)))
            continue
        held = _state(store, record.record_id)
        wanted = (record.outcome.value, record.provisioning.commit_status.value if record.provisioning else None)
        if held == wanted:
            done.kept += 1
            continue
        html = path.with_suffix(".html")
        store.write(record, run_dir=path.parent, record_path=path, report_path=html if html.is_file() else "")
        done.written += 1
    return done


__all__ = ["Rebuilt", "rebuild", "rebuild_files", "record_files", "run_folders", "station_of"]
