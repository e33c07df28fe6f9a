"""The operator's questions the sockets' workers wait on, and their answers on the way back.

A worker's station test asks (a ``prompt`` event); the panel (``answer`` from its HTTP thread) or the
terminal (a thread of its own) answers; the answer is checked here, where the question is known, so the
operator sees a refusal at once, and the supervisor's main thread hands it to the worker, which tells
``prompt_answered``. With nobody to ask (no panel, no terminal) the worker is told so at once.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Pipe

from linegate.fixtures.operator import Question, refusal
from linegate.station.engine.pipe import AnswerFor, InboxMessage, PromptReply
from linegate.station.events import Prompt

NOBODY = "nobody to answer: no terminal and no panel (run with --ui)"


def question_of(prompt: Prompt) -> Question:
    return Question(prompt.ask, prompt.text, prompt.options, prompt.low, prompt.high, prompt.units, prompt.regex,
                    prompt.image, prompt.timeout_s, prompt.prompt_id)


class Inbox:
    """Messages to the supervisor's main thread from any other (the panel's, the terminal's): it waits on
    ``conn`` with its workers' pipes."""

    def __init__(self) -> None:
        self.conn, self._post = Pipe(duplex=False)
        self._lock = threading.Lock()

    def post(self, message: InboxMessage) -> None:
        with self._lock:
            try:
                self._post.send(message)
            except OSError:
                pass  # the run is over

    def take(self) -> InboxMessage:
        message: InboxMessage = self.conn.recv()
        return message

    def close(self) -> None:
        with self._lock:
            for conn in (self.conn, self._post):
                conn.close()


class OpenPrompts:
    """Questions asked and not yet answered. ``answer`` may be called from any thread; accepted answers go to
    ``inbox`` as an ``AnswerFor`` (station/engine/pipe.py) for the supervisor's main thread."""

    def __init__(self, inbox: Inbox) -> None:
        self._open: dict[str, Prompt] = {}
        self._lock = threading.Lock()
        self.inbox = inbox

    def opened(self, prompt: Prompt) -> None:
        with self._lock:
            self._open[prompt.prompt_id] = prompt

    def closed(self, prompt_id: str) -> None:
        with self._lock:
            self._open.pop(prompt_id, None)

    def open(self) -> list[Prompt]:
        with self._lock:
            return list(self._open.values())

    def answer(self, prompt_id: str, value: str, who: str) -> tuple[bool, str]:
        """Accepted (sent on to the worker), or refused with the reason, in one sentence."""
        with self._lock:
            prompt = self._open.pop(prompt_id, None)
            if prompt is None:
                return False, "this question is no longer open (answered, timed out or its unit ended)"
            why = refusal(question_of(prompt), value)
            if why is not None:
                self._open[prompt_id] = prompt
                return False, why
            self.inbox.post(AnswerFor(prompt.socket, PromptReply(prompt_id, value.strip(), who)))
        return True, ""

    def nobody(self, prompt: Prompt) -> None:
        """Nobody can answer: the worker is told at once (its station test fails saying so)."""
        self.closed(prompt.prompt_id)
        self.inbox.post(AnswerFor(prompt.socket, PromptReply(prompt.prompt_id, None, NOBODY)))


class TerminalPrompts:
    """Questions asked at the supervisor's terminal, one at a time, on a thread of its own."""

    def __init__(self, prompts: OpenPrompts, ask: Callable[[str], str] = input) -> None:
        self.prompts = prompts
        self._ask = ask
        self._queue: queue.Queue[Prompt] = queue.Queue()
        threading.Thread(target=self._run, name="terminal-prompts", daemon=True).start()

    @staticmethod
    def available() -> bool:
        try:
            return sys.stdin is not None and sys.stdin.isatty()
        except (OSError, ValueError):
            return False

    def put(self, prompt: Prompt) -> None:
        self._queue.put(prompt)

    def _run(self) -> None:
        while True:
            prompt = self._queue.get()
            while prompt.prompt_id in {p.prompt_id for p in self.prompts.open()}:
                try:
                    value = self._ask(f"socket {prompt.socket}, unit {prompt.index}: {prompt.text} "
                                      f"{'/'.join(prompt.options)} ")
                except (EOFError, OSError):
                    return
                ok, why = self.prompts.answer(prompt.prompt_id, value, "terminal")
                if not ok:
                    print(f"  {why}", flush=True)
