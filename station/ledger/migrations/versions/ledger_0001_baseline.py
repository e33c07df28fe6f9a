"""The ledger as linegate created it before migrations: identities, reserve calls, units, meta.

Revision ID: ledger_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from linegate.station.migrations.adopt import create_index, create_table

revision = "ledger_0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

# The states in which an identity is on a unit (states.ON_UNIT when this revision was written).
ON_UNIT = sa.text("state IN ('assigned', 'flashed', 'committing', 'committed', 'needs_attention')")


def upgrade() -> None:
    create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("unit_mac", sa.String(32)),
        sa.Column("unit_serial", sa.String(64)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("secret", sa.LargeBinary),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("queued", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("commit_summary", sa.JSON),
        sa.Column("record_path", sa.String(500)),
        sa.Column("request_id", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("service", "identity", name="one_row_per_identity"),
    )
    create_index("one_identity_per_unit", "identities", ["service", "unit_mac"], unique=True,
                 sqlite_where=ON_UNIT, postgresql_where=ON_UNIT)
    create_index("pool_order", "identities", ["service", "state", "id"])
    create_table(
        "reserve_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    create_table(
        "units",
        sa.Column("mac", sa.String(32), primary_key=True),
        sa.Column("serial", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("record_id", sa.String(64)),
        sa.Column("tests", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "units", "reserve_calls", "identities"):
        op.drop_table(table)
