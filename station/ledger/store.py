"""Opening the ledger: the file and its integrity, the key that belongs to it, and who may run on it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linegate.station.dblog import quiet_pipeline_echo
from linegate.station.ledger.crypto import SecretBox
from linegate.station.ledger.errors import LedgerBusy, LedgerCorrupt, LedgerError, LedgerGone, LedgerSchemaNewer
from linegate.station.ledger.keycheck import open_key, refuse_orphan_key
from linegate.station.ledger.lock import (
    describe,
    hold_advisory,
    hold_file,
    holder_info,
    lock_path,
    release_advisory,
    release_file,
)
from linegate.station.ledger.migrations import SCHEMA
from linegate.station.ledger.schema import meta
from linegate.station.migrations.runner import SchemaError, SchemaNewer, ensure
from linegate.station.storefile import StoreFile
from sqlalchemy import Connection, Engine, create_engine, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError


def ledger_url(path_or_url: str | Path) -> str:
    text = str(path_or_url)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


LOST = ("the station stops: what it journaled since went with the file; restore the ledger from its backup, then "
        "'linegate ledger audit' cross-checks it with the cloud and the units")

class LedgerStore:
    """The journal's storage. Opening it checks the file (SQLite) and that the key is this ledger's.

    ``hold(station)`` claims it for a running station until ``close()``; read-only use needs no hold.
    """

    def __init__(self, url: str | Path, *, key_file: Path | None = None,
                 crash_hook: Callable[[str], None] | None = None) -> None:
        self.url = ledger_url(url)
        parsed = make_url(self.url)
        self._sqlite_path = Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database \
            else None
        # How messages name it: the file, or the URL without its password.
        self.shown = str(self._sqlite_path) if self._sqlite_path else parsed.render_as_string(hide_password=True)
        self._lock_fd: int | None = None
        self.key_file = key_file  # as given (a socket's worker opens the ledger again with it)
        self._advisory: tuple[Connection, str] | None = None
        if self._sqlite_path is not None:
            key_file = key_file or self._sqlite_path.with_suffix(".key")
            refuse_orphan_key(self._sqlite_path, key_file, self.shown)
            self._create_file(self._sqlite_path)
        self._crash = crash_hook
        self._file: StoreFile | None = None
        try:
            self.engine = self._engine()
        except SQLAlchemyError as e:
            raise LedgerError(f"{self.shown}: cannot open the ledger: {_first_line(e)}") from e
        try:
            if self._sqlite_path is not None:
                self._check_integrity()
            self._migrate()
            self._box = SecretBox(open_key(self.engine, self.shown, key_file))
            self._file = StoreFile.opened(self._sqlite_path, "the ledger", LOST) if self._sqlite_path else None
        except SQLAlchemyError as e:
            self.engine.dispose()
            raise LedgerError(f"{self.shown}: cannot open the ledger: {_first_line(e)}") from e
        except BaseException:
            self.engine.dispose()
            raise

    def _migrate(self) -> None:
        """The schema at this linegate's revision: created, adopted or upgraded (docs/ledger.md, Migrations)."""
        try:
            ensure(self.engine, SCHEMA, self.shown)
        except SchemaNewer as e:
            raise LedgerSchemaNewer(str(e)) from e
        except SchemaError as e:
            raise LedgerError(str(e)) from e

    def _create_file(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
        except OSError as e:
            raise LedgerError(f"{self.shown}: cannot create the ledger: {e.strerror or e}") from e

    def _check_integrity(self) -> None:
        """``PRAGMA quick_check`` at open: damage anywhere in the file stops the station before a unit."""
        try:
            with self.engine.connect() as conn:
                problems = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check")]
        except DBAPIError as e:  # damage that stops SQLite before the check can run
            problems = [str(e.orig).splitlines()[0] if str(e.orig) else type(e.orig).__name__]
        if problems != ["ok"]:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LedgerCorrupt(f"{self.shown}: the ledger file is damaged: {problems[0][:160]}{more}; restore it "
                                "from a backup")

    def _engine(self) -> Engine:
        if self._sqlite_path is not None:
            engine = create_engine(self.url, connect_args={"timeout": 30, "isolation_level": None})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")  # a committed transition survives power loss
                cur.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, no upgrade deadlocks

            return engine
        quiet_pipeline_echo()
        return create_engine(self.url, pool_pre_ping=True)

    # -- who runs on it ----------------------------------------------------
    @property
    def sqlite_path(self) -> Path | None:
        """The ledger's file, when it is SQLite."""
        return self._sqlite_path

    def hold(self, station: str) -> None:
        """Claim the ledger for ``station`` until ``close()``; LedgerBusy naming the holder if taken.

        SQLite: one station per ledger, whatever its name. PostgreSQL: many stations, each name once.
        """
        if self._lock_fd is not None or self._advisory is not None:
            return
        if self._sqlite_path is not None:
            self._lock_fd = hold_file(lock_path(self._sqlite_path), station, self.shown)
            return
        key = f"station:{station}"[:64]
        try:
            conn = hold_advisory(self.engine, station)
            if conn is None:
                raise LedgerBusy(f"{self.shown}: station name {station} is in use by "
                                 f"{describe(self.get_meta(key))}; each station name runs once at a time")
            self._advisory = (conn, station)
            self.set_meta(key, holder_info(station))
        except SQLAlchemyError as e:
            raise LedgerError(f"{self.shown}: cannot claim station {station}: {_first_line(e)}") from e

    def close(self) -> None:
        try:
            if self._lock_fd is not None:
                fd, self._lock_fd = self._lock_fd, None
                release_file(fd)
            if self._advisory is not None:
                (conn, station), self._advisory = self._advisory, None
                try:
                    release_advisory(conn, station)
                except SQLAlchemyError:
                    pass  # the session is gone, and its lock with it
        finally:
            self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write, refused when the file is no longer the one opened, before and after it (a removal
        during it took the write with the file)."""
        self.still_there()
        with self.engine.begin() as conn:
            yield conn
        self.still_there()

    def still_there(self) -> None:
        if self._file is not None and (problem := self._file.problem()) is not None:
            raise LedgerGone(problem)

    def _reached(self, state: str) -> None:
        if self._crash is not None:
            self._crash(state)

    def checkpoint(self, point: str) -> None:
        """A point outside the ledger's transitions that ``LINEGATE_CRASH_AT`` may kill at (``recorded``: a
        unit's record written, its journal line not yet)."""
        self._reached(point)

    # -- what the ledger was run with (for recover/audit from the command line) --
    def set_meta(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            if conn.execute(select(meta.c.key).where(meta.c.key == key)).first() is None:
                conn.execute(insert(meta).values(key=key, value=value))
            else:
                conn.execute(update(meta).where(meta.c.key == key).values(value=value))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
        return default if row is None else row[0]


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
