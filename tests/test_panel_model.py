"""The panel's model without HTTP: socket states and their table, counts, the bounded fan-out to browsers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from linegate.station.events import Verdict, WorkerDied
from linegate.station.panel import PanelHub
from linegate.station.panel.fanout import FanOut, Signal, Subscription
from linegate.station.panel.i18n import LanguageError
from linegate.station.panel.states import TRANSITIONS, IllegalTransition, SocketState
from linegate.station.panel.tiles import Tile
from panelkit import PLAN, started, step_events, unit_begin, whole_unit


def test_the_table_allows_what_the_stream_does_and_refuses_the_rest():
    tile = Tile("A")
    tile.move(SocketState.TESTING, "unit_started")
    tile.move(SocketState.FAIL, "verdict")
    tile.move(SocketState.OUT_OF_SERVICE, "worker_died")
    with pytest.raises(IllegalTransition, match="socket A cannot go from out_of_service to testing on unit_started"):
        tile.move(SocketState.TESTING, "unit_started")
    assert tile.state is SocketState.OUT_OF_SERVICE
    assert SocketState.WAITING not in TRANSITIONS[SocketState.TESTING]
    assert set(TRANSITIONS) == set(SocketState)


def test_a_unit_lost_before_its_first_event_is_shown_with_its_verdict():
    hub = PanelHub("s", "p", "1", "0" * 64, ["A"])
    hub(Verdict("A", index=4, outcome="ERROR", failure="socket A's worker died (SIGKILL)", serial="SN-4"))
    a = hub.state()["sockets"][0]
    assert (a["state"], a["unit"]["index"], a["unit"]["serial"]) == ("ERROR", 4, "SN-4")


def test_an_event_out_of_order_is_logged_and_the_panel_follows_the_station(caplog):
    hub = PanelHub("s", "p", "1", "0" * 64, ["A"])
    hub(WorkerDied("A", reason="jig gone"))
    with caplog.at_level(logging.WARNING, logger="linegate.panel"):
        hub(unit_begin("A", 2, "SN-2"))
    assert "socket A cannot go from out_of_service to testing on unit_started" in caplog.text
    assert hub.state()["sockets"][0]["state"] == "testing"


def test_an_event_of_a_socket_not_named_at_the_start_gets_its_tile():
    hub = PanelHub("s", "p", "1", "0" * 64, ["A"])
    hub(started("C"))
    assert [s["name"] for s in hub.state()["sockets"]] == ["A", "C"]


def test_counts_and_yield():
    hub = PanelHub("s", "p", "1", "0" * 64, ["A"])
    for index in range(1, 5):
        for event in whole_unit("A", index, f"SN-{index}", fail_step="rf_power" if index == 4 else None):
            hub(event)
    hub(Verdict("A", index=5, outcome="ABORTED"))
    assert hub.state()["counts"] == {"tested": 4, "pass": 3, "fail": 1, "error": 0, "aborted": 1, "yield": 0.75}


def test_an_unknown_language_is_refused_in_one_line():
    with pytest.raises(LanguageError, match=r"^panel language 'xx': no message catalogue; known: en, zh$"):
        PanelHub("s", "p", "1", "0" * 64, ["A"], lang="xx")


def test_a_slow_subscriber_is_resynced_and_never_holds_up_the_publisher():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sub = Subscription(loop, limit=8)
        took = []

        def publish() -> None:
            for i in range(1000):
                t0 = time.perf_counter()
                sub.put(f"m{i}")
                took.append(time.perf_counter() - t0)

        thread = threading.Thread(target=publish)
        thread.start()
        await asyncio.to_thread(thread.join)
        assert await sub.get(1) is Signal.RESYNC and sub.dropped == 1
        assert max(took) < 0.05
        sub.put("after")
        assert await sub.get(1) == ["after"]
        assert await sub.get(0.05) is Signal.IDLE
        sub.close()
        assert await sub.get(1) is Signal.CLOSED

    asyncio.run(scenario())


def test_every_subscriber_gets_each_message_in_order_and_the_number_is_bounded():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        fan = FanOut(max_subscribers=2)
        one, two = fan.subscribe(loop), fan.subscribe(loop)
        assert one is not None and two is not None and fan.subscribe(loop) is None
        threading.Thread(target=lambda: [fan.publish(str(i)) for i in range(50)]).start()
        for sub in (one, two):
            got: list[str] = []
            while len(got) < 50:
                batch = await sub.get(2)
                assert isinstance(batch, list)
                got += batch
            assert got == [str(i) for i in range(50)]
        fan.unsubscribe(one)
        assert len(fan) == 1

    asyncio.run(scenario())


def test_the_hub_pushes_each_event_with_the_tile_it_leaves():
    async def scenario() -> None:
        hub = PanelHub("s", "p", "1", "0" * 64, ["A"])
        sub = hub.fanout.subscribe(asyncio.get_running_loop())
        assert sub is not None
        for event in [unit_begin("A", 1, "SN-1"), *step_events("A", 1, PLAN[0], 1)]:
            hub(event)
        batch = await sub.get(1)
        assert isinstance(batch, list) and len(batch) == 5
        assert '"kind":"measurement"' in batch[2] and '"measurements_count":1' in batch[2]

    asyncio.run(scenario())
