"""A PostgreSQL schema of its own for a test, when a server answers on 127.0.0.1:5432 (trust auth, db ``test``)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_up() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of a fresh schema, dropped afterwards."""
    import sqlalchemy

    schema = f"lg_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(PG)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
