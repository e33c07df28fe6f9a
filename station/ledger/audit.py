"""The invariants, checked three ways: the ledger, the cloud's own state, and the DUTs.

- lost: identities the service issued that the ledger neither pools, puts on a unit, committed nor
  accounts for (quarantined, needs attention, or an interrupted reserve call);
- duplicated: one identity on two units (ledger or DUTs), or two identities on one unit;
- double_committed: one unit committed twice at the cloud, or a cloud commit the ledger does not
  hold as committed (it could be handed out again);
- wasted: identities used up without reaching a passing unit, with the reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from linegate.station.ledger.journal import Identity, Ledger
from linegate.station.ledger.probe import DutProbe
from linegate.station.ledger.schema import COMMITTED, COMMITTING, NEEDS_ATTENTION, ON_UNIT, QUARANTINED

NAMESPACE = {"ayla": ("ayla", "dsn"), "yosmart": ("yosmart", "device_id"), "enos-dps": ("enos", "sn"),
             "enos-mqtt": ("enos", "device_key")}


def cloud_view(state: dict[str, Any], service: str) -> tuple[set[str], dict[str, str]]:
    """(every identity the service issued, identity -> unit MAC for those committed) from ``/_sim/state``."""
    issued: set[str] = set()
    committed: dict[str, str] = {}
    if service == "ayla":
        for d in state["ayla"]["devices"]:
            issued.add(d["dsn"])
            if d.get("mac"):
                committed[d["dsn"]] = d["mac"].replace(":", "").lower()
    elif service == "yosmart":
        for d in state["yosmart"]["devices"]:
            issued.add(d["deviceId"])
            if d.get("chipId"):
                committed[d["deviceId"]] = d["chipId"].lower()
    elif service == "enos-dps":
        for d in state["enos_dps"]["devices"]:
            issued.add(d["sn"])
            if d.get("allocateStatus") == "allocated":
                committed[d["sn"]] = str(d.get("deviceData", {}).get("mac", ""))
    elif service == "enos-mqtt":
        for d in state["enos_mqtt"]["devices"]:
            issued.add(d["deviceKey"])
            committed[d["deviceKey"]] = str((d.get("deviceAttributes") or {}).get("mac", ""))
    return issued, committed


def dut_holdings(duts: DutProbe | None, service: str) -> dict[str, list[str]]:
    """identity -> MACs (without colons) of the DUTs at hand whose NVS holds it."""
    held: dict[str, list[str]] = defaultdict(list)
    if duts is None:
        return held
    ns, key = NAMESPACE[service]
    for mac in duts.at_hand():
        value = (duts.probe(mac) or {}).get(ns, {}).get(key)
        if value is not None:
            held[value.decode(errors="replace")].append(mac.replace(":", ""))
    return held


def audit(ledger: Ledger, cloud_state: dict[str, Any] | None, duts: DutProbe | None = None) -> dict[str, Any]:
    """The invariant counts. ``cloud_state`` is the cloud's own view (as ``/_sim/state`` gives it) and
    ``duts`` looks at the DUTs at hand; either view is left unchecked when it is ``None``."""
    rows = ledger.all()
    services = sorted({r.service for r in rows} | {s for s in NAMESPACE if ledger.get_meta(f"spec:{s}") is not None})
    result: dict[str, Any] = {"lost": 0, "duplicated": 0, "double_committed": 0, "wasted": 0, "needs_attention": 0,
                              "committed": 0, "pooled": 0, "on_units": 0, "details": [], "wasted_reasons": {}}
    reasons: Counter[str] = Counter()
    for service in services:
        mine = [r for r in rows if r.service == service]
        by_id = {r.identity: r for r in mine}
        result["committed"] += sum(r.state == COMMITTED for r in mine)
        result["pooled"] += sum(r.state in ("reserved", "released") for r in mine)
        result["on_units"] += sum(r.state in ON_UNIT for r in mine)
        result["needs_attention"] += sum(r.state == NEEDS_ATTENTION for r in mine)
        for r in mine:
            if r.state in (QUARANTINED, NEEDS_ATTENTION):
                reasons[f"{service}: {r.state}: {_short(r.reason)}"] += 1
        per_unit = Counter(r.unit_mac for r in mine if r.state in ON_UNIT and r.unit_mac)
        dup_units = [m for m, n in per_unit.items() if n > 1]
        result["duplicated"] += len(dup_units)
        result["details"] += [f"{service}: unit {m} holds {per_unit[m]} identities" for m in dup_units]
        for ident, macs in dut_holdings(duts, service).items():
            row = by_id.get(ident)
            owner = (row.unit_mac or "").replace(":", "") if row else None
            if len(set(macs)) > 1:
                result["duplicated"] += 1
                result["details"].append(f"{service}: {ident} is in {len(set(macs))} DUTs")
            elif row is None or (row.state in ON_UNIT and owner != macs[0]):
                result["duplicated"] += 1
                result["details"].append(f"{service}: DUT {macs[0]} holds {ident}, the ledger says {owner}")
        if cloud_state is None:
            continue
        issued, committed = cloud_view(cloud_state, service)
        unknown = issued - set(by_id)
        budget = sum(c["count"] for c in ledger.reserve_calls() if c["service"] == service and c["state"] != "done")
        lost = max(0, len(unknown) - budget)
        result["lost"] += lost
        if unknown:
            reasons[f"{service}: issued by a reserve call whose answer was lost"] += len(unknown) - lost
        if lost:
            result["details"].append(f"{service}: {lost} identities issued that the ledger does not know")
        units_at_cloud = Counter(committed.values())
        doubles = [m for m, n in units_at_cloud.items() if m and n > 1]
        result["double_committed"] += len(doubles)
        result["details"] += [f"{service}: unit {m} committed {units_at_cloud[m]} times" for m in doubles]
        for ident in committed:
            row = by_id.get(ident)
            if row is not None and row.state not in (COMMITTED, COMMITTING, NEEDS_ATTENTION):
                result["double_committed"] += 1
                result["details"].append(f"{service}: {ident} is committed at the cloud but {row.state} here")
    result["wasted"] = sum(reasons.values())
    result["wasted_reasons"] = dict(reasons)
    return result


def _short(text: str) -> str:
    return text.split(";")[0][:80]


def status(ledger: Ledger) -> dict[str, Any]:
    rows = ledger.all()
    out: dict[str, Any] = {"ledger": ledger.shown, "services": {}}
    for service in sorted({r.service for r in rows}):
        mine = [r for r in rows if r.service == service]
        counts = Counter(str(r.state) for r in mine)
        out["services"][service] = {
            "states": dict(sorted(counts.items())),
            "pool": counts.get("reserved", 0) + counts.get("released", 0),
            "commit_backlog": sum(1 for r in mine if r.queued),
            "attention": [_attention(r) for r in mine if r.state in (QUARANTINED, NEEDS_ATTENTION)],
        }
    units = ledger.all_units()
    out["units"] = dict(Counter(u["outcome"] or "in progress" for u in units))
    return out


def _attention(r: Identity) -> dict[str, str]:
    return {"identity": r.identity, "state": r.state, "unit": r.unit_mac or "", "reason": r.reason}
