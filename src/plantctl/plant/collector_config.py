"""One gateway's collector configuration, rendered from the validated inventory.

The controller side of the collector: the Ansible inventory plugin calls `render` for every
gateway and hands the document to the `collector` role, which only adds where the TLS files and
the state directory live on the gateway. `broker.account` is the gateway's broker account
(`gateway.<id>`, plant/broker_access.py), the common name its client certificate must have.
The result is checked with the collector's own parser, so a configuration that asks for any
write fails here, before it reaches a gateway.
"""

from __future__ import annotations

from typing import Any, cast

from plantctl.collector import config
from plantctl.model.inventory import Inventory, Record
from plantctl.plant import broker_access

DEFAULT_STATE_DIR = "/var/lib/plantctl-collector"
DEFAULT_TLS = {
    "ca_file": "/etc/plantctl-collector/tls/ca.pem",
    "cert_file": "/etc/plantctl-collector/tls/client.pem",
    "key_file": "/etc/plantctl-collector/tls/client.key",
}


def sources(inv: Inventory, gateway: str) -> list[dict[str, Any]]:
    """The inventory collectors that run on `gateway`, as configuration sources."""
    out = []
    for rec in sorted(inv.of("collector").values(), key=lambda r: r.key):
        col = rec.data
        if col["gateway"] != gateway:
            continue
        # The inventory is loaded, its references checked: the machine exists; a collector is
        # written under sites/<site>/.
        machine = cast(Record, inv.get("machine", col["machine"]))
        controller = machine.data["controller"]
        target = col.get("target") or controller
        # One derivation of the topic for the collector and the broker's ACL alike.
        prefix = broker_access.topic_prefix(inv, col, cast(str, rec.site))
        out.append(
            {
                "id": rec.key,
                "machine": machine.key,
                "protocol": col["protocol"],
                "address": target["address"],
                "port": target["port"],
                "unit_id": controller.get("unit_id", 1),
                "rack": controller.get("rack", 0),
                "slot": controller.get("slot", 1),
                "topic_prefix": prefix,
                "signals": [_signal(s) for s in col["signals"]],
            }
        )
    return out


def _signal(raw: dict[str, Any]) -> dict[str, Any]:
    keep = ("name", "data_class", "interval_s", "meaning", "unit", "modbus", "opcua", "s7", "logix")
    return {k: raw[k] for k in keep if k in raw}


def render(
    inv: Inventory,
    gateway: str,
    *,
    tls: dict[str, str] | None = None,
    state_dir: str = DEFAULT_STATE_DIR,
) -> dict[str, Any]:
    """The collector configuration document for `gateway` (raises config.ConfigError if it
    would not be accepted by the collector, e.g. a signal asking for a write)."""
    gw = inv.get("gateway", gateway)
    if gw is None:
        raise KeyError(f"no gateway {gateway!r} in the inventory")
    site = cast(Record, inv.get("site", cast(str, gw.site)))  # a gateway's site exists
    broker = site.data.get("services", {}).get("broker")
    if broker is None:
        raise config.ConfigError(
            f"site {gw.site} has no broker service; the collector on "
            f"{gateway} has nowhere to publish"
        )
    doc = {
        "version": config.VERSION,
        "site": gw.site,
        "gateway": gateway,
        "state_dir": state_dir,
        "broker": {
            "host": broker["address"],
            "port": broker["port"],
            "client_id": gateway,
            # one process, one client certificate: the gateway's account (broker_access)
            "account": broker_access.gateway_account(gateway),
            "qos": 1,
            "tls": dict(tls or DEFAULT_TLS),
        },
        "sources": sources(inv, gateway),
    }
    if broker_access.health_adopted(inv):  # the broker lets it write its health topic
        doc["health"] = True
    if gw.data.get("payload", "json") != "json":
        doc["payload"] = gw.data["payload"]
        doc["sparkplug_group"] = gw.data.get("sparkplug_group", gw.site)
    config.parse(doc, f"collector configuration of {gateway}")
    return doc
