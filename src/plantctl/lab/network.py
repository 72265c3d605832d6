"""A site's zones as lab networks, with addresses from the inventory.

Each zone is a Linux bridge. All bridges of a site live in one switch namespace
(`<prefix>-<site>-sw`), which has no addresses and routes nothing: zones meet only at the site
router namespace (`<prefix>-<site>-rt`), which has one leg in every zone at the zone's router
address (the first usable address, addressing.py's convention). The router forwards between
zones; a segmentation firewall (nftables) can be loaded into it with `router.run(["nft", ...])`.

A host is a namespace with one interface `eth0` in its zone's bridge, its inventory address and a
default route via the zone router.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netaddr import IPAddress, IPNetwork

from plantctl.lab.netns import Namespace, veth
from plantctl.model import addressing
from plantctl.model.inventory import Inventory


@dataclass
class Switch:
    """One zone: a bridge in the site's switch namespace."""

    zone: str
    network: IPNetwork
    fabric: Namespace
    bridge: str
    router_address: IPAddress
    _ports: list[str] = field(default_factory=list)

    def plug(self, ns: Namespace, iface: str, port: str) -> None:
        """Cable `ns`'s `iface` to this zone's bridge (switch-side name `port`)."""
        veth(self.fabric, port, ns, iface)
        self.fabric.ip("link", "set", port, "master", self.bridge)
        self.fabric.ip("link", "set", port, "up")
        self._ports.append(port)

    def prefixed(self, address: IPAddress | str) -> str:
        address = IPAddress(str(address))
        if address not in self.network:
            raise ValueError(f"{address} is not in zone {self.zone} ({self.network})")
        return f"{address}/{self.network.prefixlen}"


class SiteNetwork:
    """The zones of one site, joined by a router namespace. Build with `SiteNetwork.build`."""

    def __init__(self, site: str, fabric: Namespace, router: Namespace, namespace_factory):
        self.site = site
        self.fabric = fabric
        self.router = router
        self.switches: dict[str, Switch] = {}
        self._new_namespace = namespace_factory
        self._port = 0

    @classmethod
    def build(cls, inv: Inventory, site: str, namespace_factory) -> SiteNetwork:
        """Switch and router namespaces for `site`, one bridge per inventory zone.

        `namespace_factory(name) -> Namespace` creates (and registers for cleanup) a namespace
        under the lab's prefix; Lab.site_network passes its own."""
        nets = addressing.zone_networks(inv)
        zones = [(z.id, nets[z.key]) for z in inv.site_objects("zone", site)]
        return cls.from_zones(site, zones, namespace_factory)

    @classmethod
    def from_zones(
        cls, site: str, zones: list[tuple[str, IPNetwork]], namespace_factory
    ) -> SiteNetwork:
        """The same from the zones' ids and networks alone (the lab stack's provider: what
        the program computed from the inventory, never the inventory read again)."""
        fabric = namespace_factory(f"{site}-sw")
        router = namespace_factory(f"{site}-rt")
        net = cls(site, fabric, router, namespace_factory)
        for index, (zone, network) in enumerate(sorted(zones, key=lambda z: z[0])):
            bridge = f"z{index}"
            fabric.ip("link", "add", bridge, "type", "bridge")
            fabric.ip("link", "set", bridge, "up")
            switch = Switch(zone, network, fabric, bridge, IPAddress(network.first + 1))
            net.switches[zone] = switch
            iface = f"z{index}"
            switch.plug(router, iface, net._next_port())
            router.add_address(iface, switch.prefixed(switch.router_address))
        router.forwarding(True)
        return net

    def _next_port(self) -> str:
        self._port += 1
        return f"p{self._port}"

    def zone(self, zone: str) -> Switch:
        try:
            return self.switches[zone]
        except KeyError:
            raise KeyError(
                f"site {self.site} has no zone {zone!r}; zones: " + ", ".join(sorted(self.switches))
            ) from None

    def host(self, name: str, zone: str, address: IPAddress | str) -> Namespace:
        """A new namespace `name` with `eth0` in `zone` at `address`, routed via the zone
        router."""
        switch = self.zone(zone)
        ns = self._new_namespace(name)
        self.attach(ns, zone, address)
        ns.default_route(str(switch.router_address))
        return ns

    def attach(self, ns: Namespace, zone: str, address: IPAddress | str, iface: str = "eth0"):
        """Give an existing namespace an interface in `zone` (no route changes)."""
        switch = self.zone(zone)
        switch.plug(ns, iface, self._next_port())
        ns.add_address(iface, switch.prefixed(address))
