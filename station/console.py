"""The console: a view of the event stream.

On a terminal, one line per socket (unit, step k/n and its name, elapsed, verdict) redrawn live,
with each finished unit printed above it. Elsewhere (CI, a log file) plain appended lines: one per
finished unit. Lines fit the console's width: below 100 columns a unit's line leaves out its MAC,
and the failure text is cut to what is left (the report has it whole).

With a central results store, the live view's last line is the sync's lag ("results → URL: 12 behind
(oldest 3 min)"); elsewhere a line is printed when the central store stops answering and when it is
caught up again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType

from linegate.station.events import Event, ResultsSync, StepStarted, UnitStarted, Verdict, WorkerDied
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

STYLE = {"PASS": "green", "FAIL": "red", "ERROR": "magenta", "ABORTED": "bright_black"}
REFRESH_PER_SECOND = 4
WIDE = 100  # columns from which a unit's line also shows its MAC


@dataclass
class _Socket:
    name: str
    index: int | None = None
    serial: str | None = None
    step: str = ""
    number: int = 0
    of: int = 0
    since: float | None = None
    verdict: str = ""


class LiveConsole:
    """An event sink; ``with`` it around the run. ``live=None`` redraws only on a terminal.

    The console is bound to the output it had when made: a unit's own output is captured while it
    runs (station/capture.py), the console's is not."""

    def __init__(self, console: Console, sockets: list[str], total: int | None = None,
                 live: bool | None = None) -> None:
        self.console = console
        self.total = total
        self.sockets = {name: _Socket(name) for name in sockets}
        self.show_socket = len(sockets) > 1
        self.results: ResultsSync | None = None  # the results sync's last word
        self._results_away = False
        self._live = Live(self, console=console, refresh_per_second=REFRESH_PER_SECOND, transient=True,
                          auto_refresh=True) if (console.is_terminal if live is None else live) else None

    def __enter__(self) -> LiveConsole:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()

    # -- the sink -----------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if isinstance(event, ResultsSync):
            self._results(event)
            return
        socket = self.sockets.setdefault(event.socket, _Socket(event.socket))
        if isinstance(event, UnitStarted):
            socket.index, socket.serial, socket.since, socket.verdict = event.index, event.serial, time.monotonic(), ""
            socket.step, socket.number, socket.of = "", 0, event.steps
        elif isinstance(event, StepStarted):
            socket.step, socket.number, socket.of = event.step, event.number, event.of
        elif isinstance(event, Verdict):
            socket.verdict = event.outcome
            socket.since = None
            self.console.print(self.unit_line(event))
        elif isinstance(event, WorkerDied):
            socket.step, socket.number, socket.since = "", 0, None
            line = Text(f"  socket {event.socket}: ")
            line.append(event.reason, style=STYLE["ERROR"])
            self.console.print(line)

    def _results(self, event: ResultsSync) -> None:
        """Live: kept for the next redraw. Plain: a line when the central store goes away, and when the
        sync has caught up after that."""
        self.results = event
        if self._live is not None:
            return
        away = bool(event.error)
        if away and not self._results_away:
            self._results_away = True
            self.console.print(self.results_line(event))
        elif not away and self._results_away and event.behind == 0:
            self._results_away = False
            self.console.print(self.results_line(event))

    @staticmethod
    def results_line(event: ResultsSync) -> Text:
        """The results sync's lag in one line: up to date, or how many units and how old, and why."""
        line = Text(f"  results → {event.target}: ")
        if event.behind == 0 and not event.error and not event.set_aside:
            line.append("up to date", style=STYLE["PASS"])
            return line
        if event.behind or not event.set_aside:
            oldest = f" (oldest {age(event.oldest_s)})" if event.oldest_s is not None else ""
            line.append(f"{event.behind} behind{oldest}", style="yellow")
        if event.set_aside:
            line.append(f"{'; ' if event.behind else ''}{event.set_aside} refused, set aside "
                        "('linegate results outbox' lists them)", style=STYLE["FAIL"])
        if event.error:
            line.append(f"; not answering: {event.error}", style=STYLE["FAIL"])
        return line

    # -- what is shown -------------------------------------------------------
    def unit_line(self, verdict: Verdict) -> Text:
        """One finished unit: number, socket, serial, MAC, verdict, the first failure (cut to fit)."""
        of = f"/{self.total}" if self.total else ""
        where = f"{verdict.socket} " if self.show_socket else ""
        mac = f"{verdict.mac or '-':<17} " if self.console.width >= WIDE else ""  # narrow: the failure needs room
        line = Text(f"  [{verdict.index:>3}{of}] {where}{verdict.serial or '-':<12} {mac}")
        line.append(f"{verdict.outcome:<7}", style=STYLE.get(verdict.outcome, ""))
        if verdict.failure:
            room = max(10, self.console.width - len(line) - 2)
            failure = verdict.failure if len(verdict.failure) <= room else verdict.failure[: room - 1] + "…"
            line.append(f"  {failure}")
        return line

    def __rich__(self) -> RenderableType:
        """The live part: one row per socket, its elapsed time as of this redraw; the results sync's lag."""
        table = Table(box=None, show_header=True, header_style="bold", expand=False, pad_edge=False)
        for column, width in (("socket", 8), ("unit", 14), ("step", None), ("elapsed", 8), ("verdict", 8)):
            table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=width)
        now = time.monotonic()
        for s in self.sockets.values():
            unit = f"{s.index} {s.serial or ''}".strip() if s.index is not None else "waiting"
            step = f"{s.number}/{s.of} {s.step}" if s.number else ""
            elapsed = f"{now - s.since:6.1f} s" if s.since is not None else ""
            table.add_row(s.name, unit, step, elapsed, Text(s.verdict, style=STYLE.get(s.verdict, "")))
        return table if self.results is None else Group(table, self.results_line(self.results))


def age(seconds: float | None) -> str:
    """A duration as the lag shows it: seconds under a minute, minutes under two hours, then hours."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{int(seconds)} s"
    return f"{int(seconds // 60)} min" if seconds < 7200 else f"{int(seconds // 3600)} h"
