"""For the results sync's tests: outboxes of synthetic units, and a private PostgreSQL cluster to stop."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from linegate.plans import UnitRecord
from linegate.station.results.rows import run_row, unit_rows
from linegate.station.results.schema import CHILDREN, units
from linegate.station.results.store import ResultsStore, put_rows
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from synthetic import make_record

POISON = "poison"  # a measurement in these units is refused by a central store made with refuse_poison


def fill_outbox(path: Path, count: int, *, first: int = 1, station: str = "st1",
                poisoned: frozenset[int] = frozenset()) -> list[str]:
    """``count`` synthetic units in the local store at ``path`` (one transaction: a quick outbox to send),
    under increasing revisions as the store gives them; their record ids. The ``poisoned`` indexes have
    a measurement in units the central store of ``refuse_poison`` refuses."""
    ids = []
    run_dir = path.parent / f"run-{station}"
    with ResultsStore(path) as store, store.begin() as conn:
        revision = conn.execute(select(func.coalesce(func.max(units.c.revision), 0))).scalar_one()
        for index in range(first, first + count):
            record = make_record(index, fail=index % 7 == 0)
            record = record.model_copy(update={"station": record.station.model_copy(update={"name": station})})
            if index in poisoned:
                record = with_units(record, POISON)
            run = run_row(record, run_dir)
            rows = unit_rows(record, run_id=run["run_id"])
            revision += 1
            rows["unit_tests"][0]["revision"] = revision
            put_rows(conn, [run], rows)
            ids.append(record.record_id)
    return ids


def with_units(record: UnitRecord, in_units: str) -> UnitRecord:
    """The record with its first measurement in ``units``."""
    first = record.steps[0]
    m = first.measurements[0].model_copy(update={"units": in_units})
    step = first.model_copy(update={"measurements": (m, *first.measurements[1:])})
    return record.model_copy(update={"steps": (step, *record.steps[1:])})


def refuse_poison(url: str) -> None:
    """The central store made, then told to refuse any measurement in units 'poison' (a constraint)."""
    with ResultsStore(url):
        pass
    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER no_poison BEFORE INSERT ON measurements WHEN NEW.units = 'poison' "
                              "BEGIN SELECT RAISE(ABORT, 'poisoned units'); END"))
        else:
            conn.execute(text("ALTER TABLE measurements ADD CONSTRAINT no_poison CHECK (units <> 'poison')"))
    engine.dispose()


def take_poison(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER no_poison" if conn.dialect.name == "sqlite"
                          else "ALTER TABLE measurements DROP CONSTRAINT no_poison"))
    engine.dispose()


class Census(NamedTuple):
    ids: list[str]  # every unit's record id, repeats kept
    children: dict[str, dict[str, int]]  # per child table: rows per record id


def census(url: str) -> Census:
    """What a store holds."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = list(conn.execute(text("SELECT record_id FROM unit_tests")).scalars())
            children = {t.name: {str(k): int(v) for k, v in conn.execute(
                select(t.c.record_id, func.count()).group_by(t.c.record_id)).all()} for t in CHILDREN}
    finally:
        engine.dispose()
    return Census(ids, children)


def units_in(url: str) -> int:
    """How many units a store holds; 0 before its tables are made."""
    try:
        return len(census(url).ids)
    except SQLAlchemyError:
        return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A PostgreSQL server of the test's own (trust auth), to stop and start at will."""

    bindir: Path
    root: Path
    port: int

    def _ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                        *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._ctl("-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "-w", "stop")

    def url(self, password: str = "") -> str:
        user = f"postgres:{password}" if password else "postgres"
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/postgres"


@contextmanager
def private_postgres() -> Iterator[Cluster]:
    """A fresh cluster on a free port, run as ``postgres`` (we are root); skipped when that cannot be."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("a private PostgreSQL needs /usr/lib/postgresql/*/bin/initdb, runuser and root")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed")
    root = Path(tempfile.mkdtemp(prefix="lg-pg-"))
    (root / "sock").mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(root / "sock", "postgres")
    os.chmod(root, 0o755)
    cluster = Cluster(Path(found[-1]).parent, root, free_port())
    try:
        subprocess.run(["runuser", "-u", "postgres", "--", str(cluster.bindir / "initdb"), "-D", str(root / "data"),
                        "-A", "trust", "-U", "postgres", "--no-sync"], check=True, capture_output=True, timeout=120)
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(root, ignore_errors=True)
