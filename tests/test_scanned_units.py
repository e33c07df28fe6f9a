"""Units started by a scan on the panel: one socket's wait never holds up another's."""

from __future__ import annotations

import threading
import time

from linegate.plans.serial import SerialSpec
from linegate.station.engine.feeder import UnitFeeder
from linegate.station.engine.scanned import ScannedUnits


def test_each_socket_waits_for_its_own_scan_side_by_side():
    units = ScannedUnits(None, SerialSpec(regex=r"SN\d+"))
    feeder = UnitFeeder(units)
    try:
        feeder.ask("A")
        feeder.ask("B")
        deadline = time.monotonic() + 5
        while len(units.waiting()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(units.waiting()) == ["A", "B"]
        assert units.submit("B", "SN2") == (True, "")  # B first: A's wait does not hold it up
        assert feeder.answers.poll(5)
        socket, start = feeder.take()
        assert socket == "B" and start.serial == "SN2" and start.index == 1
        assert units.submit("A", "xx") == (False, "the serial 'xx' does not match the plan's form SN\\d+; "
                                                  "nothing tested")
        assert units.submit("A", "SN1") == (True, "")
        assert feeder.answers.poll(5)
        assert feeder.take()[1].serial == "SN1"
        assert units.submit("A", "SN3") == (False, "socket A is not waiting for a unit")
    finally:
        feeder.close()


def test_a_retest_needs_a_second_scan_and_stop_ends_every_wait():
    units = ScannedUnits(None)
    got: dict[str, object] = {}
    first = threading.Thread(target=lambda: got.setdefault("1", units.next_unit("A")))
    first.start()
    while not units.waiting():
        time.sleep(0.01)
    assert units.submit("A", "SN1") == (True, "")
    first.join(5)
    again = threading.Thread(target=lambda: got.setdefault("2", units.next_unit("A")))
    again.start()
    while not units.waiting():
        time.sleep(0.01)
    ok, why = units.submit("A", "SN1")
    assert not ok and why == "SN1 was already tested in this run: scan it again to test it again"
    assert units.submit("A", "SN1") == (True, "")
    again.join(5)
    assert got["2"].serial == "SN1" and got["2"].index == 2
    stopped = threading.Thread(target=lambda: got.setdefault("3", units.next_unit("B")))
    stopped.start()
    while not units.waiting():
        time.sleep(0.01)
    units.stop()
    stopped.join(5)
    assert got["3"] is None
