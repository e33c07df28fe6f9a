"""Alembic migrations of the ledger and the results store: the revisions build exactly the code's schema;
databases made before migrations are adopted in place with nothing lost; a newer one is refused in one
line; ``linegate db upgrade|current``; SQLite files upgrade on open, a shared PostgreSQL one does not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from linegate.station.ledger import migrations as ledger_revisions
from linegate.station.ledger.errors import LedgerSchemaNewer
from linegate.station.ledger.journal import Ledger
from linegate.station.ledger.schema import COMMITTED, COMMITTING, FLASHED, RELEASED
from linegate.station.ledger.schema import metadata as ledger_metadata
from linegate.station.migrations.runner import Schema, SchemaOlder, describe, ensure, revision_of, upgrade
from linegate.station.results import migrations as results_revisions
from linegate.station.results.schema import metadata as results_metadata
from linegate.station.results.store import ResultsSchemaNewer, ResultsStore, open_engine
from pgkit import pg_schema, postgres_up
from sqlalchemy import MetaData, create_engine, inspect, select, text
from synthetic import make_record

LEDGER, RESULTS = ledger_revisions.SCHEMA, results_revisions.SCHEMA
KINDS = {"ledger": (LEDGER, ledger_metadata), "results": (RESULTS, results_metadata)}
needs_pg = pytest.mark.skipif(not postgres_up(), reason="no PostgreSQL on 127.0.0.1:5432")
PRIVATE = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret"


def linegate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linegate", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def linegate_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command in this process (what the subprocess runs, without its second of imports)."""
    from linegate.station.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def differences(url: str, schema: Schema, metadata: MetaData) -> list[Any]:
    """What Alembic's autogenerate would change to make the database ``metadata`` (types included)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "version_table": schema.version_table, "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in metadata.tables})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def rows(url: str, metadata: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in metadata.sorted_tables}
    finally:
        engine.dispose()


def version(url: str, schema: Schema) -> tuple[str, ...] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return revision_of(conn, schema)
    finally:
        engine.dispose()


def before_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening as linegate did before migrations: ``metadata.create_all``, no version table."""
    monkeypatch.setattr("linegate.station.ledger.store.ensure", lambda engine, *_: ledger_metadata.create_all(engine))
    monkeypatch.setattr("linegate.station.results.store.ensure",
                        lambda engine, *_: results_metadata.create_all(engine))


def fill_ledger(ledger: Ledger) -> None:
    """Identities in every kind of state, a lost reserve call, a finished unit, meta."""
    rid = ledger.open_request("ayla", 6)
    ledger.add_reserved("ayla", rid, [(f"AC{i:03d}", {"public_key": f"pk{i}"}, PRIVATE + bytes([48 + i]))
                                      for i in range(6)])
    ledger.take("ayla", "aa:01", "SN1")
    ledger.move(ledger.take("ayla", "aa:02", "SN2"), FLASHED, queued=True)
    done = ledger.move(ledger.move(ledger.move(ledger.take("ayla", "aa:03", "SN3"), FLASHED), COMMITTING), COMMITTED)
    ledger.move(ledger.take("ayla", "aa:04", "SN4"), RELEASED, reason="unit failed")
    ledger.unit_finished("aa:03", "pass", "rec-3", "SN3", ident=done, record_path="/records/3.json")
    ledger.close_request(ledger.open_request("ayla", 2), "timeout")
    ledger.set_meta("spec:ayla", {"service": "ayla"})


def test_the_code_names_the_scripts_head_and_its_tables():
    for schema, metadata in KINDS.values():
        assert schema.scripts().get_current_head() == schema.head
        assert schema.tables == set(metadata.tables)


@pytest.mark.parametrize("kind", KINDS)
def test_the_revisions_build_exactly_the_code_schema_on_sqlite(tmp_path, kind):
    schema, metadata = KINDS[kind]
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = open_engine(url)
    assert upgrade(engine, schema, "db") == (None, schema.head)
    engine.dispose()
    assert differences(url, schema, metadata) == []


@needs_pg
@pytest.mark.parametrize("kind", KINDS)
def test_the_revisions_build_exactly_the_code_schema_on_postgresql(kind):
    schema, metadata = KINDS[kind]
    with pg_schema() as url:
        engine = open_engine(url)
        assert upgrade(engine, schema, "db") == (None, schema.head)
        engine.dispose()
        assert differences(url, schema, metadata) == []


@pytest.mark.parametrize("via", ["opening", "db upgrade"])
def test_a_ledger_made_before_migrations_is_upgraded_in_place_with_nothing_lost(tmp_path, monkeypatch, capsys, via):
    path = tmp_path / "state" / "ledger.db"
    with monkeypatch.context() as old:
        before_migrations(old)
        ledger = Ledger(path)
        fill_ledger(ledger)
        ledger.close()
    url = f"sqlite:///{path}"
    made = rows(url, ledger_metadata)
    assert version(url, LEDGER) is None and len(made["identities"]) == 6 and made["units"]
    if via == "db upgrade":
        assert linegate_here(capsys, "db", "upgrade", "--state-dir", str(path.parent)) == (
            0, f"ledger {path}: no version table -> {LEDGER.head}\n", "")
    ledger = Ledger(path)
    try:
        assert version(url, LEDGER) == (LEDGER.head,)
        assert rows(url, ledger_metadata) == made
        assert {i.identity: str(i.state) for i in ledger.all()} == {
            "AC000": "assigned", "AC001": "flashed", "AC002": "committed", "AC003": "released",
            "AC004": "reserved", "AC005": "reserved"}
        for i, ident in enumerate(ledger.all()):
            assert ledger.secret(ident) == PRIVATE + bytes([48 + i])  # the key file still opens every secret
        assert ledger.take("ayla", "aa:05", "SN5") is not None  # and it works on
    finally:
        ledger.close()
    assert differences(url, LEDGER, ledger_metadata) == []


@pytest.mark.parametrize("via", ["opening", "db upgrade"])
def test_a_results_store_made_before_migrations_is_upgraded_in_place_with_nothing_lost(tmp_path, monkeypatch, capsys,
                                                                                       via):
    path = tmp_path / "results.db"
    with monkeypatch.context() as old:
        before_migrations(old)
        with ResultsStore(path) as store:
            for i in range(5):
                store.write(make_record(i, fail=i == 3), run_dir=tmp_path / "run", record_path=tmp_path / f"{i}.json")
    url = f"sqlite:///{path}"
    made = rows(url, results_metadata)
    assert version(url, RESULTS) is None and len(made["unit_tests"]) == 5 and made["measurements"]
    if via == "db upgrade":
        assert linegate_here(capsys, "db", "upgrade", "--results", str(path)) == (
            0, f"results store {path}: no version table -> {RESULTS.head}\n", "")
    with ResultsStore(path) as store:
        assert version(url, RESULTS) == (RESULTS.head,)
        adopted = rows(url, results_metadata)
        assert len(adopted.pop("store_identity")) == 1 and made.pop("store_identity") == []  # it has an identity now
        assert adopted == made
        store.write(make_record(5), run_dir=tmp_path / "run")
    after = rows(url, results_metadata)
    made_last = max(u[2] for u in made["unit_tests"])
    assert len(after["unit_tests"]) == 6 and max(u[2] for u in after["unit_tests"]) > made_last  # numbering goes on
    assert differences(url, RESULTS, results_metadata) == []


def test_db_upgrade_twice_changes_nothing_the_second_time(tmp_path, capsys):
    Ledger(tmp_path / "ledger.db").close()
    ResultsStore(tmp_path / "results.db").close()
    before = rows(f"sqlite:///{tmp_path / 'ledger.db'}", ledger_metadata)
    expected = (0, f"ledger {tmp_path / 'ledger.db'}: {LEDGER.head} -> {LEDGER.head} (already there)\n"
                   f"results store {tmp_path / 'results.db'}: {RESULTS.head} -> {RESULTS.head} (already there)\n", "")
    assert linegate_here(capsys, "db", "upgrade", "--state-dir", str(tmp_path)) == expected
    assert linegate_here(capsys, "db", "upgrade", "--state-dir", str(tmp_path)) == expected
    assert rows(f"sqlite:///{tmp_path / 'ledger.db'}", ledger_metadata) == before
    assert linegate_here(capsys, "db", "current", "--state-dir", str(tmp_path)) == (
        0, f"ledger {tmp_path / 'ledger.db'}: revision {LEDGER.head} (head)\n"
           f"results store {tmp_path / 'results.db'}: revision {RESULTS.head} (head)\n", "")


def _from_the_future(url: str, schema: Schema, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {schema.version_table} SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_a_newer_ledger_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    _from_the_future(f"sqlite:///{path}", LEDGER, "ledger_0099")
    expected = (f"linegate: error: ledger {path}: its schema is revision ledger_0099, newer than this linegate "
                f"(knows up to {LEDGER.head}); upgrade linegate\n")
    with pytest.raises(LedgerSchemaNewer):
        Ledger(path)
    for command in (("ledger", "status", "--ledger", str(path)), ("db", "upgrade", "--ledger", str(path))):
        done = linegate(*command, cwd=tmp_path)
        assert (done.returncode, done.stderr, done.stdout) == (2, expected, ""), command
    assert linegate_here(capsys, "db", "current", "--ledger", str(path)) == (
        0, f"ledger {path}: revision ledger_0099, newer than this linegate (knows up to {LEDGER.head})\n", "")


def test_a_newer_results_store_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "results.db"
    ResultsStore(path).close()
    _from_the_future(f"sqlite:///{path}", RESULTS, "results_0042")
    with pytest.raises(ResultsSchemaNewer):
        ResultsStore(path)
    assert linegate_here(capsys, "db", "upgrade", "--results", str(path)) == (
        2, "", f"linegate: error: results store {path}: its schema is revision results_0042, newer than this "
               f"linegate (knows up to {RESULTS.head}); upgrade linegate\n")


def test_the_ledger_and_the_results_store_share_one_database(tmp_path):
    """No table name in common: one database (one PostgreSQL schema) can hold both, each with its version."""
    Ledger(tmp_path / "shared.db").close()
    ResultsStore(tmp_path / "shared.db").close()
    engine = create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert not set(ledger_metadata.tables) & set(results_metadata.tables)
    assert names == set(ledger_metadata.tables) | set(results_metadata.tables) | {LEDGER.version_table,
                                                                                    RESULTS.version_table}


def test_db_upgrade_refuses_a_ledger_a_station_holds(tmp_path, capsys):
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.hold("line-1")
    try:
        code, out, err = linegate_here(capsys, "db", "upgrade", "--ledger", str(tmp_path / "ledger.db"))
    finally:
        ledger.close()
    assert (code, out) == (2, "") and "station line-1" in err and err.count("\n") == 1


def test_db_upgrade_names_what_is_missing(tmp_path, capsys):
    assert linegate_here(capsys, "db", "upgrade", "--state-dir", str(tmp_path / "none")) == (
        2, "", f"linegate: error: {tmp_path / 'none'}: no ledger.db or results.db here (pass --state-dir, --ledger "
               "or --results)\n")
    assert linegate_here(capsys, "db", "current", "--ledger", str(tmp_path / "l.db")) == (
        2, "", f"linegate: error: {tmp_path / 'l.db'}: no ledger here\n")


def test_db_without_options_is_the_demos_state(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert linegate_here(capsys, "db", "current") == (
        2, "", "linegate: error: .linegate/demo: no ledger.db or results.db here (pass --state-dir, --ledger or "
               "--results)\n")
    ResultsStore(tmp_path / ".linegate" / "demo" / "results.db").close()
    code, out, _ = linegate_here(capsys, "db", "current")
    store = tmp_path / ".linegate" / "demo" / "results.db"
    assert code == 0 and out == f"results store {store}: revision {RESULTS.head} (head)\n"


def test_opening_a_store_at_head_does_not_import_alembic(tmp_path):
    ResultsStore(tmp_path / "results.db").close()
    Ledger(tmp_path / "ledger.db").close()
    code = ("import sys; from linegate.station.results.store import ResultsStore; "
            "from linegate.station.ledger.journal import Ledger; "
            f"ResultsStore({str(tmp_path / 'results.db')!r}).close(); Ledger({str(tmp_path / 'ledger.db')!r}).close(); "
            "print(sorted(m for m in sys.modules if m.startswith('alembic')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n", done.stderr


# -- an older database: a toy schema with two revisions, on the runner itself --------------------------
def _two_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Schema:
    package = tmp_path / "toy_revisions"
    (package / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for rev, down, body in (("toy_1", None, 'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))'),
                            ("toy_2", "toy_1", 'op.add_column("things", sa.Column("name", sa.String(20)))')):
        (package / "versions" / f"{rev}.py").write_text(textwrap.dedent(f"""\
            import sqlalchemy as sa
            from alembic import op
            revision, down_revision, branch_labels, depends_on = {rev!r}, {down!r}, None, None
            def upgrade():
                {body}
            """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return Schema(what="toy", option="toy", package="toy_revisions", version_table="alembic_version_toy",
                  head="toy_2", tables=frozenset({"things"}))


def _at_first_revision(url: str, toy: Schema) -> None:
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE alembic_version_toy (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO things (id) VALUES (7)"))
        conn.execute(text("INSERT INTO alembic_version_toy VALUES ('toy_1')"))
    engine.dispose()


def test_an_older_sqlite_file_is_upgraded_when_it_opens(tmp_path, monkeypatch):
    toy = _two_revisions(tmp_path, monkeypatch)
    url = f"sqlite:///{tmp_path / 'toy.db'}"
    _at_first_revision(url, toy)
    engine = open_engine(url)
    ensure(engine, toy, "toy.db")
    with engine.connect() as conn:
        assert revision_of(conn, toy) == ("toy_2",)
        assert conn.execute(text("SELECT id, name FROM things")).all() == [(7, None)]
    engine.dispose()


@needs_pg
def test_an_older_postgresql_schema_waits_for_db_upgrade(tmp_path, monkeypatch):
    toy = _two_revisions(tmp_path, monkeypatch)
    with pg_schema() as url:
        _at_first_revision(url, toy)
        engine = open_engine(url)
        with pytest.raises(SchemaOlder, match=r"^toy pg: its schema is revision toy_1, older than this linegate "
                                              r"\(toy_2\); run 'linegate db upgrade --toy URL' once, when every "
                                              r"station sharing it runs this linegate$"):
            ensure(engine, toy, "pg")
        assert describe(engine, toy) == ("revision toy_1, older than this linegate (toy_2): 'linegate db upgrade' "
                                         "brings it there")
        assert upgrade(engine, toy, "pg") == (("toy_1",), "toy_2")
        ensure(engine, toy, "pg")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, name FROM things")).all() == [(7, None)]
        engine.dispose()


# -- PostgreSQL: adopting, db upgrade without showing the password, stations opening at once -------------
@needs_pg
def test_db_upgrade_on_postgresql_adopts_databases_made_before_migrations(tmp_path, monkeypatch):
    monkeypatch.setenv("LINEGATE_LEDGER_KEY", "a" * 64)
    with pg_schema() as ledger_url, pg_schema() as results_url:
        with monkeypatch.context() as old:
            before_migrations(old)
            ledger = Ledger(ledger_url)
            fill_ledger(ledger)
            ledger.close()
            with ResultsStore(results_url) as store:
                store.write(make_record(1), run_dir=tmp_path)
        made = rows(ledger_url, ledger_metadata), rows(results_url, results_metadata)
        secret = ledger_url.replace("postgres@", "postgres:sekret@")
        done = linegate("db", "upgrade", "--ledger", secret, "--results", results_url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "sekret" not in done.stdout and "postgres:***@" in done.stdout
        assert done.stdout.splitlines()[0].endswith(f": no version table -> {LEDGER.head}")
        assert done.stdout.splitlines()[1].endswith(f": no version table -> {RESULTS.head}")
        adopted = rows(results_url, results_metadata)
        assert len(adopted.pop("store_identity")) == 1 and made[1].pop("store_identity") == []
        assert (rows(ledger_url, ledger_metadata), adopted) == made
        ledger = Ledger(ledger_url)
        assert all(ledger.secret(i) is not None for i in ledger.all())
        ledger.close()
        assert differences(ledger_url, LEDGER, ledger_metadata) == []
        assert differences(results_url, RESULTS, results_metadata) == []


@needs_pg
def test_stations_opening_an_empty_postgresql_store_at_once_all_get_it():
    with pg_schema() as url:
        errors: list[BaseException] = []

        def open_once() -> None:
            try:
                ResultsStore(url).close()
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=open_once) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and version(url, RESULTS) == (RESULTS.head,)
