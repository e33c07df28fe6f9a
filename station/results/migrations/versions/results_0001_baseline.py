"""The results store as linegate created it before migrations: runs, units and their rows, sync state.

Revision ID: results_0001
Revises: (none)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from linegate.station.migrations.adopt import create_index, create_table

revision = "results_0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def _record_id() -> sa.Column[str]:
    return sa.Column("record_id", sa.String(64), sa.ForeignKey("unit_tests.record_id", ondelete="CASCADE"),
                     primary_key=True)


def upgrade() -> None:
    create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("station", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("run_dir", sa.Text, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("linegate_version", sa.Text, nullable=False),
    )
    create_table(
        "unit_tests",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("unit_key", sa.Text, nullable=False),
        sa.Column("serial", sa.Text, nullable=False),
        sa.Column("mac", sa.Text, nullable=False),
        sa.Column("station", sa.Text, nullable=False),
        sa.Column("socket", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("fixture", sa.Text, nullable=False),
        sa.Column("plan_name", sa.Text, nullable=False),
        sa.Column("plan_version", sa.Text, nullable=False),
        sa.Column("plan_sha256", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("failure_step", sa.Text),
        sa.Column("failure_measurement", sa.Text),
        sa.Column("failure_message", sa.Text),
        sa.Column("failure_key", sa.Text),
        sa.Column("retest_override", sa.Text),
        sa.Column("record_path", sa.Text, nullable=False),
        sa.Column("report_path", sa.Text, nullable=False),
        sa.Column("linegate_version", sa.Text, nullable=False),
    )
    for name, columns in (("unit_tests_serial", ["serial", "started_at"]), ("unit_tests_mac", ["mac", "started_at"]),
                          ("unit_tests_unit_key", ["unit_key", "started_at"]),
                          ("unit_tests_station", ["station", "started_at"]),
                          ("unit_tests_socket", ["station", "socket", "started_at"]),
                          ("unit_tests_plan", ["plan_sha256", "started_at"]), ("unit_tests_started", ["started_at"]),
                          ("unit_tests_revision", ["revision"])):
        create_index(name, "unit_tests", columns)
    create_table(
        "steps",
        _record_id(),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("test", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("lock_wait_s", sa.Float, nullable=False),
    )
    create_table(
        "measurements",
        _record_id(),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("step_idx", sa.Integer, nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("text", sa.Text),
        sa.Column("units", sa.Text, nullable=False),
        sa.Column("low", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("limit", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("cell", sa.Integer),
    )
    create_index("measurements_lot", "measurements",
                 ["step", "name", "low", "high", "cell", "value", "status", "units", "record_id"])
    create_table(
        "provisioning",
        _record_id(),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("identity", sa.Text, nullable=False),
        sa.Column("commit_status", sa.String(24), nullable=False),
        sa.Column("readback_ok", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    create_index("provisioning_identity", "provisioning", ["service", "identity"])
    create_table(
        "attachments",
        _record_id(),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("mime_type", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    create_table(
        "sync_state",
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("synced_at", TIME),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("store_id", sa.String(36)),
    )
    create_table(
        "store_identity",
        sa.Column("store_id", sa.String(36), primary_key=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    identity = sa.table("store_identity", sa.column("store_id"), sa.column("created_at"))
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(identity)).scalar() == 0:
        op.execute(identity.insert().values(store_id=str(uuid.uuid4()), created_at=datetime.now(UTC)))


def downgrade() -> None:
    for table in ("store_identity", "sync_state", "attachments", "provisioning", "measurements", "steps",
                  "unit_tests", "runs"):
        op.drop_table(table)
