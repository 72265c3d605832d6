"""A site's segmentation, read from the validated inventory: its zones and the allowed flows.

Each declared conduit becomes one `Flow` per service: from a zone (or the internet) to a zone (or
the internet), from its source addresses (the whole source zone when the conduit names none) to
its destination addresses (likewise), on one protocol and port range. Anything that is not a flow
is denied. The nftables renderer, the lab firewall, the production firewall (Meraki) and the plan
policy all start from this one model.
"""

from __future__ import annotations

from dataclasses import dataclass

from netaddr import IPAddress, IPNetwork

from plantctl.model import protocols, tokens
from plantctl.model.addressing import zone_networks
from plantctl.model.inventory import Inventory

INTERNET = "internet"


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    cidr: str
    router: str  # the zone's first usable address (addressing.py reserves it)
    prefixlen: int
    vlan: int | None
    purdue_level: float
    internet_egress: bool


@dataclass(frozen=True)
class Service:
    protocol: str  # tcp, udp, icmp, any
    port: int | None = None
    port_end: int | None = None
    name: str | None = None

    @property
    def ports(self) -> str | None:
        """'502', '1000-1010' or None (every port, or a protocol without ports)."""
        if self.port is None or self.protocol not in ("tcp", "udp"):
            return None
        if self.port_end is not None and self.port_end != self.port:
            return f"{self.port}-{self.port_end}"
        return str(self.port)


@dataclass(frozen=True)
class Flow:
    """One allowed flow: a conduit and one of its services."""

    conduit: str
    source_zone: str  # a zone id or INTERNET
    destination_zone: str
    sources: tuple[str, ...]  # addresses or CIDRs; () only for the internet: anywhere outside
    destinations: tuple[str, ...]
    service: Service
    file: str = ""
    line: int = 0

    @property
    def name(self) -> str:
        svc = self.service
        label = svc.name or svc.protocol + (f"-{svc.ports}" if svc.ports else "")
        return f"{self.conduit}/{label}"

    def as_dict(self) -> dict:
        """The flow as plain data: the form stacks declare and the plan policy reads."""
        return {
            "conduit": self.conduit,
            "name": self.name,
            "from": self.source_zone,
            "to": self.destination_zone,
            "sources": list(self.sources),
            "destinations": list(self.destinations),
            "protocol": self.service.protocol,
            "ports": self.service.ports or "any",
        }


@dataclass(frozen=True)
class Segmentation:
    site: str
    supernet: str
    zones: tuple[Zone, ...]
    flows: tuple[Flow, ...]

    def zone(self, zone_id: str) -> Zone:
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(zone_id)

    @property
    def uses_internet(self) -> bool:
        return any(INTERNET in (f.source_zone, f.destination_zone) for f in self.flows)


def _service(data: dict, what: str) -> Service:
    if data.get("protocol") == "ethernet":
        # A layer-2 protocol has no routed form; the policy refuses such conduits (SEG-017).
        raise tokens.UnsafeToken(f"{what} is a layer-2 protocol; no routed rule can carry it")
    proto = tokens.protocol(data["protocol"], f"{what} protocol")
    port = data.get("port")
    port_end = data.get("port_end")
    if port_end is not None and (port is None or port_end < port):
        # Policy refuses these (SEG-003, RA-013); never render "4840-1" or a range from nothing.
        raise tokens.UnsafeToken(
            f"{what} port range {port}-{port_end} does not run upwards; refusing to write it"
        )
    return Service(
        proto,
        tokens.port(port, f"{what} port") if port is not None else None,
        tokens.port(port_end, f"{what} port_end") if port_end is not None else None,
        tokens.ident(data["name"], f"{what} name") if data.get("name") else None,
    )


def build(inv: Inventory, site: str) -> Segmentation:
    """The segmentation of one site. Raises KeyError for an unknown site."""
    site_rec = inv.get("site", site)
    if site_rec is None:
        raise KeyError(site)
    nets = zone_networks(inv)
    zones = []
    for rec in sorted(inv.site_objects("zone", site), key=lambda r: (r.data["purdue_level"], r.id)):
        net: IPNetwork = nets[rec.key]
        zones.append(
            Zone(
                id=tokens.ident(rec.id, "zone id"),
                name=rec.data["name"],
                cidr=tokens.cidr(str(net.cidr), f"zone {rec.id} cidr"),
                router=str(IPAddress(net.first + 1)),
                prefixlen=net.prefixlen,
                vlan=rec.data.get("vlan"),
                purdue_level=rec.data["purdue_level"],
                internet_egress=bool(rec.data.get("internet_egress", False)),
            )
        )
    by_id = {z.id: z for z in zones}

    def ends(zone_id: str, listed: list | None, what: str) -> tuple[str, ...]:
        if listed:
            return tuple(tokens.cidr(a, what) for a in listed)
        if zone_id == INTERNET:
            return ()
        return (by_id[zone_id].cidr,)

    flows = []
    for rec in sorted(inv.site_objects("conduit", site), key=lambda r: r.line):
        data = rec.data
        cid = tokens.ident(rec.id, "conduit id")
        src_zone = tokens.ident(data["from"], f"conduit {cid} from")
        dst_zone = tokens.ident(data["to"], f"conduit {cid} to")
        for i, svc in enumerate(data["services"]):
            flows.append(
                Flow(
                    conduit=cid,
                    source_zone=src_zone,
                    destination_zone=dst_zone,
                    sources=ends(src_zone, data.get("sources"), f"conduit {cid} source"),
                    destinations=ends(dst_zone, data.get("destinations"), f"conduit {cid} dest"),
                    service=_service(protocols.resolve(inv, svc), f"conduit {cid} service {i}"),
                    file=rec.file,
                    line=rec.line,
                )
            )
    return Segmentation(
        site=tokens.ident(site, "site id"),
        supernet=tokens.cidr(site_rec.data["supernet"], f"site {site} supernet"),
        zones=tuple(zones),
        flows=tuple(flows),
    )
