"""Yield per socket in the lot summary, and the flag on a socket that fails more than the others."""

from __future__ import annotations

import math

import pytest
from linegate.reports.lot import LotRenderer, summarize
from linegate.reports.sockets import fisher_greater
from synthetic import make_record


def exact_tail(failed: int, n: int, other_failed: int, other_n: int) -> float:
    """The hypergeometric tail from integer binomials, independent of the code under test."""
    total, failures = n + other_n, failed + other_failed
    return sum(math.comb(failures, k) * math.comb(total - failures, n - k)
               for k in range(failed, min(n, failures) + 1)) / math.comb(total, n)


def two_sockets_b_is_bad():
    """A: 20 units, 1 FAIL (step_1), 1 ERROR (step_2), 1 ABORTED. B: 20 units, 9 FAIL at step_3, 1 at step_1;
    two of B's failures are retested in A and pass."""
    records, i = [], 0
    for k in range(20):
        i += 1
        records.append(make_record(i, socket="A", fail=k == 3, error=k == 5, aborted=k == 7))
    b_fail_macs = []
    for k in range(20):
        i += 1
        fail = k < 10
        records.append(make_record(i, socket="B", fail=fail, fail_step=1 if k == 9 else 3))
        if fail:
            b_fail_macs.append(records[-1].unit["mac"])
    for n, mac in enumerate(b_fail_macs[:2]):
        records.append(make_record(500 + n, socket="A", mac=mac, minutes=300 + n))  # the retest passes
    return records


def test_per_socket_counts_yields_and_most_common_failing_step():
    lot = summarize(two_sockets_b_is_bad())
    a, b = lot.sockets.sockets
    assert (a.socket, a.units, a.tests) == ("A", 22, 22)
    assert dict(a.outcomes) == {"PASS": 19, "FAIL": 1, "ERROR": 1, "ABORTED": 1}
    assert a.yield_pct == pytest.approx(100 * 19 / 22)  # its last test passed: 17 of its own, 2 retested from B
    assert (a.first_tests, a.first_pass) == (20, 17) and a.fpy_pct == pytest.approx(85.0)
    assert a.failure_pct == pytest.approx(100 * 2 / 21)  # ABORTED is left out
    assert (b.socket, b.units, b.tests) == ("B", 20, 20)
    assert dict(b.outcomes) == {"PASS": 10, "FAIL": 10}
    assert b.yield_pct == pytest.approx(50.0) and b.fpy_pct == pytest.approx(50.0)
    assert b.top_failing_step == ("step_3", 9)
    assert a.top_failing_step in {("step_1", 1), ("step_2", 1)}
    # the lot's first-pass yield is the sum over the sockets' first tests
    assert a.first_pass + b.first_pass == lot.first_pass_units and a.first_tests + b.first_tests == lot.units


def test_the_socket_failing_more_than_the_others_is_flagged_with_an_exact_p():
    lot = summarize(two_sockets_b_is_bad())
    a, b = lot.sockets.sockets
    assert b.p_value == pytest.approx(exact_tail(10, 20, 2, 21), rel=1e-9)
    assert a.p_value == pytest.approx(exact_tail(2, 21, 10, 20), rel=1e-9)
    assert lot.sockets.threshold == 0.01
    assert b.flagged and 0.005 < b.p_value < 0.01 and not a.flagged  # 50 % against 10 %, 20 units each
    assert [s.socket for s in lot.sockets.flagged] == ["B"]


def test_sockets_that_differ_by_chance_are_not_flagged():
    records = [make_record(i, socket="AB"[i % 2], fail=i in (2, 4, 7, 9, 11)) for i in range(1, 41)]
    lot = summarize(records)
    assert [s.outcomes["FAIL"] for s in lot.sockets.sockets] == [2, 3]
    assert all(s.p_value is not None and s.p_value > 0.1 for s in lot.sockets.sockets)
    assert not lot.sockets.flagged


def test_a_small_lot_with_an_obviously_bad_socket_is_flagged():
    """5 of 5 fail in D, 0 of 15 in A..C: too few for a z-test's normal approximation, exact for Fisher's."""
    records = [make_record(i, socket="ABC"[i % 3]) for i in range(1, 16)]
    records += [make_record(i, socket="D", fail=True) for i in range(16, 21)]
    lot = summarize(records)
    d = lot.sockets.sockets[-1]
    assert d.socket == "D" and d.p_value == pytest.approx(1 / math.comb(20, 5))
    assert [s.socket for s in lot.sockets.flagged] == ["D"]


def test_the_flag_needs_p_below_one_percent_whatever_the_number_of_sockets():
    """A worse socket at p ~ 0.02 is not flagged; the same share over more units (p < 0.01) is, among eight."""
    def lot(units: int, failed_a: int) -> tuple[float | None, bool]:
        records, i = [], 0
        for socket in "ABCDEFGH":
            for k in range(units):
                i += 1
                bad = k < failed_a if socket == "A" else k == 0 and socket in "BCD"
                records.append(make_record(i, socket=socket, fail=bad))
        a = summarize(records).sockets.sockets[0]
        assert a.p_value == pytest.approx(exact_tail(failed_a, units, 3, 7 * units), rel=1e-9)
        return a.p_value, a.flagged

    p, flagged = lot(20, 3)
    assert 0.01 < p < 0.05 and not flagged
    p, flagged = lot(20, 4)
    assert p < 0.01 and flagged


def test_one_socket_still_has_its_row_and_no_flag():
    lot = summarize([make_record(i, fail=i == 3) for i in range(1, 11)])
    (only,) = lot.sockets.sockets
    assert (only.socket, only.units, only.outcomes["FAIL"], only.p_value, only.flagged) == ("A", 10, 1, None, False)
    html = LotRenderer().render(lot)
    assert 'id="sockets"' in html and 'data-socket="A"' in html and "One socket: nothing to compare" in html
    assert 'id="socket-alert"' not in html


def test_sockets_sort_naturally():
    records = [make_record(i, socket=f"S{n}") for i, n in enumerate((10, 2, 1), 1)]
    assert [s.socket for s in summarize(records).sockets.sockets] == ["S1", "S2", "S10"]


def test_lot_page_shows_the_table_the_flag_and_the_rule():
    html = LotRenderer().render(summarize(two_sockets_b_is_bad()))
    assert '<h2>Yield per socket</h2>' in html and 'id="sockets"' in html
    assert '<tr class="socket-flagged" data-socket="B">' in html and "BELOW THE OTHERS" in html
    assert '<tr class="" data-socket="A">' in html
    assert 'id="socket-alert"' in html and "Socket B fails more than the other sockets: 50.0% of its tests" in html
    assert "one-sided Fisher exact test" in html and "flagged when p &lt; 0.01" in html
    assert "step_3 (9)" in html and "86.4%" in html  # A's yield, 19 of 22
    assert html.count("<td>A</td>") == 22 and html.count("<td>B</td>") == 20  # the units table's socket column


def test_fisher_tail_edges():
    assert fisher_greater(0, 10, 0, 10) == pytest.approx(1.0)
    assert fisher_greater(10, 10, 0, 10) == pytest.approx(1 / math.comb(20, 10))
    assert fisher_greater(3000, 5000, 500, 5000) < 1e-100  # far in the tail: no overflow, no error
    assert fisher_greater(50, 5000, 60, 5000) == pytest.approx(exact_tail(50, 5000, 60, 5000), rel=1e-9)
