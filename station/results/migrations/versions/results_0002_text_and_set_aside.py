"""Free text unbounded (a 33-character unit refused by PostgreSQL's VARCHAR(32) held up a station's whole
outbox, while SQLite took it), and the outbox's units set aside by a central store that refused them.

A unit's local revision is BIGINT: the store numbers its writes from the clock (microseconds), so a
store rebuilt after a loss numbers its writes past the lost one's, and the central store's "a later
revision wins" still holds for them.

Revision ID: results_0002
Revises: results_0001

PostgreSQL changes VARCHAR to TEXT in place (binary-compatible: no rewrite, no index rebuild), but
``revision`` INTEGER to BIGINT is not: PostgreSQL rewrites ``unit_tests`` under an exclusive lock
(measured ~18 s per million unit rows), so a large central store is upgraded between shifts. SQLite
has no lengths to enforce but records the declared type, so its tables are copied once (batch mode;
measured ~26 s for 200,000 units).
results_0001 itself now makes these types, so a new store does nothing here; a store made by an older
linegate at results_0001 is changed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from linegate.station.migrations.adopt import create_table

revision = "results_0002"
down_revision: str | None = "results_0001"
branch_labels = None
depends_on = None

WIDENED = {  # table -> {column: its VARCHAR length at results_0001}
    "runs": {"station": 128, "host": 255, "run_dir": 1000, "linegate_version": 32},
    "unit_tests": {"unit_key": 128, "serial": 128, "mac": 64, "station": 128, "socket": 64, "host": 255,
                   "operator": 128, "fixture": 255, "plan_name": 255, "plan_version": 64, "failure_step": 255,
                   "failure_measurement": 255, "failure_key": 255, "record_path": 1000, "report_path": 1000,
                   "linegate_version": 32},
    "steps": {"name": 255, "test": 500},
    "measurements": {"step": 255, "name": 255, "units": 32, "limit": 255},
    "provisioning": {"service": 32, "identity": 255, "code": 64},
    "attachments": {"name": 255, "mime_type": 128},
    "sync_state": {"target": 500},
}


REVISIONS = {"unit_tests", "sync_state"}  # their ``revision``: INTEGER to BIGINT (store.py: microseconds)


def _retype(to: type[sa.types.TypeEngine[Any]] | None) -> None:
    """Only the columns not yet of the wanted type: a store results_0001 made since this revision exists
    already has them (no table copied, no page written), one made before gets them here."""
    inspector = sa.inspect(op.get_bind())
    for table, columns in WIDENED.items():
        found = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        bounded = {c for c in columns if getattr(found[c], "length", None) is not None}  # VARCHAR(n), not TEXT
        widen = sorted(bounded if to is None else set(columns) - bounded)
        big = isinstance(found["revision"], sa.BigInteger) if table in REVISIONS else None
        revision = big is not None and big == (to is not None)
        if not widen and not revision:
            continue
        with op.batch_alter_table(table) as batch:
            for column in widen:
                length = columns[column]
                batch.alter_column(column, type_=sa.Text() if to is None else sa.String(length),
                                   existing_type=sa.String(length) if to is None else sa.Text())
            if revision:
                batch.alter_column("revision", type_=sa.BigInteger() if to is None else sa.Integer(),
                                   existing_type=sa.Integer() if to is None else sa.BigInteger(),
                                   existing_nullable=False)


def upgrade() -> None:
    _retype(None)
    create_table(
        "outbox_set_aside",
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_set_aside")
    _retype(sa.String)
