"""Real fixtures: an operator (or a robot handler) puts the next unit in the socket."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from linegate.plans.serial import SerialSpec, refusal
from linegate.station.engine.sources import UnitStart
from linegate.station.results.attempts import RetestPolicy, reason_problem

__all__ = ["OperatorUnits", "UnitStart"]

Ask = Callable[[str], str]  # shows a prompt, returns the line typed (EOFError: input ended)


class OperatorUnits:
    """``total`` units, or one per serial (``--sn``), loaded by hand.

    With a terminal the operator loads each unit and types or scans its serial (Enter alone: the next
    ``--sn`` serial, or none); a serial not of the plan's form is refused with the reason and asked again;
    a serial already tested in this run is tested again only when the operator confirms the retest; a
    unit over the plan's retest limit is refused ("send to rework") unless the operator gives the reason
    to test it anyway (recorded with ``operator``'s name).
    Without a terminal (a robot handler, CI) the station proceeds as soon as the previous unit is done.
    """

    def __init__(self, total: int | None, serials: Sequence[str] | None, rule: SerialSpec | None = None,
                 ask: Ask | None = None, say: Callable[[str], None] | None = None,
                 retest: RetestPolicy | None = None, operator: str = "terminal") -> None:
        self._serials = list(serials or ())
        self._total = len(self._serials) or total or 1
        self._index = 0
        self.rule = rule
        self._ask = ask or (input if sys.stdin.isatty() else None)
        self._say = say or (lambda text: print(text, flush=True))
        self.tested: set[str] = set()
        self.retest = retest
        self.operator = operator or "terminal"

    def next_unit(self, socket: str) -> UnitStart | None:
        if self._index >= self._total:
            return None
        given = self._serials[self._index] if self._serials else None
        serial = given
        if self._ask is not None:
            try:
                serial = self._serial_from_operator(socket, given)
            except EOFError:  # the operator's input ended: no more units
                self._total = self._index
                return None
        self._index += 1
        if serial:
            self.tested.add(serial)
        return UnitStart(socket=socket, index=self._index, serial=serial)

    def _serial_from_operator(self, socket: str, given: str | None) -> str | None:
        assert self._ask is not None
        default = f" [{given}]" if given else ""
        while True:
            typed = self._ask(f"Load a unit into socket {socket}, scan or type its serial{default} and press Enter "
                              "(Ctrl-C to stop): ").strip()
            serial = typed or given
            if serial is None:
                if self.rule is None:
                    return None
                self._say(f"socket {socket}: the plan needs each unit's serial ({self.rule.regex})")
                continue
            why = refusal(serial, self.rule)
            if why is not None:
                self._say(f"socket {socket}: refused: {why}; nothing tested")
                continue
            if self.retest is not None and (rework := self.retest.check(serial)) is not None:
                self._say(f"socket {socket}: refused: {rework.message()}")
                reason = self._ask(f"{serial}: override the retest limit? type the reason to test it anyway "
                                   "(Enter alone: no, it goes to rework): ").strip()
                if not reason:
                    continue
                if (problem := reason_problem(reason)) is not None:
                    self._say(f"socket {socket}: {problem}; not overridden")
                    continue
                self.retest.override(serial, self.operator, reason)
                return serial
            if serial in self.tested:
                again = self._ask(f"{serial} was already tested in this run: test it again? [y/N] ").strip().lower()
                if again not in ("y", "yes"):
                    continue
            return serial
