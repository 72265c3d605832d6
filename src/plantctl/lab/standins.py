"""The lab's stand-ins for a site's hardware and people, from the inventory (lab only).

A plant's network definition has no stand-ins; the lab needs something at every documented
address so that a flow through the zone firewall can be seen to pass or to be dropped:

- every machine: a PLC simulator (plantctl.lab.plc) when a collector reads it, serving exactly the
  collector's signals; otherwise a TCP listener on its controller port;
- every gateway and machine also listens on each TCP port that a conduit or a grant lets reach it
  (SSH and HTTPS from the bastion, say), so a permitted flow has something to connect to;
- one client host in each zone that has no documented device (site operations, enterprise): the
  source of that zone's conduits, at the zone's first free address, listening on SSH and HTTPS so
  that flows into the zone can be tried too;
- the internet: one host at 203.0.113.10 (documentation range) that listens on the TCP ports of
  conduits to the internet and is the source of conduits from it (vendors).

The broker and the bastion are not stand-ins: they are the real thing (booted machines).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netaddr import IPAddress, IPNetwork

from plantctl.model import addressing, protocols
from plantctl.model.inventory import Inventory
from plantctl.plant.segmentation import INTERNET, Flow, Segmentation

INTERNET_HOST = "203.0.113.10"
# Clients listen too, so that a flow into their zone that no conduit allows is seen to drop.
CLIENT_PORTS = (22, 443)

# The site services the lab stack boots as machines of their own (stacks/plantstack/lab.py).
LAB_MACHINES = ("broker", "bastion")


@dataclass(frozen=True)
class StandIn:
    name: str  # lab host name (namespace `<prefix>-<name>`)
    zone: str  # zone id, or INTERNET
    address: str
    kind: str  # machine, gateway, client, internet
    ports: tuple[int, ...] = ()  # TCP listeners
    plc: dict | None = field(default=None, compare=False)  # a collector source for the simulator

    @property
    def services(self) -> tuple[int, ...]:
        """Every TCP port something listens on at this host."""
        extra = (int(self.plc["port"]),) if self.plc else ()
        return tuple(sorted(set(self.ports) | set(extra)))


def _flow_reaches(flow: Flow, seg: Segmentation, zone: str, address: str) -> bool:
    if flow.destination_zone != zone or flow.service.protocol not in ("tcp", "any"):
        return False
    if not flow.destinations:
        return True
    return any(IPAddress(address) in IPNetwork(d) for d in flow.destinations)


def _tcp_ports(flows: list[Flow]) -> set[int]:
    ports: set[int] = set()
    for f in flows:
        if f.service.port is not None:
            last = f.service.port_end or f.service.port
            ports.update(range(f.service.port, min(last, f.service.port + 15) + 1))
    return ports


def build(inv: Inventory, site: str, seg: Segmentation) -> list[StandIn]:
    from plantctl.plant.collector_config import sources

    services = inv.of("site")[site].data.get("services", {})
    real = {svc["address"] for svc in services.values()}
    plcs = {}
    for gw in inv.site_objects("gateway", site):
        for src in sources(inv, gw.key):
            plcs[src["machine"]] = src
    grant_ports: dict[str, set[int]] = {}
    for g in inv.of("grant").values():
        if g.data["site"] == site:
            for s in (protocols.resolve(inv, s) for s in g.data["services"]):
                if s["protocol"] == "tcp" and s.get("port"):
                    grant_ports.setdefault(g.data["target"], set()).add(s["port"])

    out: list[StandIn] = []
    occupied = set()

    def ports_to(zone: str, address: str) -> set[int]:
        return _tcp_ports([f for f in seg.flows if _flow_reaches(f, seg, zone, address)])

    for dev in sorted(addressing.devices(inv), key=lambda d: (d.kind, d.id)):
        if dev.site != site or str(dev.address) in real or dev.kind not in ("machine", "gateway"):
            continue
        address = str(dev.address)
        occupied.add(dev.zone)
        ports = ports_to(dev.zone, address) | grant_ports.get(dev.id, set())
        plc = None
        if dev.kind == "machine":
            controller = dev.record.data["controller"]
            plc = plcs.get(dev.id)
            if plc is None:
                ports.add(int(controller["port"]))
            else:
                ports.discard(int(plc["port"]))
        out.append(StandIn(dev.id, dev.zone, address, dev.kind, tuple(sorted(ports)), plc))
    # A zone with a machine of the lab (the broker, the bastion) has a host to start from; a
    # service only documented here (the group's enterprise broker, which the one-site lab does
    # not run) leaves its zone a client stand-in.
    for name, svc in services.items():
        if name in LAB_MACHINES:
            occupied.add(svc["zone"])
    for zone in seg.zones:
        if zone.id in occupied:
            continue
        [free] = addressing.allocate(inv, site, zone.id, 1)
        ports = ports_to(zone.id, str(free)) | set(CLIENT_PORTS)
        out.append(
            StandIn(f"{site}-{zone.id}-client", zone.id, str(free), "client", tuple(sorted(ports)))
        )
    if seg.uses_internet:
        ports = _tcp_ports([f for f in seg.flows if f.destination_zone == INTERNET])
        ports |= set(CLIENT_PORTS)
        out.append(
            StandIn(f"{site}-internet", INTERNET, INTERNET_HOST, "internet", tuple(sorted(ports)))
        )
    return out


def allowed(seg: Segmentation, src_zone: str, src: str, dst_zone: str, dst: str, port: int) -> bool:
    """Would the zone firewall let a TCP connection from src to dst:port through?"""
    if src_zone == dst_zone:
        return True  # the same zone: one bridge, no firewall in between
    supernet = IPNetwork(seg.supernet)
    for f in seg.flows:
        if (f.source_zone, f.destination_zone) != (src_zone, dst_zone):
            continue
        if f.service.protocol not in ("tcp", "any"):
            continue
        svc = f.service
        if svc.port is not None and not svc.port <= port <= (svc.port_end or svc.port):
            continue
        if f.sources and not any(IPAddress(src) in IPNetwork(s) for s in f.sources):
            continue
        if not f.sources and src_zone == INTERNET and IPAddress(src) in supernet:
            continue
        if f.destinations and not any(IPAddress(dst) in IPNetwork(d) for d in f.destinations):
            continue
        if not f.destinations and dst_zone == INTERNET and IPAddress(dst) in supernet:
            continue
        return True
    return False
