"""Opening a results store and writing unit records into it.

The station's local store is SQLite beside its ledger (``results.db``): every worker writes its units
into it, each in one short transaction, in the step that writes the unit's JSON. A central store
(PostgreSQL, ``--results URL``) gets the same rows from the local one by the sync (``sync.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linegate.plans import UnitRecord
from linegate.station.dblog import quiet_pipeline_echo
from linegate.station.migrations.runner import SchemaError, SchemaNewer, ensure
from linegate.station.results.migrations import SCHEMA
from linegate.station.results.rows import run_id_of, run_row, unit_rows
from linegate.station.results.schema import CHILDREN, runs, store_identity, units
from linegate.station.storefile import StoreFile
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from linegate.errors import BadInput


class ResultsError(BadInput):
    """The results store cannot be opened or written. One line naming the store (never its password)."""


class ResultsSchemaNewer(ResultsError):
    """The store's schema is a revision this linegate does not know: a newer linegate made it."""


REBUILD = "the units' JSON records are in the run folders: 'linegate results rebuild --state-dir DIR' makes it again"


def results_url(path_or_url: str | Path) -> str:
    text = str(path_or_url)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def shown_url(url: str) -> str:
    """The store as messages name it: the file, or the URL without its password (in its user part or its
    query: ``?password=``, ``?sslpassword=``)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # a port that is not a number is a ValueError
        return "<a URL that does not parse>"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    hidden = {k: "***" if "password" in k.lower() else v for k, v in parsed.query.items()}
    return parsed.update_query_dict(hidden).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def secrets_of(url: str) -> list[str]:
    """The passwords a URL carries (its user part's and its query's), to scrub from a driver's message."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return []
    found = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if "password" in key.lower():
            found += [value] if isinstance(value, str) else list(value)
    return [str(s) for s in found if s]


def first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e)
    return f"{type(e).__name__}: {(text.splitlines() or [''])[0][:200]}"


def open_engine(url: str, *, connect_timeout_s: int = 5) -> Engine:
    """An engine on a results store; SQLite in WAL mode with one writer at a time (``BEGIN IMMEDIATE``); a
    server that does not answer is given up after ``connect_timeout_s``."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:
        raise ResultsError(f"{shown_url(url)}: not a database URL") from e
    if parsed.get_backend_name() != "sqlite":
        quiet_pipeline_echo()
        try:
            timeout = {"connect_timeout": connect_timeout_s} if parsed.get_backend_name() == "postgresql" else {}
            return create_engine(url, pool_pre_ping=True, connect_args=timeout)
        except ImportError as e:  # the driver is an extra: linegate[postgres]
            hint = "pip install 'linegate[postgres]'" if parsed.get_backend_name() == "postgresql" else \
                "the results store is PostgreSQL (postgresql+psycopg://...) or SQLite"
            raise ResultsError(f"{shown_url(url)}: cannot use this database: its driver is not installed "
                               f"({e.name or e}); {hint}") from e
        except (ArgumentError, SQLAlchemyError) as e:
            raise ResultsError(f"{shown_url(url)}: cannot use this database: {first_line(e)}") from e
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # the JSON record is the artifact; the rows follow it
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def open_reader(url: str) -> Engine:
    """A SQLite store read in plain (deferred) transactions: a snapshot that never holds the writers' lock,
    however long it reads. WAL keeps the writers going meanwhile."""
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def local_results_path(station: str, state_dir: Path | None) -> Path:
    """The station's own store: ``results.db`` beside its ledger (in its state folder)."""
    return (state_dir if state_dir is not None else Path(".linegate") / station) / "results.db"


class ResultsStore:
    """A results database: write unit records, read them back (``query.py``).

    Opening brings its schema to this linegate's revision (created, adopted, upgraded; a PostgreSQL
    store behind it needs ``linegate db upgrade``, one newer is refused: docs/ledger.md, Migrations).
    ``create=False``: a worker's opening of a store its parent process has already opened (it must be there).

    A SQLite store remembers the file it opened and its identity row: a write finding the file removed,
    emptied or replaced (``station/storefile.py``), or another store's identity, is refused (ResultsError), so the
    station stops rather than write into nothing.
    """

    def __init__(self, url: str | Path, *, create: bool = True) -> None:
        self.url = results_url(url)
        self.shown = shown_url(self.url)
        database = make_url(self.url).database if self.url.startswith("sqlite") else None
        self.path = Path(database) if database and database != ":memory:" else None
        if self.path is not None and not create and not self.path.is_file():
            raise ResultsError(f"{self.path}: the results store is not there (removed?); {REBUILD}")
        self.engine = open_engine(self.url)
        if create:
            try:
                ensure(self.engine, SCHEMA, self.shown)
            except SchemaNewer as e:
                self.engine.dispose()
                raise ResultsSchemaNewer(str(e)) from e
            except SchemaError as e:
                self.engine.dispose()
                raise ResultsError(str(e)) from e
            except SQLAlchemyError as e:
                self.engine.dispose()
                raise ResultsError(f"{self.shown}: cannot open the results store: {first_line(e)}") from e
        self.file: StoreFile | None = None
        self.store_id: str | None = None
        if self.path is not None:
            try:
                self.file = StoreFile.opened(self.path, "the results store", REBUILD)
                with self.engine.connect() as conn:
                    self.store_id = conn.execute(select(store_identity.c.store_id)).scalar()
            except SQLAlchemyError as e:
                if create:
                    self.engine.dispose()
                    raise ResultsError(f"{self.shown}: cannot open the results store: {first_line(e)}") from e
                # not a store (yet): its queries say so; a write finds it has no identity to check
            except OSError as e:
                self.engine.dispose()
                raise ResultsError(f"{self.shown}: cannot open the results store: {e.strerror or e}") from e

    def still_there(self) -> None:
        """Raise ResultsError when the store's file is no longer the one opened."""
        if self.file is not None and (problem := self.file.problem()) is not None:
            raise ResultsError(problem)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def write(self, record: UnitRecord, *, run_dir: Path | str, record_path: Path | str = "",
              report_path: Path | str = "") -> None:
        """The record's rows, replacing any earlier version of the same record (a rewrite after a late
        commit), under a new local revision."""
        run = run_row(record, run_dir)
        rows = unit_rows(record, run_id=run["run_id"], record_path=_absolute(record_path),
                         report_path=_absolute(report_path))
        self.still_there()
        try:
            with self.begin() as conn:
                if self.store_id is not None and conn.execute(select(store_identity.c.store_id)).scalar() \
                        != self.store_id:
                    raise ResultsError(f"{self.shown}: the results store was replaced by another store while "
                                       f"the station ran; {REBUILD}")
                latest = conn.execute(select(func.coalesce(func.max(units.c.revision), 0))).scalar_one()
                revision = next_revision(latest)
                rows["unit_tests"][0]["revision"] = revision
                put_rows(conn, [run], rows)
        except SQLAlchemyError as e:
            raise ResultsError(f"{self.shown}: cannot store unit {record.record_id}: {first_line(e)}") from e
        self.still_there()  # removed during the write: the rows went with the file


def next_revision(latest: int) -> int:
    """The revision of a store's next write: past ``latest`` and at least the clock in microseconds, so a store
    made again (deleted, rebuilt) numbers its writes past every write of the one it replaces, and the central
    store, which keeps a unit's latest revision, takes them."""
    return max(latest + 1, time.time_ns() // 1000)


def _absolute(path: Path | str) -> str:
    return str(Path(path).resolve()) if str(path) else ""


def put_rows(conn: Connection, run_rows: list[dict[str, Any]], rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert or replace runs and units with their children, in the caller's transaction (idempotent).

    A unit already stored under the same or a later ``revision`` is left as it is: sent again, or an older
    version sent late (two senders of one outbox), it never replaces what a later write put there.
    Statements are few because each is a round trip to a central database: a run already there is
    skipped by the insert itself (SQLite, PostgreSQL), and only a unit already stored has rows to delete."""
    fresh = list({r["run_id"]: r for r in run_rows}.values())
    dialect = conn.dialect.name
    if fresh and dialect in ("sqlite", "postgresql"):
        upsert = sqlite_insert(runs) if dialect == "sqlite" else pg_insert(runs)
        conn.execute(upsert.on_conflict_do_nothing(index_elements=[runs.c.run_id]), fresh)
    elif fresh:
        known_runs = set(conn.execute(select(runs.c.run_id).where(runs.c.run_id.in_([r["run_id"] for r in fresh])))
                         .scalars())
        if missing := [r for r in fresh if r["run_id"] not in known_runs]:
            conn.execute(insert(runs), missing)
    ids = [u["record_id"] for u in rows["unit_tests"]]
    stored = dict(conn.execute(select(units.c.record_id, units.c.revision).where(units.c.record_id.in_(ids))).all())
    if stored:
        newer = {u["record_id"]: u["revision"] for u in rows["unit_tests"]}
        kept = {i for i, revision in stored.items() if revision >= newer[i]}
        if kept:
            rows = {name: [r for r in found if r["record_id"] not in kept] for name, found in rows.items()}
        if replaced := [i for i in stored if i not in kept]:  # a rewrite (a late commit): the old rows go
            for table in CHILDREN:
                conn.execute(delete(table).where(table.c.record_id.in_(replaced)))
            conn.execute(delete(units).where(units.c.record_id.in_(replaced)))
    for table in (units, *CHILDREN):  # psycopg pipelines an executemany: one wait for all its rows
        if rows[table.name]:
            conn.execute(insert(table), rows[table.name])


__all__ = ["ResultsError", "ResultsSchemaNewer", "ResultsStore", "local_results_path", "put_rows", "results_url",
           "run_id_of", "shown_url"]
