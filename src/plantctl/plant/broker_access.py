"""Who may do what on a site's MQTT broker, derived from the data-access rules of the inventory.

- A gateway publishes only its collectors' topics: `<site>/<zone>/<machine>/<data class>/<signal>`
  for each signal a collector of the gateway is configured with (the machine's zone;
  `publish_prefix` replaces the first three levels when the collector sets it). It reads nothing.
  A gateway runs one collector process with one client certificate, whatever the number of its
  collectors (collector/service.py), so the broker account is the gateway's and its ACL is the
  union of its collectors' topics.
- A role may subscribe only to the data classes that list it as a viewer (data_classes[].viewers):
  `<site>/+/+/<data class>/+`. It publishes nothing.

Gateways with `payload: sparkplug-b` publish Sparkplug B instead (collector/sparkplug.py):
`spBv1.0/<group>/<type>/<gateway>/<machine>.<data class>`. Their collectors may publish NBIRTH
and NDEATH of their gateway, DBIRTH, DDATA and DDEATH of their own devices, and read only their
gateway's NCMD (a rebirth request). A role may subscribe to the devices of the data classes it
views, by name, and to the NBIRTH/NDEATH of those devices' gateways (state, no values). No
account may publish an NCMD or a DCMD: a command to an edge node is a write to the plant
(`build` derives none; configs/mosquitto.py refuses to render one, `is_command`).

Health (collector/service.py): once the inventory has the data class `gateway-health`
(config.HEALTH_CLASS: its owner, retention and viewers agreed like any other class), every
gateway may also write its retained health topic `<site>/_health/<gateway>` (the
will says offline), and a role that views that class may read `<site>/_health/+`. Without the
class no account may touch the health topics (the broker drops what a collector publishes there).

Accounts are named `gateway.<id>` and `role.<id>` (ACCOUNT): the dot cannot occur in an
inventory id, so a gateway can never be confused with a role. Clients authenticate with a TLS
client certificate whose common name is the account name (Mosquitto `use_identity_as_username`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plantctl.collector import config
from plantctl.collector.sparkplug import NAMESPACE as SPARKPLUG
from plantctl.model import tokens
from plantctl.model.inventory import Inventory

# The topic format is the collector's (plantctl.collector.config: topic_prefix, topic,
# class_subscription), so what a collector publishes and what its ACL allows cannot differ.
TOPIC_LEVEL = config.TOPIC_LEVEL
# The shape of every broker account (and of its client certificate's common name).
ACCOUNT = re.compile(r"(gateway|role)\." + tokens.ID.pattern)
# Sparkplug message types that command an edge node or a device: writes to the plant.
COMMANDS = ("NCMD", "DCMD")


@dataclass(frozen=True)
class Account:
    username: str
    kind: str  # gateway | role
    subject: str  # the gateway or role id
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    collectors: tuple[str, ...] = ()  # a gateway's collectors, whose topics `write` unites


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    tls: bool = True
    require_certificate: bool = True


@dataclass(frozen=True)
class BrokerAccess:
    site: str
    broker_id: str
    zone: str
    listeners: tuple[Listener, ...]
    accounts: tuple[Account, ...]

    def account(self, username: str) -> Account:
        for acc in self.accounts:
            if acc.username == username:
                return acc
        raise KeyError(username)


def gateway_account(gateway_id: str) -> str:
    """The broker account (and client certificate common name) of a gateway's collector process."""
    return "gateway." + tokens.ident(gateway_id, "gateway id")


def role_account(role_id: str) -> str:
    return "role." + tokens.ident(role_id, "role id")


def topic_prefix(inv: Inventory, collector: dict, site: str) -> str:
    """`<site>/<zone>/<machine>` of a collector's machine, or its checked publish_prefix."""
    prefix = collector.get("publish_prefix")
    if prefix:
        levels = prefix.split("/")
        if not all(TOPIC_LEVEL.fullmatch(level) and level not in (".", "..") for level in levels):
            raise tokens.UnsafeToken(
                f"publish_prefix {prefix!r} of collector {collector['id']!r} is not a topic of "
                "plain levels (letters, digits, '_', '.', '-' separated by '/')"
            )
        return prefix
    machine = inv.get("machine", collector["machine"])
    if machine is None:
        raise KeyError(collector["machine"])
    return config.topic_prefix(
        tokens.ident(site, "site id"),
        tokens.ident(machine.data["zone"], "zone id"),
        tokens.ident(machine.key, "machine id"),
    )


def collector_topics(inv: Inventory, collector: dict, site: str) -> tuple[str, ...]:
    """Every topic a collector publishes: one per configured signal."""
    prefix = topic_prefix(inv, collector, site)
    return tuple(
        config.topic(
            prefix, tokens.ident(s["data_class"], "data class"), tokens.ident(s["name"], "signal")
        )
        for s in collector["signals"]
    )


def sparkplug_group(inv: Inventory, collector: dict, site: str) -> str | None:
    """The Sparkplug group id of the collector's gateway, or None for a JSON gateway."""
    gw = inv.get("gateway", collector["gateway"])
    if gw is None or gw.data.get("payload", "json") != "sparkplug-b":
        return None
    return tokens.ident(gw.data.get("sparkplug_group", site), "sparkplug group")


def sparkplug_devices(inv: Inventory, collector: dict, site: str) -> tuple[str, ...]:
    machine = inv.get("machine", collector["machine"])
    if machine is None:
        raise KeyError(collector["machine"])
    classes = sorted({s["data_class"] for s in collector["signals"]})
    return tuple(
        f"{tokens.ident(machine.key, 'machine id')}.{tokens.ident(c, 'data class')}"
        for c in classes
    )


def sparkplug_topics(
    inv: Inventory, collector: dict, site: str, group: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(write, read) of a Sparkplug collector."""
    node = f"{SPARKPLUG}/{group}/{{}}/{tokens.ident(collector['gateway'], 'gateway id')}"
    write = [node.format("NBIRTH"), node.format("NDEATH")]
    for dev in sparkplug_devices(inv, collector, site):
        write += [f"{node.format(kind)}/{dev}" for kind in ("DBIRTH", "DDATA", "DDEATH")]
    return tuple(write), (node.format("NCMD"),)


def is_command(topic: str) -> bool:
    """Whether a topic (or filter) is a Sparkplug NCMD or DCMD, or a wildcard that covers one."""
    levels = topic.split("/")
    if levels[0] not in (SPARKPLUG, "+", "#"):
        return False
    if "#" in levels[:3]:
        return True
    return len(levels) >= 3 and levels[2] in (*COMMANDS, "+")


def health_adopted(inv: Inventory) -> bool:
    """Whether the inventory declares the health data class (who owns and views gateway health)."""
    return inv.get("data_class", config.HEALTH_CLASS) is not None


def health_topic(collector: dict, site: str) -> str:
    return config.health_topic(
        tokens.ident(site, "site id"), tokens.ident(collector["gateway"], "gateway id")
    )


def viewable_classes(inv: Inventory, role_id: str) -> tuple[str, ...]:
    return tuple(
        sorted(
            key
            for key, rec in inv.of("data_class").items()
            if role_id in rec.data.get("viewers", [])
        )
    )


def build(inv: Inventory, site: str) -> BrokerAccess:
    """The broker's listeners and accounts for one site. KeyError when it has no broker."""
    site_rec = inv.get("site", site)
    if site_rec is None:
        raise KeyError(site)
    svc = site_rec.data.get("services", {}).get("broker")
    if svc is None:
        raise KeyError(f"{site}: no broker in site.yaml services")
    accounts: list[Account] = []
    # Sparkplug devices by data class: [(group, gateway, device)]
    sparkplug: dict[str, list[tuple[str, str, str]]] = {}
    by_gateway: dict[str, list[dict]] = {}
    for rec in sorted(inv.site_objects("collector", site), key=lambda r: r.key):
        by_gateway.setdefault(rec.data["gateway"], []).append(rec.data | {"id": rec.key})
    for gateway, collectors in sorted(by_gateway.items()):
        write: list[str] = []
        read: list[str] = []
        for col in collectors:
            group = sparkplug_group(inv, col, site)
            own_write: tuple[str, ...]
            own_read: tuple[str, ...]
            if group is None:
                own_write, own_read = collector_topics(inv, col, site), ()
            else:
                own_write, own_read = sparkplug_topics(inv, col, site, group)
                for dev in sparkplug_devices(inv, col, site):
                    cls = dev.split(".", 1)[1]
                    sparkplug.setdefault(cls, []).append((group, gateway, dev))
            # the union: a Sparkplug gateway's collectors share its NBIRTH, NDEATH and NCMD
            write += [t for t in own_write if t not in write]
            read += [t for t in own_read if t not in read]
        if health_adopted(inv):
            write.append(health_topic(collectors[0], site))
        accounts.append(
            Account(
                gateway_account(gateway),
                "gateway",
                gateway,
                read=tuple(read),
                write=tuple(write),
                collectors=tuple(c["id"] for c in collectors),
            )
        )
    for role_id in sorted(inv.of("role")):
        classes = viewable_classes(inv, role_id)
        if not classes:
            continue
        subscribed = [
            config.class_subscription(tokens.ident(site), tokens.ident(c))
            for c in classes
            if c != config.HEALTH_CLASS
        ]
        if config.HEALTH_CLASS in classes:
            subscribed.append(config.health_subscription(tokens.ident(site)))
        for group, gateway, dev in sorted({d for c in classes for d in sparkplug.get(c, [])}):
            subscribed.append(f"{SPARKPLUG}/{group}/+/{gateway}/{dev}")
            for kind in ("NBIRTH", "NDEATH"):
                topic = f"{SPARKPLUG}/{group}/{kind}/{gateway}"
                if topic not in subscribed:
                    subscribed.append(topic)
        accounts.append(Account(role_account(role_id), "role", role_id, read=tuple(subscribed)))
    return BrokerAccess(
        site=tokens.ident(site, "site id"),
        broker_id=tokens.ident(svc["id"], "broker id"),
        zone=tokens.ident(svc["zone"], "broker zone"),
        listeners=(Listener(tokens.ipv4(svc["address"]), tokens.port(svc["port"])),),
        accounts=tuple(accounts),
    )
