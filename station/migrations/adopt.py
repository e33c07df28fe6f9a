"""What a first revision uses instead of ``op.create_table``/``op.create_index``: it also adopts a
database made before migrations (by ``metadata.create_all``), creating only what is missing there.

A table found under the same name must have every column the revision gives it; otherwise it is some
other schema's table (the name taken by another program in a shared PostgreSQL schema) and the
database is refused rather than stamped with a revision it does not match.
"""

from __future__ import annotations

from typing import Any

from alembic import op
from linegate.station.migrations.runner import SchemaError
from sqlalchemy import Column, inspect


def create_table(name: str, *columns_and_constraints: Any, **kw: Any) -> None:
    existing = inspect(op.get_bind())
    if not existing.has_table(name):
        op.create_table(name, *columns_and_constraints, **kw)
        return
    found = {c["name"] for c in existing.get_columns(name)}
    missing = [c.name for c in columns_and_constraints if isinstance(c, Column) and c.name not in found]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise SchemaError(f"its table {name} is not this one's (it has no column {', '.join(missing[:3])}{more}): "
                          "give it a database or schema of its own")


def create_index(name: str, table: str, columns: list[str], **kw: Any) -> None:
    if name not in {i["name"] for i in inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, **kw)
