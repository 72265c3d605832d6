"""What each site broker forwards to the plant group's enterprise broker, from the inventory.

The facts, each written once:
- a data class says whether its owner lets it leave its site (data_classes.yaml `leaves_site`);
- one site hosts the group's enterprise broker (site.yaml `services.enterprise_broker`);
- a site that bridges names the classes it forwards and the WAN outage its queue must cover
  (site.yaml `bridge`).

The policy (policies/bridging, BRG-*) rejects a site that asks to forward a class that may not
leave, an enterprise broker outside an enterprise zone, and bridges without one enterprise
broker. What is derived here fails closed whatever the gate said: a class that may not leave is
never forwarded (it is listed in `kept`), a site without a broker has no bridge.

Each site's bridge is a Mosquitto `connection` (configs/mosquitto_bridge.py) that logs in to the
enterprise broker as `bridge.<site>` (its client certificate's common name; the dot cannot occur
in an inventory id, so it never meets a gateway or role account), forwards
`<site>/+/+/<class>/#` at QoS 1 with the topic unchanged (the site is its first level, so sites
never mix), with a persistent session and a queue sized for the outage. The enterprise broker
lets each bridge account write only its own site's forwarded classes, and each role read the
forwarded classes it views, from every site.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from plantctl.model import tokens
from plantctl.model.inventory import Inventory
from plantctl.plant.broker_access import Account, BrokerAccess, Listener, role_account

BRIDGE_ACCOUNT = re.compile(r"bridge\." + tokens.ID.pattern)
# The queue holds the outage's samples twice over (bursts, retained health, a slow drain), and
# never fewer than QUEUE_FLOOR (a site whose collectors publish little still has a queue).
QUEUE_HEADROOM = 2
QUEUE_FLOOR = 1000


@dataclass(frozen=True)
class Endpoint:
    id: str
    site: str
    zone: str
    address: str
    port: int


@dataclass(frozen=True)
class SiteBridge:
    site: str
    broker_id: str  # the site broker the connection runs in
    connection: str  # the Mosquitto connection name
    account: str  # bridge.<site>: client certificate CN and remote client id
    remote: Endpoint
    classes: tuple[str, ...]  # forwarded: they leave their site
    kept: tuple[str, ...]  # asked for but may not leave: never forwarded (BRG-001)
    rate_per_s: float  # samples per second the site's collectors publish in `classes`
    outage_minutes: int
    max_queued_messages: int

    @property
    def topics(self) -> tuple[str, ...]:
        """The topic patterns forwarded, unchanged on the enterprise broker."""
        return tuple(class_pattern(self.site, c) for c in self.classes)


@dataclass(frozen=True)
class GroupBridges:
    enterprise: Endpoint
    sites: tuple[SiteBridge, ...]

    @property
    def consumer_queue(self) -> int:
        """An enterprise consumer receives every site's forwarded samples: its queue at the
        enterprise broker holds what all the site queues hold (a consumer that is away as long
        as the declared outage, or slower than a draining bridge, loses nothing)."""
        return sum(b.max_queued_messages for b in self.sites)

    def site(self, site: str) -> SiteBridge:
        for bridge in self.sites:
            if bridge.site == site:
                return bridge
        raise KeyError(site)


def bridge_account(site: str) -> str:
    return "bridge." + tokens.ident(site, "site id")


def class_pattern(site: str, data_class: str) -> str:
    """`<site>/+/+/<class>/#`: every signal of a class at every zone and machine of a site."""
    return f"{tokens.ident(site, 'site id')}/+/+/{tokens.ident(data_class, 'data class')}/#"


def leaves_site(inv: Inventory, data_class: str) -> bool:
    rec = inv.get("data_class", data_class)
    return rec is not None and rec.data.get("leaves_site", False) is True


def enterprise_broker(inv: Inventory) -> Endpoint | None:
    """The group's enterprise broker (the first site declaring one; BRG-003 wants exactly one)."""
    for site in inv.sites():
        svc = inv.of("site")[site].data.get("services", {}).get("enterprise_broker")
        if svc is not None:
            return Endpoint(
                tokens.ident(svc["id"], "broker id"),
                site,
                tokens.ident(svc["zone"], "zone id"),
                tokens.ipv4(svc["address"]),
                tokens.port(svc["port"]),
            )
    return None


def bridged_rate(inv: Inventory, site: str, classes: tuple[str, ...]) -> float:
    """Samples per second the site's JSON collectors publish in `classes` (Sparkplug topics are
    not `<site>/...` and are not bridged)."""
    gateways = inv.of("gateway")
    rate = 0.0
    for rec in inv.site_objects("collector", site):
        gw = gateways.get(rec.data["gateway"])
        if gw is not None and gw.data.get("payload", "json") != "json":
            continue
        rate += sum(
            1.0 / s["interval_s"] for s in rec.data["signals"] if s["data_class"] in classes
        )
    return rate


def queue_size(rate_per_s: float, outage_minutes: int) -> int:
    return max(QUEUE_FLOOR, math.ceil(rate_per_s * outage_minutes * 60 * QUEUE_HEADROOM))


def build(inv: Inventory) -> GroupBridges | None:
    """Every site's bridge; None when the group has no enterprise broker."""
    remote = enterprise_broker(inv)
    if remote is None:
        return None
    sites: list[SiteBridge] = []
    for site in inv.sites():
        data = inv.of("site")[site].data
        wanted = data.get("bridge")
        broker = data.get("services", {}).get("broker")
        if wanted is None or broker is None:
            continue
        classes = tuple(c for c in wanted["classes"] if leaves_site(inv, c))
        kept = tuple(c for c in wanted["classes"] if not leaves_site(inv, c))
        rate = bridged_rate(inv, site, classes)
        sites.append(
            SiteBridge(
                site=tokens.ident(site, "site id"),
                broker_id=tokens.ident(broker["id"], "broker id"),
                connection=f"{tokens.ident(site)}-to-{remote.id}",
                account=bridge_account(site),
                remote=remote,
                classes=classes,
                kept=kept,
                rate_per_s=rate,
                outage_minutes=wanted["outage_minutes"],
                max_queued_messages=queue_size(rate, wanted["outage_minutes"]),
            )
        )
    return GroupBridges(remote, tuple(sites))


def enterprise_access(inv: Inventory, bridges: GroupBridges) -> BrokerAccess:
    """The enterprise broker: its listener, one account per site bridge (writes its site's
    forwarded classes), one per role that views a forwarded class (reads it from every site)."""
    accounts = [
        Account(b.account, "bridge", b.site, write=b.topics) for b in bridges.sites if b.classes
    ]
    forwarded = sorted({c for b in bridges.sites for c in b.classes})
    for role_id in sorted(inv.of("role")):
        read = tuple(
            f"+/+/+/{c}/+"
            for c in forwarded
            if role_id in inv.of("data_class")[c].data.get("viewers", [])
        )
        if read:
            accounts.append(Account(role_account(role_id), "role", role_id, read=read))
    ent = bridges.enterprise
    return BrokerAccess(
        site=ent.site,
        broker_id=ent.id,
        zone=ent.zone,
        listeners=(Listener(ent.address, ent.port),),
        accounts=tuple(accounts),
    )
