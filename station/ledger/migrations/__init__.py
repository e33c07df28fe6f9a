"""The ledger's revisions (``versions/``) and how the runner knows them."""

from __future__ import annotations

from linegate.station.ledger.schema import metadata
from linegate.station.migrations.runner import Schema

SCHEMA = Schema(what="ledger", option="ledger", package=__name__, version_table="alembic_version_ledger",
                head="ledger_0001", tables=frozenset(metadata.tables))
