"""What an operator's screen can do to a running station, from any thread: answer a question, stop a
socket or the station, say who is at the station. Bound to the supervisor when the run starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linegate.station.engine.supervisor import Supervisor

NOT_RUNNING = "the station is not running"


class StationControls:
    def __init__(self, operator: str | None = None) -> None:
        self._supervisor: Supervisor | None = None
        self.operator = operator

    def bind(self, supervisor: Supervisor) -> None:
        supervisor.panel = True
        supervisor.operator = self.operator
        self._supervisor = supervisor

    def answer(self, prompt_id: str, value: str) -> tuple[bool, str]:
        if self._supervisor is None:
            return False, NOT_RUNNING
        return self._supervisor.prompts.answer(prompt_id, value, self.operator or "panel")

    def stop(self, socket: str | None = None) -> tuple[bool, str]:
        if self._supervisor is None:
            return False, NOT_RUNNING
        return self._supervisor.request_stop(socket)

    def set_operator(self, name: str) -> tuple[bool, str]:
        name = " ".join(name.split())
        if not name or len(name) > 64 or not name.isprintable():
            return False, "give a name of 1 to 64 printable characters"
        self.operator = name
        if self._supervisor is not None:
            self._supervisor.operator = name  # read by the main thread when it hands out the next unit
        return True, ""

    def cloud_ok(self) -> bool | None:
        """Whether the provisioning service answered the pool's last refill (None: nothing to tell yet)."""
        supervisor = self._supervisor
        prov = supervisor.provisioning if supervisor is not None else None
        if prov is None or prov.pool is None:
            return None
        return not prov.pool.last_error
