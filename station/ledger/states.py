"""The states an identity moves through, and the moves the ledger allows between them.

The table is derived from every ``Ledger.move`` in the gate, the pool, recovery and the drain:

flash-then-commit (YoSmart, Ayla, EnOS DPS)
  reserved|released ──take──► assigned ──written, read back──► flashed ──► committing ──► committed
  flashed ──► flashed              a commit queued for the drain (by the gate or by recovery)
  assigned|flashed ──► released    the identity was erased from a failing unit (or never reached it)
  assigned|flashed ──► quarantined the erase was not confirmed
  committing ──► flashed           the service was away: queued (or left for a later start)
  committing ──► needs_attention   the outcome stays unknown, or the service refused
commit-then-flash (EnOS MQTT): born ``committing``; released ──► committing re-registers a key that
  was not registered before; committing ──► committed | needs_attention | released (not registered).
"""

from __future__ import annotations

from enum import StrEnum


class IdentityState(StrEnum):
    RESERVED = "reserved"
    ASSIGNED = "assigned"
    FLASHED = "flashed"
    COMMITTING = "committing"
    COMMITTED = "committed"
    RELEASED = "released"
    QUARANTINED = "quarantined"
    NEEDS_ATTENTION = "needs_attention"


RESERVED = IdentityState.RESERVED
ASSIGNED = IdentityState.ASSIGNED
FLASHED = IdentityState.FLASHED
COMMITTING = IdentityState.COMMITTING
COMMITTED = IdentityState.COMMITTED
RELEASED = IdentityState.RELEASED
QUARANTINED = IdentityState.QUARANTINED
NEEDS_ATTENTION = IdentityState.NEEDS_ATTENTION
STATES = tuple(IdentityState)

# States in which an identity belongs to a unit: one per unit and service, and never without a unit.
ON_UNIT = (ASSIGNED, FLASHED, COMMITTING, COMMITTED, NEEDS_ATTENTION)
# States in which the pool hands an identity out.
POOLED = (RESERVED, RELEASED)
# States a row may be inserted in: reserved by the pool, committing for a commit-then-flash service.
BORN = (RESERVED, COMMITTING)

TRANSITIONS: dict[IdentityState, frozenset[IdentityState]] = {
    RESERVED: frozenset({ASSIGNED}),
    RELEASED: frozenset({ASSIGNED, COMMITTING}),
    ASSIGNED: frozenset({FLASHED, RELEASED, QUARANTINED}),
    FLASHED: frozenset({FLASHED, COMMITTING, RELEASED, QUARANTINED}),
    COMMITTING: frozenset({COMMITTED, FLASHED, NEEDS_ATTENTION, RELEASED}),
    COMMITTED: frozenset(),
    QUARANTINED: frozenset(),
    NEEDS_ATTENTION: frozenset(),
}


def allowed(source: str, target: str) -> bool:
    """Whether the table allows ``source`` → ``target`` (unknown states are never allowed)."""
    try:
        return IdentityState(target) in TRANSITIONS[IdentityState(source)]
    except ValueError:
        return False
