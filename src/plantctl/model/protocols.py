"""The protocol catalogue (inventory/protocols.yaml): a service that names an application
protocol (`app: modbus-tcp`) gets its transport and ports from there, so the policies, the
firewall renderer, the bastion and the lab read one definition of each protocol. A service
written as transport and ports is matched back to the catalogue entries it carries (tcp 23 is
telnet whatever it is called), so the rules about protocols see both spellings alike."""

from __future__ import annotations

from typing import Any

from plantctl.model.inventory import Inventory


def resolve(inv: Inventory, service: dict[str, Any]) -> dict[str, Any]:
    """The service with protocol and port (and port_end) filled in from its `app`, and `apps`:
    the ids of the catalogue entries it carries."""
    app = service.get("app")
    if app is None:
        return {**service, "apps": carried(inv, service)}
    entry = inv.get("protocol", app)
    if entry is None:  # the loader's references refuse this first
        raise KeyError(f"unknown application protocol {app!r}")
    data = entry.data
    out = {**service, "protocol": data["transport"], "apps": [app]}
    for key in ("port", "port_end"):
        if key in data:
            out[key] = data[key]
    out.setdefault("name", app)
    return out


def carried(inv: Inventory, service: dict[str, Any]) -> list[str]:
    """Catalogue ids whose transport and port a raw service lets through (every entry of the
    transport when it names no port, every routed entry for `any`)."""
    proto = service.get("protocol")
    low = service.get("port")
    high = service.get("port_end", low)
    found = []
    for key, entry in inv.of("protocol").items():
        data = entry.data
        if data["transport"] != proto and not (proto == "any" and data["transport"] != "ethernet"):
            continue  # `any` is every routed protocol; layer 2 is never routed
        ranged = proto != "any" and low is not None and "port" in data
        if ranged and not (isinstance(high, int) and low <= data["port"] <= high):
            continue
        found.append(key)
    return sorted(found)
