"""The operator panel's cost: an event's way from the hub to the browser's screen, and the supervisor's CPU.

One process plays the supervisor: it decodes each event from its wire form (as the supervisor does with a
worker's line) and hands it to a ``PanelHub`` served on 127.0.0.1; N sockets each send R events a second
(units of five steps, measurements, verdict, record). Real headless Chromium (Debian's, driven by
Playwright) shows the panel. The page draws once per animation frame and then tells each message drawn
(``panel:rendered``, its ``seq``); a listener records the browser's clock then (the frame that paints it)
and at the next animation frame (an upper bound). The two clocks are compared through the page (the
tightest of 30 round trips). Printed: the latency from the hub taking the event to its frame and to the
next one (median, p95; the target, <= 100 ms, is held against the upper bound), and this process's CPU
(``time.process_time``) while it feeds the panel with a browser connected, less the same feeding into no
panel at all (target <= 5 % of a core). Run it from the repository:

    python bench/panel.py [--sockets 8] [--rate 10] [--seconds 10] [--browsers 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from linegate.station.events import (
    Event,
    MeasurementTaken,
    RecordWritten,
    StepFinished,
    StepStarted,
    UnitStarted,
    Verdict,
    from_wire,
    to_wire,
)
from linegate.station.panel import PanelHub, serve

TARGET_MS, TARGET_CPU = 100.0, 5.0
STEPS = ("power_on", "firmware_version", "rf_power", "led_check", "provision")
LISTEN = """
window.__shown = {};
document.addEventListener("panel:rendered", (e) => {
  const seq = e.detail.seq, dom = performance.timeOrigin + performance.now();
  requestAnimationFrame(() => { window.__shown[seq] = [dom, performance.timeOrigin + performance.now()]; });
});
"""


def unit_lines(socket: str, first: int, every: int) -> Iterator[str]:
    """A socket's wire lines, unit after unit, forever (``first``, ``first + every``... as unit indexes)."""
    index = first
    while True:
        at = datetime.now(UTC)
        events: list[Event] = [UnitStarted(socket, index=index, serial=f"SN-{index:06d}", steps=len(STEPS), at=at)]
        for number, step in enumerate(STEPS, 1):
            events.append(StepStarted(socket, index=index, step=step, number=number, of=len(STEPS), at=at))
            events += [MeasurementTaken(socket, index=index, step=step, name=f"{step}_{k}", value=1.0 + k / 7,
                                        units="V", limit="0.9 ≤ x ≤ 1.5 V", status="pass", at=at) for k in range(2)]
            events.append(StepFinished(socket, index=index, step=step, outcome="pass", duration_s=0.3, at=at))
        outcome = "FAIL" if index % 9 == 0 else "PASS"
        events += [Verdict(socket, index=index, outcome=outcome, serial=f"SN-{index:06d}", at=at),
                   RecordWritten(socket, index=index, record_id=f"r{index}", path=f"/tmp/run/u{index}.json", at=at)]
        yield from (to_wire(event) for event in events)
        index += every


def feed(sink: Callable[[Event], None], sockets: list[str], rate: float, seconds: float,
         sent: dict[int, float] | None = None, hub: PanelHub | None = None) -> tuple[float, int]:
    """Each socket's events at ``rate`` a second for ``seconds``, round robin; (CPU seconds used, events)."""
    streams = [unit_lines(s, i + 1, len(sockets)) for i, s in enumerate(sockets)]
    period = 1.0 / (rate * len(sockets))
    count = int(seconds / period)
    lines = [next(streams[n % len(streams)]) for n in range(count)]
    cpu0, start = time.process_time(), time.perf_counter()
    for n, line in enumerate(lines):
        delay = start + n * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        taken = time.time()
        sink(from_wire(line))
        if sent is not None and hub is not None:
            sent[hub.seq] = taken
    return time.process_time() - cpu0, count


def clock_offset_ms(page) -> float:
    """The browser's wall clock (performance.timeOrigin + now) minus this process's, in ms."""
    best = None
    for _ in range(30):
        t0 = time.time()
        theirs = page.evaluate("performance.timeOrigin + performance.now()")
        t1 = time.time()
        if best is None or t1 - t0 < best[0]:
            best = (t1 - t0, theirs - (t0 + t1) * 500.0)
    assert best is not None
    return best[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=8)
    parser.add_argument("--rate", type=float, default=10.0, help="events a second per socket")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--browsers", type=int, default=1)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench/panel.py: playwright is not installed (pip install '.[dev]')", file=sys.stderr)
        return 2
    if chromium is None:
        print("bench/panel.py: Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    sockets = [f"S{i}" for i in range(1, args.sockets + 1)]
    baseline_cpu, _ = feed(lambda event: None, sockets, args.rate, args.seconds)
    hub = PanelHub("bench", "bench-plan", "1.0", "0" * 64, sockets)
    sent: dict[int, float] = {}
    with serve(hub) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        pages = []
        for _ in range(args.browsers):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(LISTEN)
            page.goto(server.url)
            page.wait_for_selector("[data-socket]")
            pages.append(page)
        offset = clock_offset_ms(pages[0])
        cpu, count = feed(hub, sockets, args.rate, args.seconds, sent, hub)
        time.sleep(0.5)
        shown = pages[0].evaluate("window.__shown")
        browser.close()
    dom = [times[0] - offset - sent[int(seq)] * 1000 for seq, times in shown.items() if int(seq) in sent]
    frame = [times[1] - offset - sent[int(seq)] * 1000 for seq, times in shown.items() if int(seq) in sent]
    panel_cpu = max(0.0, cpu - baseline_cpu)
    share = 100 * panel_cpu / args.seconds
    print(f"panel bench: {args.sockets} sockets x {args.rate:g} events/s, {args.browsers} browser(s), "
          f"{args.seconds:g} s ({count} events, {len(frame)} seen rendered)")
    if not frame:
        print("no event was seen rendered", file=sys.stderr)
        return 1
    print(f"  hub -> drawn (its frame):      median {statistics.median(dom):6.1f} ms   "
          f"p95 {percentile(dom, .95):6.1f} ms")
    verdict = "ok" if percentile(frame, .95) <= TARGET_MS else "MISSED"
    print(f"  hub -> next frame (bound):     median {statistics.median(frame):6.1f} ms   "
          f"p95 {percentile(frame, .95):6.1f} ms   target <= {TARGET_MS:g} ms: {verdict}")
    print(f"  supervisor CPU (hub + server): {share:5.2f} % of a core "
          f"({panel_cpu:.3f} s over {args.seconds:g} s; feeding alone {baseline_cpu:.3f} s)"
          f"   target <= {TARGET_CPU:g} %: {'ok' if share <= TARGET_CPU else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
