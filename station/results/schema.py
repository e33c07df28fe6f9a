"""The results store's tables (SQLAlchemy Core).

Free text (names, serials, versions, paths, whatever a plan, a station test or a service gives) is
unbounded ``Text`` on every database, so SQLite and PostgreSQL take the same rows; only what linegate
makes itself (ids, hashes, enums) has a length, and the record model enforces the same one.

One row per unit test in ``unit_tests`` (keyed by the record's ``record_id``), its steps, measurements,
provisioning and attachments' metadata beside it. The unit's JSON record and HTML report stay the
artifacts; the rows are what QA queries across runs and stations. ``revision`` orders the local changes
for the sync to the central store (a rewrite after a late commit gets a new one).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),  # uuid5 of host and run folder: every process agrees
    Column("station", Text, nullable=False),
    Column("host", Text, nullable=False, default=""),
    Column("run_dir", Text, nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("linegate_version", Text, nullable=False, default=""),
)

units = Table(
    "unit_tests",
    metadata,
    Column("record_id", String(64), primary_key=True),
    Column("run_id", String(64), ForeignKey("runs.run_id"), nullable=False),
    Column("revision", BigInteger, nullable=False, default=0),  # local order of writes (store.py), for the sync
    Column("unit_key", Text, nullable=False),  # the MAC, else the serial: one physical unit
    Column("serial", Text, nullable=False, default=""),
    Column("mac", Text, nullable=False, default=""),
    Column("station", Text, nullable=False),
    Column("socket", Text, nullable=False, default=""),
    Column("host", Text, nullable=False, default=""),
    Column("operator", Text, nullable=False, default=""),
    Column("fixture", Text, nullable=False, default=""),
    Column("plan_name", Text, nullable=False),
    Column("plan_version", Text, nullable=False),
    Column("plan_sha256", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("failure_step", Text),
    Column("failure_measurement", Text),
    Column("failure_message", Text),
    Column("failure_key", Text),  # the Pareto's key: step and measurement, no per-unit values
    Column("retest_override", Text),  # who let a unit past the retest limit, and why
    Column("record_path", Text, nullable=False, default=""),
    Column("report_path", Text, nullable=False, default=""),
    Column("linegate_version", Text, nullable=False, default=""),
    Index("unit_tests_serial", "serial", "started_at"),
    Index("unit_tests_mac", "mac", "started_at"),
    Index("unit_tests_unit_key", "unit_key", "started_at"),
    Index("unit_tests_station", "station", "started_at"),
    Index("unit_tests_socket", "station", "socket", "started_at"),
    Index("unit_tests_plan", "plan_sha256", "started_at"),
    Index("unit_tests_started", "started_at"),
    Index("unit_tests_revision", "revision"),
)

steps = Table(
    "steps",
    metadata,
    Column("record_id", String(64), ForeignKey("unit_tests.record_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("test", Text, nullable=False, default=""),
    Column("outcome", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("lock_wait_s", Float, nullable=False, default=0.0),
)

measurements = Table(
    "measurements",
    metadata,
    Column("record_id", String(64), ForeignKey("unit_tests.record_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),  # in the unit's order, over all its steps
    Column("step_idx", Integer, nullable=False),
    Column("step", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Float),  # numbers (not booleans); the others in ``text``
    Column("text", Text),
    Column("units", Text, nullable=False, default=""),
    Column("low", Float),
    Column("high", Float),
    Column("limit", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("cell", Integer),  # the value's grid cell between its two limits (reports.histogram.grid_cell)
    # The lot's one pass: grouped by measurement, limits and cell in this index's order, read from it alone
    Index("measurements_lot", "step", "name", "low", "high", "cell", "value", "status", "units", "record_id"),
)

provisioning = Table(
    "provisioning",
    metadata,
    Column("record_id", String(64), ForeignKey("unit_tests.record_id", ondelete="CASCADE"), primary_key=True),
    Column("service", Text, nullable=False),
    Column("identity", Text, nullable=False, default=""),  # DSN / deviceId: never a key or secret
    Column("commit_status", String(24), nullable=False),
    Column("readback_ok", Boolean, nullable=False, default=False),
    Column("reason", Text, nullable=False, default=""),
    Column("code", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Index("provisioning_identity", "service", "identity"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("record_id", String(64), ForeignKey("unit_tests.record_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("mime_type", Text, nullable=False),
    Column("size", Integer, nullable=False),  # characters of its content in the record (the content is not here)
)

sync_state = Table(  # local store only: how far the central store has what this one holds
    "sync_state",
    metadata,
    Column("target", Text, primary_key=True),  # the central URL without its password
    Column("revision", BigInteger, nullable=False, default=0),
    Column("synced_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, default=""),
    Column("store_id", String(36)),  # the central store's identity when it was last reached
)

set_aside = Table(  # local store only: units a central store refused for what they hold, kept out of the batches
    "outbox_set_aside",
    metadata,
    Column("target", Text, primary_key=True),  # as sync_state's
    Column("record_id", String(64), primary_key=True),
    Column("revision", BigInteger, nullable=False),  # the version refused: a later rewrite is sent again
    Column("reason", Text, nullable=False),  # the central store's first line, password-free
    Column("set_aside_at", DateTime(timezone=True), nullable=False),
)

store_identity = Table(  # one row, made with the database: a store dropped and made again is another store
    "store_identity",
    metadata,
    Column("store_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

CHILDREN = (steps, measurements, provisioning, attachments)
