"""Alembic manages the ledger's and the results store's schemas, each with its own version table.

``ledger/versions`` and ``results/versions`` hold the revisions; ``runner`` brings a database to
the code's head when it opens (see docs/ledger.md, "Migrations", for what is automatic where).
"""
