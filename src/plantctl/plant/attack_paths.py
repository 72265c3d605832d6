"""Attack paths of a site: every chain of allowed conduits from an untrusted origin (the
internet, enterprise zones, remote-access zones, or a named zone), hop by hop.

A node is a whole zone (the origin, or a zone a conduit reaches without naming destinations)
or one device (a destination address of a conduit). A conduit leaves a node when it starts in
the node's zone and names no sources, or names the node's address (a whole zone leaves by every
conduit of its zone). A path continues from the node it reached only when one of the services
that reached it gives a foothold (`foothold: true` in inventory/protocols.yaml: ssh, rdp, https
management, engineering protocols): that node is a pivot. The internet is an origin only: a
path never continues through it. Breadth first, a visited set per path (no node twice, no
device of a zone the path already holds whole); conduits are indexed by their from-zone, so no
device is compared with another.
"""

from __future__ import annotations

import gc
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from plantctl.model import protocols
from plantctl.model.inventory import Inventory, Record

INTERNET = "internet"
ORIGIN_KINDS = ("enterprise", "remote-access")
DEFAULT_ORIGINS = (INTERNET, *ORIGIN_KINDS)
INSPECTION_RANK = {"none": 0, "stateful": 1, "deep": 2}
DERIVED_CAPABILITY = {"none": 1, "stateful": 2, "deep": 3}
LIMIT = 200_000  # paths per call; a plant that has more is reported as truncated


class PathInputError(ValueError):
    """An unknown site, zone or device: the message says what exists."""


@dataclass(frozen=True)
class _Conduit:
    id: str
    key: str
    to: str
    sources: frozenset[str]
    destinations: tuple[str, ...]
    services: tuple[str, ...]
    pivot_on: tuple[str, ...]  # the services that give a foothold
    inspection: str
    capability: int


def _service_label(svc: dict[str, Any]) -> str:
    if svc.get("name"):
        return str(svc["name"])
    if svc.get("app"):
        return str(svc["app"])
    port = svc.get("port")
    return f"{svc.get('protocol')}/{port}" if port is not None else str(svc.get("protocol"))


KINDS = ("zone", "conduit", "machine", "gateway", "device")


def _records(inv: Inventory, site: str | None = None) -> dict[str, dict[str, list[Record]]]:
    """site -> kind -> its records, in one pass over the inventory (for one site, or all)."""
    out: dict[str, dict[str, list[Record]]] = {}
    for kind in KINDS:
        for rec in inv.of(kind).values():
            if rec.site is not None and (site is None or rec.site == site):
                out.setdefault(rec.site, {k: [] for k in KINDS})[kind].append(rec)
    return out


def _conduits(inv: Inventory, recs: dict[str, list[Record]]) -> dict[str, list[_Conduit]]:
    """The site's conduits indexed by from-zone."""
    footholds = {key for key, rec in inv.of("protocol").items() if rec.data.get("foothold")}
    by_zone: dict[str, list[_Conduit]] = {}
    for rec in sorted(recs["conduit"], key=lambda r: r.line):
        data = rec.data
        labels, pivots = [], []
        for svc in data["services"]:
            resolved = protocols.resolve(inv, svc)
            label = _service_label(svc)
            labels.append(label)
            if footholds.intersection(resolved["apps"]):
                pivots.append(label)
        inspection = data.get("inspection", "stateful")
        by_zone.setdefault(data["from"], []).append(
            _Conduit(
                id=rec.id,
                key=rec.key,
                to=data["to"],
                sources=frozenset(data.get("sources") or ()),
                destinations=tuple(data.get("destinations") or ()),
                services=tuple(labels),
                pivot_on=tuple(pivots),
                inspection=inspection,
                capability=data.get("security_level_capability", DERIVED_CAPABILITY[inspection]),
            )
        )
    return by_zone


def _device_names(inv: Inventory, site: str, recs: dict[str, list[Record]]) -> dict[str, str]:
    """address -> device id, for the site's machines, gateways, devices and site services."""
    names: dict[str, str] = {}
    for kind, keys in (("machine", ("controller", "address")), ("gateway", ("address",))):
        for rec in recs[kind]:
            value: Any = rec.data
            for k in keys:
                value = value[k]
            names[str(value)] = rec.id
    for rec in recs["device"]:
        names[str(rec.data["address"])] = rec.id
    site_rec = inv.get("site", site)
    for svc in (site_rec.data.get("services") or {}).values() if site_rec else ():
        names[str(svc["address"])] = svc["id"]
    return names


def _zone_list(zones: dict[str, dict]) -> str:
    return ", ".join(sorted(zones)) or "none"


def _origins(zones: dict[str, dict], wanted: str | None) -> list[str]:
    choices = DEFAULT_ORIGINS if wanted is None else (wanted,)
    found: list[str] = []
    for choice in choices:
        if choice == INTERNET:
            found.append(INTERNET)
        elif choice in ORIGIN_KINDS:
            found.extend(sorted(z for z, data in zones.items() if data["kind"] == choice))
        elif choice in zones:
            found.append(choice)
        else:
            raise PathInputError(
                f"--from {choice!r} is neither internet, enterprise, remote-access nor a zone "
                f"of the site; zones there: {_zone_list(zones)}"
            )
    return list(dict.fromkeys(found))


def _target(
    inv: Inventory,
    site: str,
    recs: dict[str, list[Record]],
    names: dict[str, str],
    wanted: str,
) -> tuple[str, str | None]:
    """(zone, address or None) of --to: a zone id, a device id or a device address."""
    zones = {rec.id: rec.data for rec in recs["zone"]}
    if wanted in zones:
        return wanted, None
    by_id = {device: address for address, device in names.items()}
    address = by_id.get(wanted, wanted if wanted in names else None)
    if address is not None:
        for kind in ("machine", "gateway", "device"):
            for rec in recs[kind]:
                held = rec.data.get("address") or rec.data.get("controller", {}).get("address")
                if str(held) == address:
                    return rec.data["zone"], address
        site_rec = cast(Record, inv.get("site", site))  # _prepare found the site
        for svc in (site_rec.data.get("services") or {}).values():
            if str(svc["address"]) == address:
                return svc["zone"], address
    raise PathInputError(
        f"--to {wanted!r} is neither a zone nor a device of site {site}; zones there: "
        f"{_zone_list(zones)}"
    )


def _prepare(inv: Inventory, site: str, records: dict[str, list[Record]] | None):
    if inv.get("site", site) is None:
        raise PathInputError(f"no site {site!r}; sites: {', '.join(inv.sites()) or 'none'}")
    recs = records or _records(inv, site).get(site) or {k: [] for k in KINDS}
    zones = {rec.id: rec.data for rec in recs["zone"]}
    return recs, zones, _device_names(inv, site, recs), _conduits(inv, recs)


def _walk(
    zones: dict[str, dict],
    by_zone: dict[str, list[_Conduit]],
    origins: list[str],
    target: tuple[str, str | None] | None,
    limit: int,
) -> tuple[list[tuple[str, tuple]], bool]:
    """(origin, ((node, conduit), ...)) of every path, breadth first; truncated at limit."""
    found: list[tuple[str, tuple]] = []
    for start in origins:
        start_node = (start, None)
        queue: deque = deque([(start_node, (), frozenset([start_node]))])
        while queue:
            (zone, address), hops, visited = queue.popleft()
            for conduit in by_zone.get(zone, ()):
                if address is not None and conduit.sources and address not in conduit.sources:
                    continue
                if conduit.to == INTERNET or conduit.to not in zones:
                    continue
                whole = (conduit.to, None)
                if whole in visited:
                    continue
                nodes: list[tuple[str, str | None]] = [
                    (conduit.to, a) for a in conduit.destinations
                ]
                for node in nodes or [whole]:
                    if node in visited:
                        continue
                    path = (*hops, (node, conduit))
                    if target is None or _ends_at(node, target):
                        found.append((start, path))
                        if len(found) >= limit:
                            return found, True
                    if conduit.pivot_on:
                        queue.append((node, path, visited | {node}))
    return found, False


@contextmanager
def _no_gc():
    """Paths are acyclic tuples: the cyclic collector has nothing to find in them, and walking
    a large inventory's objects on every collection would cost more than the search."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def find(
    inv: Inventory,
    site: str,
    origin: str | None = None,
    to: str | None = None,
    limit: int = LIMIT,
) -> dict[str, Any]:
    """{'site', 'paths': [...], 'truncated': bool} for one site. Raises PathInputError."""
    recs, zones, names, by_zone = _prepare(inv, site, None)
    origins = _origins(zones, origin)
    target = _target(inv, site, recs, names, to) if to is not None else None

    def kind_of(zone: str) -> str:
        return INTERNET if zone == INTERNET else zones[zone]["kind"]

    with _no_gc():
        walked, truncated = _walk(zones, by_zone, origins, target, limit)
        paths = [_as_dict(site, start, path, names, kind_of) for start, path in walked]
        paths.sort(key=lambda p: (p["from"], len(p["hops"]), [h["node"] for h in p["hops"]]))
    return {"site": site, "paths": paths, "truncated": truncated}


def _ends_at(node: tuple[str, str | None], target: tuple[str, str | None]) -> bool:
    """A path ends at a zone when its last node is in it; at a device when its last node is
    that device or the whole zone holding it."""
    zone, address = target
    if address is None:
        return node[0] == zone
    return node == target or node == (zone, None)


def _as_dict(site: str, start: str, path: tuple, names: dict[str, str], kind_of) -> dict:
    hops = []
    for (zone, address), conduit in path:
        device = names.get(address, address) if address is not None else None
        hops.append(
            {
                "node": f"{zone}/{device}" if device else zone,
                "zone": zone,
                "zone_kind": kind_of(zone),
                "device": device,
                "address": address,
                "conduit": conduit.id,
                "conduit_key": conduit.key,
                "services": list(conduit.services),
                "pivot_on": list(conduit.pivot_on),
                "inspection": conduit.inspection,
                "security_level_capability": conduit.capability,
            }
        )
    weakest = min(
        hops, key=lambda h: (INSPECTION_RANK[h["inspection"]], h["security_level_capability"])
    )
    last = hops[-1]
    return {
        "site": site,
        "from": start,
        "from_kind": kind_of(start),
        "to": last["zone"],
        "to_kind": last["zone_kind"],
        "device": last["device"],
        "hops": hops,
        "inspected_hops": sum(1 for h in hops if h["inspection"] != "none"),
        "weakest": {
            "conduit": weakest["conduit"],
            "inspection": weakest["inspection"],
            "security_level_capability": weakest["security_level_capability"],
        },
    }


def render_text(result: dict[str, Any]) -> str:
    paths = result["paths"]
    lines = [f"{result['site']}: {len(paths)} path(s)"]
    for p in paths:
        chain = " -> ".join(
            [p["from"]]
            + [f"{h['node']} ({h['conduit']}: {', '.join(h['services'])})" for h in p["hops"]]
        )
        w = p["weakest"]
        lines.append(
            f"  {chain}; weakest {w['conduit']} (inspection {w['inspection']}, "
            f"SL-C {w['security_level_capability']}); inspected hops {p['inspected_hops']}"
        )
    if result["truncated"]:
        lines.append(f"  (stopped after {len(paths)} paths)")
    return "\n".join(lines) + "\n"


def fact(inv: Inventory) -> list[dict[str, Any]]:
    """The policy input's attack_paths: every site's paths from the default origins, each hop
    reduced to what the rules read (conduit, zone, inspection); paths that differ only in the
    devices they pass are one entry."""
    out: list[dict[str, Any]] = []
    with _no_gc():
        for site, recs in sorted(_records(inv).items()):
            _recs, zones, _names, by_zone = _prepare(inv, site, recs)
            walked, _truncated = _walk(zones, by_zone, _origins(zones, None), None, LIMIT)
            seen: set[tuple] = set()
            for start, path in walked:
                key = (start, tuple((conduit.key, node[0]) for node, conduit in path))
                if key in seen:
                    continue
                seen.add(key)
                last = path[-1][0][0]
                out.append(
                    {
                        "site": site,
                        "from": start,
                        "from_kind": INTERNET if start == INTERNET else zones[start]["kind"],
                        "to": last,
                        "to_kind": zones[last]["kind"],
                        "hops": [
                            {
                                "conduit": conduit.id,
                                "conduit_key": conduit.key,
                                "zone": node[0],
                                "inspection": conduit.inspection,
                            }
                            for node, conduit in path
                        ],
                    }
                )
    return out


def routes(inv: Inventory) -> set[str]:
    """Every site's paths from the default origins, one line each: the site, the origin, then
    each node reached with the conduit it was reached over."""
    out: set[str] = set()
    for site, recs in _records(inv).items():
        _recs, zones, names, by_zone = _prepare(inv, site, recs)
        with _no_gc():
            walked, _truncated = _walk(zones, by_zone, _origins(zones, None), None, LIMIT)
            for start, path in walked:
                hops = " -> ".join(
                    f"{_label(node, names)} ({conduit.id})" for node, conduit in path
                )
                out.add(f"{site}: {start} -> {hops}")
    return out


def _label(node: tuple[str, str | None], names: dict[str, str]) -> str:
    zone, address = node
    return zone if address is None else f"{zone}/{names.get(address, address)}"


def diff(base: Inventory, head: Inventory) -> tuple[list[str], list[str]]:
    """The attack paths (routes) a change opens and closes."""
    before, after = routes(base), routes(head)
    return sorted(after - before), sorted(before - after)
