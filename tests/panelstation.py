"""A scripted station behind the panel: it takes scans and answers as a supervisor would and sends each unit's
real events from a thread per socket (a worker's order), with a prompt or a hold where a test asks for one."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from linegate.station.events import Prompt, StepFinished, StepStarted, UnitWanted
from linegate.station.panel import PanelHub
from panelkit import PLAN, Step, step_events, unit_begin, unit_end

SERIAL = re.compile(r"^SN-[0-9]{6}$")


class ScriptedStation:
    def __init__(self, hub: PanelHub, run: Path, fails: dict[str, str] | None = None,
                 ask: dict[str, str] | None = None, hold: dict[str, str] | None = None, step_s: float = 0.05,
                 image: str | None = None) -> None:
        self.hub, self.run, self.step_s, self.image = hub, run, step_s, image
        self.fails, self.ask, self.hold = fails or {}, ask or {}, hold or {}
        self.scans: list[tuple[str, str]] = []
        self.answers: list[tuple[str, str]] = []
        self.units: dict[str, str] = {}
        self._answered = threading.Event()
        self._released = {socket: threading.Event() for socket in self.hold}
        self._threads: list[threading.Thread] = []
        self._index = 0
        hub.on_serial, hub.on_answer = self.on_serial, self.on_answer
        for socket in hub.sockets():  # a scripted worker per socket, asking for its first unit
            hub(UnitWanted(socket))

    def on_serial(self, socket: str, serial: str) -> tuple[bool, str]:
        self.scans.append((socket, serial))
        if not SERIAL.match(serial):
            return False, f"does not match {SERIAL.pattern}"
        self._index += 1
        self.units[socket] = serial
        thread = threading.Thread(target=self._unit, args=(socket, self._index, serial), daemon=True)
        self._threads.append(thread)
        thread.start()
        return True, ""

    def on_answer(self, prompt_id: str, answer: str) -> tuple[bool, str]:
        self.answers.append((prompt_id, answer))
        self._answered.set()
        return True, ""

    def release(self, socket: str) -> None:
        self._released[socket].set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=20)

    def _unit(self, socket: str, index: int, serial: str) -> None:
        time.sleep(self.step_s)
        self.hub(unit_begin(socket, index, serial))
        failed = ""
        for number, step in enumerate(PLAN, 1):
            if failed:
                step = Step(step.name, outcome="skipped", duration_s=0.0)
            elif step.name == self.fails.get(serial):
                low = [("tx_dbm", 12.1, "dBm", "16 ≤ x ≤ 20 dBm", "fail")]
                step = Step(step.name, outcome="fail", measurements=low, duration_s=self.step_s,
                            message="tx_dbm 12.1 dBm is below 16 dBm")
                failed = f"Step {step.name} failed: tx_dbm 12.1 dBm is below its limit 16 dBm."
            if step.name in (self.ask.get(socket), self.hold.get(socket)):
                self._paused(socket, index, step, number)
                continue
            for event in step_events(socket, index, Step(step.name, step.outcome, step.measurements, self.step_s,
                                                          step.message), number):
                time.sleep(self.step_s / 3)
                self.hub(event)
        record = self.run / f"unit-{index}.json"
        (self.run / f"unit-{index}.html").write_text(f"<h1>unit {index}</h1>")
        for event in unit_end(socket, index, serial, "FAIL" if failed else "PASS", failed, record):
            self.hub(event)
        self.hub(UnitWanted(socket))  # and for the next one

    def _paused(self, socket: str, index: int, step: Step, number: int) -> None:
        """The step starts, then waits for the operator's answer or the test's release."""
        self.hub(StepStarted(socket, index=index, step=step.name, number=number, of=len(PLAN)))
        if step.name == self.ask.get(socket):
            self.hub(Prompt(socket, index=index, prompt_id=f"p-{socket}-{index}", text="Is the green LED on?",
                            options=("yes", "no"), image=self.image))
            self._answered.wait(20)
        else:
            self._released[socket].wait(20)
        for event in step_events(socket, index, step, number)[1:]:
            self.hub(event)
        if not isinstance(event, StepFinished):
            raise AssertionError("a step's events end with step_finished")
