"""The results sync's lag as the console and the panel show it."""

from __future__ import annotations

import io
import json
import threading

from linegate.station.console import LiveConsole, age
from linegate.station.events import ResultsSync, Verdict, serialized
from linegate.station.panel import PanelHub
from linegate.station.panel.i18n import text
from rich.console import Console

TARGET = "postgresql+psycopg://station:***@db/line"
AWAY = ResultsSync("", target=TARGET, behind=12, oldest_s=185.0, reachable=False,
                   error="OperationalError: connection refused")
CATCHING_UP = ResultsSync("", target=TARGET, behind=3, oldest_s=20.0, reachable=True)
UP_TO_DATE = ResultsSync("", target=TARGET, behind=0, oldest_s=None, reachable=True)


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, force_terminal=terminal, color_system=None, highlight=False), out


def test_plain_lines_only_when_the_central_store_goes_away_and_when_caught_up_after():
    console, out = _console(terminal=False)
    view = LiveConsole(console, ["A", "B"], total=20)
    with view:
        view(UP_TO_DATE)
        view(AWAY)
        view(AWAY)
        view(CATCHING_UP)
        view(UP_TO_DATE)
        view(UP_TO_DATE)
    assert out.getvalue().splitlines() == [
        f"  results → {TARGET}: 12 behind (oldest 3 min); not answering: OperationalError: connection refused",
        f"  results → {TARGET}: up to date",
    ]
    assert "A" in view.sockets and "" not in view.sockets  # the station's event makes no socket row


def test_the_live_view_shows_the_lag_under_the_sockets():
    console, _ = _console(terminal=True)
    view = LiveConsole(console, ["A"], live=False)
    view(AWAY)
    with console.capture() as captured:
        console.print(view)
    assert f"results → {TARGET}: 12 behind (oldest 3 min); not answering" in captured.get()
    view(UP_TO_DATE)
    with console.capture() as captured:
        console.print(view)
    assert captured.get().rstrip().endswith(f"results → {TARGET}: up to date")


def test_ages_read_as_seconds_minutes_hours():
    assert [age(s) for s in (None, 5.9, 185, 7199, 7200 * 3)] == ["-", "5 s", "3 min", "119 min", "6 h"]


def test_the_panel_header_carries_the_lag_and_keeps_it_across_status_updates():
    hub = PanelHub("line-3", "p", "1", "0" * 64, ["A"])
    published: list[str] = []
    hub.fanout.publish = published.append  # type: ignore[method-assign]
    assert hub.state()["status"]["results"] is None  # no central store: the header hides it
    hub(AWAY)
    hub.set_status(800, 2, True)
    status = hub.state()["status"]
    assert status["results"] == {"target": TARGET, "behind": 12, "oldest_s": 185.0, "reachable": False,
                                 "error": "OperationalError: connection refused", "set_aside": 0}
    assert status["pool"] == 800 and [t["name"] for t in hub.state()["sockets"]] == ["A"]
    pushed = [json.loads(m) for m in published]
    assert [m["type"] for m in pushed] == ["header", "header"]
    assert pushed[0]["status"]["results"]["behind"] == 12


def test_the_catalogues_say_the_lag_in_english_and_chinese():
    assert text("en", "results.behind_oldest", n=12, age=text("en", "age.min", n=3)) == "12 behind (oldest 3 min)"
    assert text("en", "results.up_to_date") == "up to date"
    assert text("zh", "results.behind_oldest", n=12, age=text("zh", "age.min", n=3)) == "落后 12 台（最早 3 分钟）"  # noqa: RUF001 (Chinese parentheses)


def test_serialized_sink_lets_one_thread_in_at_a_time():
    inside, most = [0], [0]
    lock = threading.Lock()

    def slow_sink(_: object) -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        threading.Event().wait(0.002)
        with lock:
            inside[0] -= 1

    sink = serialized(slow_sink)
    event = Verdict("A", index=1, outcome="PASS")
    threads = [threading.Thread(target=lambda: [sink(event) for _ in range(20)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
