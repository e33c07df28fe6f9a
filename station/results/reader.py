"""A results store opened to read only: the way in of every question (``results units|history|outbox``,
``report lot --results``, ``db current``).

Nothing is created, migrated or written: a SQLite file is opened with ``mode=ro`` (a QA copy, a read-only
mount, a file that is not a store stays byte-identical; no folder is made), one that is not there or holds
no results table is refused in one line. A WAL-mode store on read-only media whose ``-shm`` file is absent
(SQLite cannot make its WAL index there) is read as immutable when no ``-wal`` file holds writes: nothing
can write that file meanwhile. ``ResultsStore`` (``store.py``) stays the writers' way in.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from linegate.station.results.migrations import SCHEMA
from linegate.station.results.store import ResultsError, first_line, open_engine, results_url, secrets_of, shown_url
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

NOT_A_STORE = "a station run, 'linegate results rebuild' or 'linegate db upgrade' makes one"


class ResultsReader:
    """A results store to read: ``url``, ``shown`` (never a password), ``engine``, ``path`` (SQLite's file).

    ``what`` names the reading in messages ("read the results store", "read the lot"). ``schema``: refuse a
    store holding none of the results tables (False: ``db current`` tells what it finds)."""

    def __init__(self, url_or_path: str | Path, *, what: str = "read the results store",
                 schema: bool = True, pragmas: tuple[str, ...] = ()) -> None:
        self.url = results_url(url_or_path)
        self.shown = shown_url(self.url)
        self.what = what
        try:
            parsed = make_url(self.url)
        except (ArgumentError, ValueError) as e:  # a port that is not a number is a ValueError
            raise ResultsError(f"{self.shown}: not a database URL") from e
        self.path: Path | None = None
        if parsed.get_backend_name() != "sqlite":
            self.engine = open_engine(self.url)  # a server's database: nothing is made by connecting to it
        else:
            if parsed.database in (None, "", ":memory:"):
                raise ResultsError(f"{self.shown}: an in-memory database holds no results store")
            self.path = Path(parsed.database)
            self.engine = read_only_sqlite(self.path, self.shown, pragmas=pragmas)
        if schema:
            try:
                self.has_schema()
            except BaseException:
                self.engine.dispose()
                raise

    def has_schema(self) -> None:
        """Refuse (ResultsError) a database holding none of the results tables: an empty file, another one's."""
        try:
            with self.engine.connect() as conn:
                found = SCHEMA.tables & set(inspect(conn).get_table_names())
        except SQLAlchemyError as e:
            raise self.error(e) from e
        if not found:
            empty = self.path is not None and self.path.stat().st_size == 0
            holds = "an empty file" if empty else "none of its tables"
            raise ResultsError(f"{self.shown}: not a results store ({holds}; {NOT_A_STORE})")

    def error(self, e: BaseException) -> ResultsError:
        """A read that failed, in one line naming the store (a driver's message may quote its password)."""
        said = first_line(e)
        for secret in secrets_of(self.url):
            said = said.replace(secret, "***")
        return ResultsError(f"{self.shown}: cannot {self.what}: {said}")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ResultsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_only_sqlite(path: Path, shown: str, *, pragmas: tuple[str, ...] = (), what: str = "results store") -> Engine:
    """An engine that cannot write ``path`` (``mode=ro``); ResultsError when there is no such file."""
    if not path.is_file():
        raise ResultsError(f"{shown}: no such {what} (file not found)")
    target = f"file:{quote(str(path.resolve()))}?mode=ro"
    if _needs_immutable(path, target):
        target += "&immutable=1"
    engine = create_engine(f"sqlite:///{target}&uri=true", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _read_pragmas(dbapi_conn: Any, _: Any) -> None:
        if pragmas:
            cur = dbapi_conn.cursor()
            for pragma in pragmas:
                cur.execute(pragma)
            cur.close()

    return engine


def _needs_immutable(path: Path, target: str) -> bool:
    """True when only ``immutable=1`` opens the file: WAL mode, on media where its ``-shm`` cannot be made.

    Refused (ResultsError) when a ``-wal`` file there holds writes that cannot be read without the index."""
    try:
        probe = sqlite3.connect(target, uri=True)
    except sqlite3.Error:
        return False  # the engine's own connection says why
    try:
        probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return False
    except sqlite3.Error as e:
        if not (_wal_mode(path) and not _sibling(path, "-shm").exists() and not os.access(path.parent, os.W_OK)):
            return False  # not that case: the query itself says what is wrong
        wal = _sibling(path, "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ResultsError(f"{path}: a WAL store on read-only media with writes in {wal.name} and no "
                               f"{path.name}-shm: copy the store with its -wal file to a writable folder "
                               f"({first_line(e)})") from e
        return True
    finally:
        probe.close()


def _wal_mode(path: Path) -> bool:
    """The file's header says WAL (its read and write versions are 2)."""
    try:
        with path.open("rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[:16] == b"SQLite format 3\x00" and header[18] == header[19] == 2


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


__all__ = ["ResultsReader", "read_only_sqlite"]
