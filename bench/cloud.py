"""Cloud clients against the local emulators: calls per second with connection reuse, and what a retry costs.

Every call is a real HTTP round trip (or MQTT publish + reply) on loopback.
"Fresh connection" runs the same call with a new httpx.Client each time to
show what connection reuse saves. The retry cost is the extra wall time of
a call whose first attempt gets a retryable code, with the policy's
smallest backoff (10 ms, no jitter).

    python bench/cloud.py [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from linegate.drivers.cloud import Ayla, EnosDps, EnosMqttRegistrar, RetryPolicy, YoSmart
from linegate.fixtures.sim.cloud.server import CloudEmulator

POLICY = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.01, wait_jitter=0.0)


def rate(calls: int, fn: Callable[[int], object]) -> tuple[float, float]:
    """(calls per second, median ms per call)."""
    times = []
    for i in range(calls):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return calls / sum(times), statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    n = args.calls
    with CloudEmulator(rsa_bits=1024) as emu:
        c = emu.credentials
        url = emu.base_url
        rows: list[tuple[str, float, float]] = []
        with YoSmart(url, c.yosmart_token, retry=POLICY) as ys:
            rows.append(("yosmart requestSN(1)", *rate(n, lambda i: ys.request_sn(1))))
            ids = ys.request_device_ids(min(n, 1000))
            rows.append(("yosmart activateDeviceId", *rate(len(ids), lambda i: ys.activate_device_id(
                f"chip{i}", "70B3D57ED00001C0", ids[i]))))

            def fresh(i: int) -> None:
                with YoSmart(url, c.yosmart_token, retry=POLICY) as one:
                    one.request_sn(1)

            rows.append(("yosmart requestSN, fresh connection", *rate(n, fresh)))
        with Ayla(url, c.ayla_token, retry=POLICY) as afs:
            dsns = [d.dsn for d in afs.reserve(c.ayla_model, min(n, 1000))]
            now = datetime.now(UTC)
            rows.append(("ayla manufacture", *rate(len(dsns), lambda i: afs.manufacture(
                dsns[i], model=c.ayla_model, mac=f"{i:012x}", hwsig=f"hw{i}", dom_at=now))))
        with EnosDps(url, c.enos_app_key, c.enos_app_secret, c.enos_org_id, retry=POLICY) as dps:
            sns = dps.create(c.enos_group_id, min(n, 1000))
            rows.append(("enos-dps allocate (signed)", *rate(len(sns), lambda i: dps.allocate(sns[i], {"i": i}))))
            rows.append(("enos-dps get (signed)", *rate(n, lambda i: dps.get(sns[i % len(sns)]))))
        with EnosMqttRegistrar(emu.mqtt_url, c.gw_product_key, c.gw_device_key, c.gw_device_secret) as gw:
            tag = uuid.uuid4().hex[:6]
            rows.append(("enos-mqtt register", *rate(n, lambda i: gw.register(c.sub_product_key, f"{tag}{i}",
                                                                                f"u{i}"))))
        print(f"cloud clients against the local emulators ({n} calls each, loopback)")
        print(f"{'call':40} {'calls/s':>10} {'median ms':>10}")
        for name, per_s, median in rows:
            print(f"{name:40} {per_s:10.0f} {median:10.2f}")

        with YoSmart(url, c.yosmart_token, retry=POLICY) as ys:
            plain = [_timed(lambda: ys.request_sn(1)) for _ in range(50)]
            retried = []
            for _ in range(50):
                emu.faults.queue("code:010000", service="yosmart", operation="requestSN")
                retried.append(_timed(lambda: ys.request_sn(1)))
        base, with_retry = statistics.median(plain), statistics.median(retried)
        print(f"one retry (YoSmart 010000, 10 ms backoff): {with_retry:.2f} ms vs {base:.2f} ms, "
              f"cost {with_retry - base:.2f} ms")


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


if __name__ == "__main__":
    main()
