"""Bringing a database to the code's schema revision, with Alembic and no env.py.

Opening (``ensure``) reads the version table and returns when it holds the head: one SELECT, Alembic
not even imported. Otherwise, under a lock (one transaction with ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL) it decides again and:

- refuses a revision it does not know (the database is newer than this linegate): ``SchemaNewer``;
- creates an empty database, and adopts one made before migrations (tables, no version table): the
  first revision creates only what is missing and checks that the tables it finds are its own;
- upgrades an older SQLite file (a station's own store);
- refuses an older PostgreSQL schema (``SchemaOlder``): it may be shared with stations still running
  older code, so ``linegate db upgrade`` does it, on purpose, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


class SchemaError(Exception):
    """The database's schema cannot be brought to this linegate's. One line naming the database."""


class SchemaNewer(SchemaError):
    """The database holds a revision this linegate does not know: a newer linegate made it."""


class SchemaOlder(SchemaError):
    """A shared (PostgreSQL) database behind this linegate: ``linegate db upgrade`` brings it forward."""


@dataclass(frozen=True)
class Schema:
    """One database kind that Alembic manages."""

    what: str  # how messages name it: "ledger", "results store"
    option: str  # the ``linegate db upgrade`` option that names it
    package: str  # holds ``versions/``
    version_table: str  # its own: the ledger and the results store may share a PostgreSQL schema
    head: str  # the code's head revision (a test checks it against the scripts)
    tables: frozenset[str]  # its tables at head: an empty database has none of them

    def scripts(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory(str(Path(str(resources.files(self.package)))))


def revision_of(conn: Connection, schema: Schema) -> tuple[str, ...] | None:
    """The revisions in the database's version table, or None when it has none."""
    if not inspect(conn).has_table(schema.version_table):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {schema.version_table}")).scalars()
    return tuple(sorted(rows))


def ensure(engine: Engine, schema: Schema, shown: str) -> None:
    """Opening: the database at the code's head, or SchemaNewer / SchemaOlder / SchemaError."""
    if _at_head(engine, schema):
        return
    with engine.begin() as conn:
        _lock(conn, schema)
        found = revision_of(conn, schema)
        if found == (schema.head,):
            return  # another process brought it here while we waited
        scripts = schema.scripts()
        _refuse_unknown(found, scripts, schema, shown)
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite and not _may_adopt(conn, found, scripts, schema):
            raise SchemaOlder(f"{schema.what} {shown}: its schema is {_named(found)}, older than this linegate "
                              f"({schema.head}); run 'linegate db upgrade --{schema.option} URL' once, when every "
                              "station sharing it runs this linegate")
        _migrate(conn, scripts, schema, shown)


def upgrade(engine: Engine, schema: Schema, shown: str) -> tuple[tuple[str, ...] | None, str]:
    """``linegate db upgrade``: the database at head, whatever it is; (revision before, head)."""
    with engine.begin() as conn:
        _lock(conn, schema)
        found = revision_of(conn, schema)
        scripts = schema.scripts()
        _refuse_unknown(found, scripts, schema, shown)
        if found != (schema.head,):
            _migrate(conn, scripts, schema, shown)
    return found, schema.head


def describe(engine: Engine, schema: Schema) -> str:
    """``linegate db current``: its revision and how it stands against this linegate."""
    with engine.connect() as conn:
        found = revision_of(conn, schema)
        ours = sorted(schema.tables & set(inspect(conn).get_table_names()))
    if found is None:
        return (f"no version table, {len(ours)} of its tables (made before migrations; opening or "
                "'linegate db upgrade' adopts it)") if ours else "empty (opening creates it)"
    if found == (schema.head,):
        return f"revision {schema.head} (head)"
    known = {s.revision for s in schema.scripts().walk_revisions()}
    if not set(found) <= known:
        return f"{_named(found)}, newer than this linegate (knows up to {schema.head})"
    return f"{_named(found)}, older than this linegate ({schema.head}): 'linegate db upgrade' brings it there"


def _at_head(engine: Engine, schema: Schema) -> bool:
    """One SELECT; any failure (no version table yet) leaves the decision to the locked path."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {schema.version_table}")).scalars().all()
    except SQLAlchemyError:
        return False
    return rows == [schema.head]


def _lock(conn: Connection, schema: Schema) -> None:
    """PostgreSQL: stations opening one database at once migrate it one after the other (SQLite's
    ``BEGIN IMMEDIATE`` already does that). The two-key form keeps clear of the stations' own locks."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(27751, hashtext(:name))"), {"name": schema.version_table})


def _refuse_unknown(found: tuple[str, ...] | None, scripts: ScriptDirectory, schema: Schema, shown: str) -> None:
    known = {s.revision for s in scripts.walk_revisions()}
    if found is not None and not set(found) <= known:
        raise SchemaNewer(f"{schema.what} {shown}: its schema is {_named(found)}, newer than this linegate "
                          f"(knows up to {schema.head}); upgrade linegate")


def _may_adopt(conn: Connection, found: tuple[str, ...] | None, scripts: ScriptDirectory, schema: Schema) -> bool:
    """PostgreSQL without ``db upgrade``: only creating an empty database, or adopting one made before
    migrations when the code's head is still the first revision (that only adds what is missing)."""
    if found is not None:
        return False
    if not schema.tables & set(inspect(conn).get_table_names()):
        return True
    return scripts.get_revision(schema.head).down_revision is None


def _migrate(conn: Connection, scripts: ScriptDirectory, schema: Schema, shown: str) -> None:
    """Every revision from the database's to head, in the caller's transaction."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    def steps(revision: Any, _: Any) -> Any:
        return scripts._upgrade_revs(schema.head, revision)

    context = MigrationContext.configure(conn, opts={"version_table": schema.version_table, "fn": steps})
    try:
        with Operations.context(context):
            context.run_migrations()
    except SchemaError as e:  # a revision's own refusal (adopting tables that are not this store's)
        raise SchemaError(f"{schema.what} {shown}: {e}") from e


def _named(found: tuple[str, ...] | None) -> str:
    if not found:
        return "no revision"
    return f"revision {', '.join(found)}" if len(found) == 1 else f"revisions {', '.join(found)}"
