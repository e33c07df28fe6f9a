"""The results store's revisions (``versions/``) and how the runner knows them."""

from __future__ import annotations

from linegate.station.migrations.runner import Schema
from linegate.station.results.schema import metadata

SCHEMA = Schema(what="results store", option="results", package=__name__, version_table="alembic_version_results",
                head="results_0002", tables=frozenset(metadata.tables))
