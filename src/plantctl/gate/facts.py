"""The policy input: the validated inventory as one JSON document, plus facts computed once in
Python (netaddr address lookups, resolved ownership) so no rule compares every device with every
other device. Its shape is the contract between plantctl and policies/ (see policies/README.md).
"""

from __future__ import annotations

from datetime import UTC, datetime

from plantctl.model import addressing, protocols
from plantctl.model.inventory import Inventory
from plantctl.model.ownership import RESPONSIBILITIES, resolve
from plantctl.plant import attack_paths

SCHEMA_VERSION = 1


def now_rfc3339(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(inv: Inventory, now: datetime | None = None) -> dict:
    """One document with everything the policies read."""

    def table(kind: str, with_site: bool = True) -> dict:
        out = {}
        for key, rec in inv.of(kind).items():
            item = dict(rec.data)
            if with_site and rec.site is not None:
                item["site"] = rec.site
            out[key] = item
        return out

    zones = table("zone")
    for key, zone in zones.items():
        zone["key"] = key
    conduits = table("conduit")
    for key, conduit in conduits.items():
        conduit["key"] = key
        conduit["services"] = [protocols.resolve(inv, s) for s in conduit["services"]]
    grants = table("grant")
    for grant in grants.values():
        grant["services"] = [protocols.resolve(inv, s) for s in grant["services"]]

    devices = addressing.devices(inv)
    by_address = {
        str(d.address): {"kind": d.kind, "id": d.id, "site": d.site, "zone": d.zone}
        for d in devices
    }

    owners: dict[str, dict[str, dict]] = {"sites": {}, "zones": {}}
    for site in inv.sites():
        owners["sites"][site] = resolve(inv, site)
    for key, rec in inv.of("zone").items():
        owners["zones"][key] = resolve(inv, rec.site, rec.id)

    return {
        "schema_version": SCHEMA_VERSION,
        "now": now_rfc3339(now),
        "responsibilities": list(RESPONSIBILITIES),
        "teams": table("team"),
        "people": table("person"),
        "roles": table("role"),
        "ownership": inv.ownership.data,
        "owners": owners,
        "training": list(table("training").values()),
        "bindings": list(table("binding").values()),
        "glossary": table("term"),
        "goals": table("goal"),
        "data_classes": table("data_class"),
        "sites": table("site"),
        "zones": zones,
        "conduits": conduits,
        "machines": table("machine"),
        "gateways": table("gateway"),
        "collectors": table("collector"),
        "grants": grants,
        "protocols": table("protocol"),
        "devices": table("device"),
        "waivers": table("waiver"),
        "devices_by_address": by_address,
        # Every site's attack paths from the internet, enterprise and remote access (paths.py).
        "attack_paths": attack_paths.fact(inv),
    }
