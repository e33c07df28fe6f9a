"""``linegate db upgrade|current``: the ledger's and the results store's schema revisions.

A station brings its own SQLite files to its revision when it opens them; a shared PostgreSQL
database behind the code is upgraded here, on purpose, once every station sharing it runs this
linegate (docs/ledger.md, Migrations).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from linegate.fixtures.config import folder_problem
from linegate.station.cli_args import Commands
from linegate.station.cloud_setup import DEFAULT_STATE_DIR
from linegate.station.ledger import migrations as ledger_revisions
from linegate.station.ledger.errors import LedgerError, LedgerSchemaNewer
from linegate.station.ledger.lock import hold_file, lock_path, release_file
from linegate.station.migrations.runner import Schema, SchemaError, SchemaNewer, describe, upgrade
from linegate.station.results import migrations as results_revisions
from linegate.station.results.reader import read_only_sqlite
from linegate.station.results.store import (
    ResultsError,
    ResultsSchemaNewer,
    first_line,
    open_engine,
    results_url,
    shown_url,
)
from linegate.station.run import LineError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

LEDGER, RESULTS = ledger_revisions.SCHEMA, results_revisions.SCHEMA


def add_parser(sub: Commands) -> None:
    db = sub.add_parser("db", help="the ledger's and the results store's schema revisions")
    cmds = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "bring each database to this linegate's revision (from -> to, one line each)"),
                       ("current", "print each database's revision")):
        cmd = cmds.add_parser(name, help=text)
        cmd.add_argument("--ledger", metavar="URL_OR_PATH", help="the ledger: SQLAlchemy URL or SQLite path")
        cmd.add_argument("--results", metavar="URL_OR_PATH", help="the results store: SQLAlchemy URL or SQLite path")
        cmd.add_argument("--state-dir", type=Path, help=f"a station's state folder: its ledger.db and results.db "
                                                        f"(without --ledger/--results: {DEFAULT_STATE_DIR})")


def targets(args: argparse.Namespace) -> list[tuple[Schema, str]]:
    """The databases named: --ledger and --results, else those in the state folder."""
    named = [(schema, given) for schema, given in ((LEDGER, args.ledger), (RESULTS, args.results)) if given]
    folder = args.state_dir if args.state_dir is not None else None if named else DEFAULT_STATE_DIR
    if folder is not None:
        given = {schema for schema, _ in named}
        found = [(schema, str(folder / file)) for schema, file in ((LEDGER, "ledger.db"), (RESULTS, "results.db"))
                 if schema not in given and (folder / file).is_file()]
        if not found and not named:
            raise LineError(f"{folder}: no ledger.db or results.db here (pass --state-dir, --ledger or --results)")
        named += found
    for schema, given in named:
        if "://" not in given and not Path(given).is_file():
            raise LineError(f"{given}: no {schema.what} here")
        if (problem := folder_problem(given)) is not None:  # a URL's file may be made, not its folder
            raise LineError(f"--{schema.option} {problem}")
    return named


def run(args: argparse.Namespace) -> int:
    for schema, given in targets(args):
        url = results_url(given)
        reading = args.db_command == "current"
        with _opened(schema, url, hold=not reading, read_only=reading) as engine:
            shown = shown_url(url)
            if reading:
                said = describe(engine, schema)
                if engine.dialect.name == "sqlite" and said.startswith("empty"):  # a file that is no database yet
                    raise (LedgerError if schema is LEDGER else ResultsError)(
                        f"{schema.what} {shown}: not a {schema.what} (none of its tables; a station run or "
                        f"'linegate db upgrade --{schema.option} {given}' makes it)")
                print(f"{schema.what} {shown}: {said}")
                continue
            before, head = upgrade(engine, schema, shown)
            was = ", ".join(before) if before else "no version table"
            print(f"{schema.what} {shown}: {was} -> {head}" + (" (already there)" if before == (head,) else ""))
    return 0


@contextmanager
def _opened(schema: Schema, url: str, *, hold: bool, read_only: bool = False) -> Iterator[Engine]:
    """An engine on the database; a SQLite ledger to upgrade held as a station holds it (none may run
    meanwhile); the store's own error types, so the command line says them in one line with exit 2.
    ``read_only``: a SQLite file opened so that it cannot be written (nor made, nor its folder)."""
    shown = shown_url(url)
    fail, newer = (LedgerError, LedgerSchemaNewer) if schema is LEDGER else (ResultsError, ResultsSchemaNewer)
    try:
        database = make_url(url).database if url.startswith("sqlite") else None
    except (ArgumentError, ValueError):  # open_engine says it in its words
        database = None
    try:
        if read_only and database not in (None, "", ":memory:"):
            engine = read_only_sqlite(Path(str(database)), f"{schema.what} {shown}", what=schema.what)
        else:
            engine = open_engine(url)
    except ResultsError as e:
        raise fail(str(e)) from e
    held = None
    try:
        if hold and schema is LEDGER and engine.dialect.name == "sqlite" and database:
            held = hold_file(lock_path(Path(database)), "linegate db upgrade", shown)
        yield engine
    except SchemaNewer as e:
        raise newer(str(e)) from e
    except SchemaError as e:
        raise fail(str(e)) from e
    except SQLAlchemyError as e:
        raise fail(f"{schema.what} {shown}: cannot read or upgrade its schema: {first_line(e)}") from e
    finally:
        if held is not None:
            release_file(held)
        engine.dispose()
