"""What the ledger refuses, as types: the CLI turns each into one line and exit 2."""

from __future__ import annotations

from linegate.errors import BadInput


class LedgerError(BadInput):
    """The ledger cannot be opened or refused a transition. Names the ledger and the identity."""


class LedgerBusy(LedgerError):
    """Another station holds the ledger (SQLite) or this station name (PostgreSQL)."""


class LedgerCorrupt(LedgerError):
    """The SQLite file fails its integrity check."""


class IllegalMove(LedgerError):
    """A transition the state table does not allow, or an on-unit state without a unit."""


class LedgerSchemaNewer(LedgerError):
    """The ledger's schema is a revision this linegate does not know: a newer linegate made it."""


class LedgerGone(Exception):
    """The ledger's file was removed, emptied or replaced while the station ran: a station fault (exit 1), not
    bad input, so the unit in progress is ERROR and the station stops before journaling into nothing."""
