"""The ledger's tables (SQLAlchemy Core): identities, reserve calls and units."""

from __future__ import annotations

# The states live in ``states``; their names stay importable from here for the callers that always did.
from linegate.station.ledger.states import (
    ASSIGNED,
    COMMITTED,
    COMMITTING,
    FLASHED,
    NEEDS_ATTENTION,
    ON_UNIT,
    QUARANTINED,
    RELEASED,
    RESERVED,
    STATES,
    IdentityState,
)
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

metadata = MetaData()

_on_unit_sql = text("state IN ({})".format(", ".join(f"'{s.value}'" for s in ON_UNIT)))

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(32), nullable=False),
    Column("identity", String(128), nullable=False),
    Column("state", String(24), nullable=False),
    Column("unit_mac", String(32)),
    Column("unit_serial", String(64)),
    Column("payload", JSON, nullable=False, default=dict),
    Column("secret", LargeBinary),
    Column("reason", String(500), nullable=False, default=""),
    Column("queued", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("commit_summary", JSON),
    Column("record_path", String(500)),
    Column("request_id", Integer),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("service", "identity", name="one_row_per_identity"),
    Index("one_identity_per_unit", "service", "unit_mac", unique=True,
          sqlite_where=_on_unit_sql, postgresql_where=_on_unit_sql),
    Index("pool_order", "service", "state", "id"),
)

requests = Table(
    "reserve_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(32), nullable=False),
    Column("count", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # open → done | lost
    Column("reason", String(500), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("mac", String(32), primary_key=True),
    Column("serial", String(64)),
    Column("outcome", String(16)),
    Column("record_id", String(64)),
    Column("tests", Integer, nullable=False, default=0),
    Column("updated_at", Float, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

__all__ = ["ASSIGNED", "COMMITTED", "COMMITTING", "FLASHED", "NEEDS_ATTENTION", "ON_UNIT", "QUARANTINED",
           "RELEASED", "RESERVED", "STATES", "IdentityState", "identities", "meta", "metadata", "requests", "units"]
