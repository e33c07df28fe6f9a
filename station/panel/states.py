"""A socket's state as the operator panel shows it, with the transitions the event stream allows.

The panel is a view: the station is the truth. A transition the table does not allow raises
``IllegalTransition``; the hub logs it (one line) and follows the station anyway (see hub.py).
"""

from __future__ import annotations

from enum import StrEnum


class SocketState(StrEnum):
    STARTING = "starting"  # its worker is starting: the station takes no scan for it yet
    WAITING = "waiting"  # ready: the station takes a scan for it now (its worker asked for its unit)
    CLOSED = "closed"  # the station takes no more units in it (stopping, or all units tested)
    TESTING = "testing"  # a unit is in the socket
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    OUT_OF_SERVICE = "out_of_service"  # its worker died; back to waiting when a worker starts again


VERDICTS = frozenset({SocketState.PASS, SocketState.FAIL, SocketState.ERROR, SocketState.ABORTED})

_NEXT_UNIT = frozenset({SocketState.WAITING, SocketState.TESTING, SocketState.CLOSED, SocketState.OUT_OF_SERVICE})

TRANSITIONS: dict[SocketState, frozenset[SocketState]] = {
    SocketState.STARTING: _NEXT_UNIT | VERDICTS,  # a verdict: a unit lost before its first event
    SocketState.WAITING: frozenset({SocketState.TESTING, SocketState.CLOSED, SocketState.OUT_OF_SERVICE, *VERDICTS}),
    SocketState.TESTING: frozenset({SocketState.OUT_OF_SERVICE, *VERDICTS}),
    **{v: _NEXT_UNIT | VERDICTS for v in VERDICTS},
    SocketState.CLOSED: frozenset({SocketState.OUT_OF_SERVICE, SocketState.CLOSED}),
    SocketState.OUT_OF_SERVICE: frozenset({SocketState.STARTING, SocketState.OUT_OF_SERVICE}),
}


class IllegalTransition(Exception):
    """One line: the socket, the states and the event that asked for the move."""


def verdict_state(outcome: str) -> SocketState:
    """The state of a verdict's outcome (PASS/FAIL/ERROR/ABORTED); an unknown outcome is an ERROR."""
    try:
        state = SocketState(outcome)
    except ValueError:
        return SocketState.ERROR
    return state if state in VERDICTS else SocketState.ERROR


def check(socket: str, now: SocketState, to: SocketState, why: str) -> None:
    if to not in TRANSITIONS[now]:
        raise IllegalTransition(f"panel: socket {socket} cannot go from {now} to {to} on {why}")
