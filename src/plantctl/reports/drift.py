"""Drift: the inventory against what passive OT monitoring saw on the plant network.

`plantctl drift --from FILE` streams an export (plantctl.monitoring: Nozomi Guardian, Claroty
CTD, Defender for IoT, CSV) and reports per site:

- undocumented devices: seen, not in the inventory (addresses, MACs, vendor, model, firmware,
  protocols, the zone their address falls in);
- missing devices: in the inventory, not seen (within --seen-within days where the export says
  when it last saw each asset; an export without last_seen is said so);
- mismatches: address, zone by address, Purdue level, vendor/model/firmware where the inventory
  records them, a machine's controller protocol;
- flows seen that no conduit allows (with a links export, `--links`: Nozomi `query=links`), and
  conduits never used (a hint, not drift).

Matching is by (site, IP) first; then by MAC (an asset at an undocumented address with the MAC of
one matched by IP is that device at a second address; a MAC seen on several matched assets, a
router's or a gateway's, matches nothing); then by name (the asset's name is an inventory id or
name of the site). The vendor's asset id is provenance only. The site is the export's own site
field (Claroty site_name: a site id or name) where it has one, else the site whose supernet holds
the address; an asset with neither is invalid input. Only sites the export saw something of (or
--site) are compared. Each finding names the inventory object's file:line where one exists.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netaddr import IPNetwork

from plantctl import __version__
from plantctl.core.problems import InvalidInput, Problem, bounded
from plantctl.model import addressing
from plantctl.model.inventory import Inventory, Record
from plantctl.monitoring import Asset, Export, Link, open_export
from plantctl.monitoring import links as read_links
from plantctl.monitoring.base import ipv4_int
from plantctl.plant import segmentation

RULES = {
    "undocumented": ("DRIFT-UNDOCUMENTED", "error", "Seen on the network, not in the inventory"),
    "missing": ("DRIFT-MISSING", "error", "In the inventory, not seen on the network"),
    "mismatch": ("DRIFT-MISMATCH", "error", "Seen otherwise than the inventory says"),
    "flow": ("DRIFT-FLOW", "error", "A flow seen that no conduit allows"),
    "unused-conduit": ("DRIFT-UNUSED", "note", "A conduit no seen flow used (a hint)"),
}
SECTIONS = (
    ("undocumented", "Undocumented devices"),
    ("missing", "Missing devices"),
    ("mismatch", "Mismatches"),
    ("flow", "Flows no conduit allows"),
    ("unused-conduit", "Conduits never used (hints)"),
)
DEFAULT_SEEN_WITHIN = 30

# How monitoring systems name the controller protocols of machines.controller.protocol.
CONTROLLER_PROTOCOLS = {
    "modbus-tcp": {"modbus", "modbus-tcp", "modbus/tcp", "modbustcp", "modbus tcp", "mbtcp"},
    "opcua": {"opcua", "opc-ua", "opc ua", "opc_ua", "opc-ua-tcp", "opcua-tcp", "opc ua binary"},
    "s7": {"s7", "s7comm", "s7comm-plus", "s7plus", "s7comm+", "siemens s7", "iso-tsap"},
    "ethernet-ip": {"ethernet-ip", "ethernet/ip", "ethernetip", "enip", "cip", "ethernet ip"},
    "profinet": {"profinet", "pnio", "profinet-io", "profinet io", "pn-dcp", "profinet-rt"},
}
_PROTOCOL_OF = {name: proto for proto, names in CONTROLLER_PROTOCOLS.items() for name in names}
# Vendor protocol names -> the inventory's catalogue (inventory/protocols.yaml) ...
_CATALOGUE = {
    "modbus": "modbus-tcp",
    "opcua": "opc-ua",
    "opc-ua-tcp": "opc-ua",
    "s7": "s7comm",
    "s7comm-plus": "s7comm",
    "s7plus": "s7comm",
    "enip": "ethernet-ip",
    "ethernetip": "ethernet-ip",
    "ethernet/ip": "ethernet-ip",
    "cip": "ethernet-ip",
    "mqtt-tls": "mqtts",
    "mqtt/tls": "mqtts",
    "ssl": "https",
    "tls": "https",
    "remote desktop": "rdp",
    "ping": "icmp",
}
# ... or, outside it, a transport and port.
_PLAIN = {
    "mqtt": ("tcp", 1883),
    "dnp3": ("tcp", 20000),
    "iec104": ("tcp", 2404),
    "bacnet": ("udp", 47808),
    "dns": ("udp", 53),
    "ntp": ("udp", 123),
    "snmp": ("udp", 161),
    "smb": ("tcp", 445),
}


@dataclass
class Finding:
    site: str
    kind: str  # a key of RULES
    message: str
    file: str | None = None  # the inventory object's file and line, where one exists
    line: int | None = None
    object: str | None = None  # the inventory object ('gateway gw-rw-03')
    seen: dict | None = None  # what the monitoring system saw (undocumented, mismatch)
    provenance: dict | None = None  # the export record (file, record, vendor's asset id)
    aspect: str | None = None  # mismatch: address, zone, level, vendor, model, firmware, protocol

    @property
    def rule(self) -> str:
        return RULES[self.kind][0]

    @property
    def hint(self) -> bool:
        return RULES[self.kind][1] == "note"

    def as_dict(self) -> dict:
        out = {
            "site": self.site,
            "kind": self.kind,
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "object": self.object,
        }
        for key in ("aspect", "seen", "provenance"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class Result:
    source: str
    format: str
    now: datetime
    seen_within: int
    links: str | None
    sites: list[str]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    assets: int = 0
    flows: int = 0

    @property
    def drift(self) -> bool:
        return any(not f.hint for f in self.findings)

    def of(self, site: str, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.site == site and f.kind == kind]

    def counts(self) -> dict[str, int]:
        return {kind: sum(f.kind == kind for f in self.findings) for kind, _ in SECTIONS}


@dataclass(slots=True)
class _Documented:
    """One documented address: a machine's controller, a gateway, a device, a site service."""

    key: str  # '<site>/<id>'
    kind: str  # machine, gateway, device, broker, bastion
    id: str
    site: str
    zone: str
    address: str
    record: Record
    keys: tuple
    name: str | None
    vendor: str | None
    model: str | None
    firmware: str | None
    protocol: str | None  # a machine's controller protocol

    def label(self) -> str:
        return f"{self.kind} {self.id}"

    def where(self) -> tuple[str, int]:
        """The object's file and line: its entry, or a site service's own line."""
        if self.kind in ("machine", "gateway", "device"):
            return self.record.file, self.record.line
        file, line, _ = self.record.locate(*self.keys[:-1])
        return file, line


class _Plan:
    """The inventory as addresses: documented devices by (site, address), zones and sites by
    address range (bisect over sorted ranges), names per site."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self.by_address: dict[tuple[str, int], _Documented] = {}
        self.by_name: dict[str, dict[str, _Documented | None]] = {}
        self.routers: dict[tuple[str, int], str] = {}
        self.zone_level: dict[tuple[str, str], float] = {}
        self.zone_rec: dict[tuple[str, str], Record] = {}
        zones: list[tuple[int, int, str, str]] = []
        for key, net in addressing.zone_networks(inv).items():
            rec = inv.of("zone")[key]
            assert rec.site is not None
            zones.append((net.first, net.last, rec.site, rec.id))
            self.zone_level[(rec.site, rec.id)] = float(rec.data["purdue_level"])
            self.zone_rec[(rec.site, rec.id)] = rec
            if net.size > 2:
                self.routers[(rec.site, net.first + 1)] = rec.id
        zones.sort()
        self._zone_starts = [z[0] for z in zones]
        self._zones = zones
        sites = []
        self.site_names: dict[str, str] = {}
        for site, rec in inv.of("site").items():
            net = addressing.parse_network(rec.data["supernet"])
            if net is not None:
                sites.append((net.first, net.last, site))
            self.site_names[site.casefold()] = site
            if rec.data.get("name"):
                self.site_names[str(rec.data["name"]).casefold()] = site
        sites.sort()
        self._site_starts = [s[0] for s in sites]
        self._sites = sites
        for dev in addressing.devices(inv):
            data = dev.record.data
            own = dev.record.kind in ("machine", "gateway", "device")
            doc = _Documented(
                key=f"{dev.site}/{dev.id}",
                kind=dev.record.kind if own else dev.kind,
                id=dev.id,
                site=dev.site,
                zone=dev.zone,
                address=str(dev.address),
                record=dev.record,
                keys=dev.keys,
                name=data.get("name") if own else None,
                vendor=data.get("vendor") if own else None,
                model=data.get("model") if own else None,
                firmware=data.get("firmware") if own else None,
                protocol=data["controller"]["protocol"] if dev.record.kind == "machine" else None,
            )
            self.by_address[(dev.site, dev.address.value)] = doc
            names = self.by_name.setdefault(dev.site, {})
            for name in {_norm(doc.id), _norm(doc.name or doc.id)}:
                names[name] = None if name in names and names[name] is not doc else doc

    @staticmethod
    def _find(starts: list[int], ranges: list[tuple], value: int):
        """The range holding `value`: they never overlap (the loader refuses overlaps)."""
        i = bisect.bisect_right(starts, value) - 1
        if i >= 0 and ranges[i][0] <= value <= ranges[i][1]:
            return ranges[i]
        return None

    def site_of(self, value: int) -> str | None:
        found = self._find(self._site_starts, self._sites, value)
        return found[2] if found else None

    def zone_of(self, site: str, value: int) -> str | None:
        found = self._find(self._zone_starts, self._zones, value)
        return found[3] if found and found[2] == site else None

    def site_named(self, text: str) -> str | None:
        return self.site_names.get(text.casefold())


def _value(ip: str) -> int | None:
    """An address's integer (the readers checked the text); None for IPv6, never in the plan."""
    return ipv4_int(ip)


def _unicast(value: int) -> bool:
    """Not 0/8, loopback, link-local (169.254/16), multicast or reserved (224/3): never a
    device's address in a plan."""
    first = value >> 24
    return first not in (0, 127) and first < 224 and value >> 16 != 0xA9FE


def _norm(text: str | None) -> str:
    return " ".join(str(text or "").split()).casefold()


def _seen(asset: Asset, zone: str | None, ip: str | None = None) -> dict:
    return {
        "addresses": list(asset.ips),
        "address": ip,
        "macs": list(asset.macs),
        "name": asset.name,
        "vendor": asset.vendor,
        "model": asset.model,
        "firmware": asset.firmware,
        "protocols": list(asset.protocols),
        "type": asset.type,
        "level": asset.level,
        "zone": zone,
        "export_zone": asset.zone,
        "last_seen": asset.last_seen.isoformat() if asset.last_seen else None,
    }


@dataclass(slots=True)
class _Placed:
    asset: Asset
    site: str
    ip: str | None  # the asset's address in its site (its first one there)
    value: int | None
    values: list[tuple[str, int]] = field(default_factory=list)  # every IPv4 address


class _Compare:
    def __init__(self, inv: Inventory, only_site: str | None):
        self.plan = _Plan(inv)
        self.only_site = only_site
        self.matched: dict[str, tuple[_Documented, _Placed, str]] = {}  # key -> (doc, seen, how)
        self.unmatched: list[_Placed] = []
        self.sites_seen: set[str] = set()
        self.other_sites = 0
        self.without_ip = 0
        self.any_last_seen = False

    def place(self, asset: Asset) -> _Placed | None:
        plan = self.plan
        site = plan.site_named(asset.site) if asset.site else None
        values = [(ip, v) for ip in asset.ips if (v := _value(ip)) is not None and _unicast(v)]
        first: tuple[str | None, int | None] = (asset.ips[0] if asset.ips else None, None)
        if site is None:
            for ip, value in values:
                if (site := plan.site_of(value)) is not None:
                    first = (ip, value)
                    break
        else:
            first = next(((ip, v) for ip, v in values if plan.site_of(v) == site), first)
        if site is None:
            if not values and asset.site is None:
                self.without_ip += 1  # IPv6 only, multicast, link-local: no plan address
                return None
            said = (
                f"site_name {asset.site!r} is no site of the inventory and " if asset.site else ""
            )
            addresses = ", ".join(asset.ips) or "no address"
            sites = ", ".join(
                f"{s} ({plan.inv.of('site')[s].data['supernet']})" for s in plan.inv.sites()
            )
            line = asset.line or 1
            raise InvalidInput(
                [
                    Problem(
                        asset.source,
                        line,
                        1,
                        f"{asset.where} ({asset.name or 'no name'}, {addresses}): {said}no site "
                        f"holds its address; sites: {sites}. Export per site, or fix the "
                        "site's supernet",
                        "DRIFT-SITE",
                    )
                ]
            )
        return _Placed(asset, site, first[0], first[1], values)

    def add(self, asset: Asset) -> None:
        if asset.last_seen is not None:
            self.any_last_seen = True
        placed = self.place(asset)
        if placed is None:
            return
        if self.only_site and placed.site != self.only_site:
            self.other_sites += 1
            return
        self.sites_seen.add(placed.site)
        for ip, value in placed.values:
            if (placed.site, value) in self.plan.routers:
                return  # a zone's router interface: documented by the zone itself
            doc = self.plan.by_address.get((placed.site, value))
            if doc is not None:
                self._match(doc, _Placed(asset, placed.site, ip, value, placed.values), "address")
                return
        self.unmatched.append(placed)

    def _match(self, doc: _Documented, placed: _Placed, how: str) -> None:
        before = self.matched.get(doc.key)
        if before is not None:
            old = before[1].asset.last_seen
            new = placed.asset.last_seen
            if before[2] == "address" and how != "address":
                return
            if old is not None and (new is None or new <= old) and before[2] == how:
                return
            if old is None and before[2] == how:
                return
        self.matched[doc.key] = (doc, placed, how)

    def resolve(self) -> list[_Placed]:
        """MAC, then name, for the assets no address matched; what is left is undocumented."""
        macs: dict[str, set[str]] = {}
        for doc, placed, how in self.matched.values():
            if how == "address":
                for mac in placed.asset.macs:
                    macs.setdefault(mac, set()).add(doc.key)
        left = []
        once: set[tuple[str, str | None]] = set()
        for placed in self.unmatched:
            if placed.ip is not None and (placed.site, placed.ip) in once:
                continue  # the same address twice (two sensors, a node and an asset): once
            once.add((placed.site, placed.ip))
            owners = {k for mac in placed.asset.macs for k in macs.get(mac, ())}
            if len(owners) == 1:
                key = next(iter(owners))
                if all(len(macs[m]) == 1 for m in placed.asset.macs if m in macs):
                    doc = self.matched[key][0]
                    if doc.site == placed.site:
                        # The same device at a second address: a mismatch of its address, once.
                        self.matched[f"{key}#mac#{placed.ip}"] = (doc, placed, "mac")
                        continue
            left.append(placed)
        out = []
        for placed in left:
            names = self.plan.by_name.get(placed.site, {})
            named = names.get(_norm(placed.asset.name)) if placed.asset.name else None
            if named is not None and named.key not in self.matched:
                self.matched[named.key] = (named, placed, "name")
                continue
            out.append(placed)
        return out


def compare(
    inv: Inventory,
    export: Export,
    *,
    site: str | None = None,
    seen_within: int = DEFAULT_SEEN_WITHIN,
    now: datetime | None = None,
    links_path: Path | None = None,
) -> Result:
    """The drift of `inv` against `export` (InvalidInput on bad input: nothing is reported)."""
    now = now or datetime.now(UTC)
    if site is not None and inv.get("site", site) is None:
        raise InvalidInput(
            [
                Problem(
                    export.shown,
                    1,
                    1,
                    f"--site {site!r} is no site of the inventory (sites: "
                    f"{', '.join(inv.sites())})",
                    "DRIFT-SITE",
                )
            ]
        )
    cmp = _Compare(inv, site)
    count = 0
    for asset in export.assets():
        cmp.add(asset)
        count += 1
    undocumented = cmp.resolve()
    plan = cmp.plan
    sites = sorted({site} if site else cmp.sites_seen)
    findings: list[Finding] = []
    notes: list[str] = []
    cutoff = now - timedelta(days=seen_within)

    for placed in undocumented:
        findings.append(_undocumented(plan, placed))

    matched_keys = set()
    for key, (doc, placed, how) in sorted(cmp.matched.items()):
        matched_keys.add(doc.key)
        findings.extend(_mismatches(plan, doc, placed, how))
        seen_at = placed.asset.last_seen
        if "#mac#" not in key and seen_at is not None and seen_at < cutoff:
            file, line = doc.where()
            findings.append(
                Finding(
                    doc.site,
                    "missing",
                    f"{doc.label()} ({doc.address}) last seen {seen_at.date().isoformat()}, "
                    f"more than {seen_within} days before {now.date().isoformat()}",
                    file,
                    line,
                    doc.label(),
                    provenance=placed.asset.provenance(),
                )
            )
    for doc in sorted({d.key: d for d in plan.by_address.values()}.values(), key=lambda d: d.key):
        if doc.site not in sites or doc.key in matched_keys:
            continue
        file, line = doc.where()
        since = (
            f"within {seen_within} days"
            if cmp.any_last_seen
            else "(the export has no last_seen: missing from it)"
        )
        findings.append(
            Finding(
                doc.site,
                "missing",
                f"{doc.label()} ({doc.address}, zone {doc.zone}) not seen {since}",
                file,
                line,
                doc.label(),
            )
        )

    flows = 0
    if links_path is not None:
        flows = _flows(inv, plan, read_links(links_path), sites, findings)
    else:
        notes.append(
            "no flows compared: the export formats carry no connections; give --links with a "
            "Nozomi query=links export to check flows against the conduits"
        )
    if not cmp.any_last_seen:
        notes.append(
            f"the {export.format} export says nothing of when each asset was last seen: "
            "missing means absent from the export (--seen-within not applied)"
        )
    if cmp.other_sites:
        notes.append(f"{cmp.other_sites} asset(s) of other sites than {site} not compared")
    if cmp.without_ip:
        notes.append(
            f"{cmp.without_ip} asset(s) with neither a unicast IPv4 address (only IPv6, "
            "multicast, link-local or none) nor a site: not compared"
        )
    if not site:
        unseen = [s for s in inv.sites() if s not in sites]
        if unseen:
            notes.append("sites the export saw nothing of are not compared: " + ", ".join(unseen))
    order = {kind: i for i, (kind, _) in enumerate(SECTIONS)}
    findings.sort(key=lambda f: (f.site, order[f.kind], f.file or "~", f.line or 0, f.message))
    return Result(
        source=export.shown,
        format=export.format,
        now=now,
        seen_within=seen_within,
        links=str(links_path) if links_path else None,
        sites=sites,
        findings=findings,
        notes=notes,
        assets=count,
        flows=flows,
    )


def _undocumented(plan: _Plan, placed: _Placed) -> Finding:
    asset = placed.asset
    zone = plan.zone_of(placed.site, placed.value) if placed.value is not None else None
    bits = [asset.name or "(no name)"]
    described = " ".join(b for b in (asset.vendor, asset.model) if b)
    if described:
        bits.append(described)
    if asset.firmware:
        bits.append(f"firmware {asset.firmware}")
    if asset.type:
        bits.append(f"type {asset.type}")
    if asset.macs:
        bits.append("MAC " + ", ".join(asset.macs))
    if asset.protocols:
        bits.append("protocols " + ", ".join(asset.protocols))
    where_zone = f"in zone {zone}" if zone else "outside every zone of the site"
    addresses = ", ".join(asset.ips) or "no address"
    file = line = None
    if zone is not None:
        rec = plan.zone_rec[(placed.site, zone)]
        file, line = rec.file, rec.line
    return Finding(
        placed.site,
        "undocumented",
        f"{addresses} {where_zone}: {'; '.join(bits)} (seen as {asset.label()}); document it "
        f"(plantctl import --from {asset.source} --site {placed.site}) or remove it",
        file,
        line,
        None,
        seen=_seen(asset, zone, placed.ip),
        provenance=asset.provenance(),
    )


def _mismatches(plan: _Plan, doc: _Documented, placed: _Placed, how: str) -> Iterator[Finding]:
    asset = placed.asset
    record = doc.record
    seen_zone = plan.zone_of(doc.site, placed.value) if placed.value is not None else None

    def finding(aspect: str, message: str, *sub) -> Finding:
        file, line, _ = record.locate(*sub) if sub else (record.file, record.line, 1)
        return Finding(
            doc.site,
            "mismatch",
            f"{doc.label()}: {message} (seen as {asset.label()})",
            file,
            line,
            doc.label(),
            seen=_seen(asset, seen_zone, placed.ip),
            provenance=asset.provenance(),
            aspect=aspect,
        )

    by = {"mac": "its MAC", "name": "its name"}.get(how)
    if by and placed.ip != doc.address:
        if seen_zone != doc.zone:
            zone = f"zone {seen_zone}'s range" if seen_zone else "no zone's range"
            yield finding(
                "zone",
                f"documented in zone {doc.zone} at {doc.address}, seen at {placed.ip or '?'} "
                f"(matched by {by}), which is in {zone}",
                *doc.keys,
            )
        else:
            yield finding(
                "address",
                f"documented at {doc.address}, seen at {placed.ip or '?'} (matched by {by}), "
                f"in the same zone {doc.zone}",
                *doc.keys,
            )
    if how == "mac":
        return  # a second address of a device compared in full at its first
    level = plan.zone_level.get((doc.site, doc.zone))
    if asset.level is not None and level is not None and asset.level != level:
        yield finding(
            "level",
            f"zone {doc.zone} is Purdue level {_num(level)}, the export says level "
            f"{_num(asset.level)}",
        )
    for aspect, documented, seen in (
        ("vendor", doc.vendor, asset.vendor),
        ("model", doc.model, asset.model),
        ("firmware", doc.firmware, asset.firmware),
    ):
        if documented and seen and _norm(documented) != _norm(seen):
            yield finding(
                aspect, f"{aspect} is {documented!r} in the inventory, {seen!r} seen", aspect
            )
    if doc.protocol and asset.protocols:
        spoken = {_PROTOCOL_OF[n] for n in map(_norm, asset.protocols) if n in _PROTOCOL_OF}
        if spoken and doc.protocol not in spoken:
            yield finding(
                "protocol",
                f"controller protocol is {doc.protocol}, seen speaking "
                f"{', '.join(sorted(spoken))} ({', '.join(asset.protocols)})",
                "controller",
                "protocol",
            )


def _num(level: float) -> str:
    return str(int(level)) if level == int(level) else str(level)


# -- flows -------------------------------------------------------------------------------------


@dataclass
class _Rule:
    flow: segmentation.Flow
    sources: list[tuple[int, int]]  # () for the internet: anywhere outside the site
    destinations: list[tuple[int, int]]


def _ranges(cidrs: Iterable[str]) -> list[tuple[int, int]]:
    out = []
    for text in cidrs:
        net = IPNetwork(text)
        out.append((net.first, net.last))
    return out


def _service_of(inv: Inventory, link: Link) -> tuple[str | None, int | None, str]:
    """(transport, port, name) of a seen flow: its own port where the export gives it, else the
    catalogue's port for the protocol's name."""
    name = _norm(link.protocol)
    app = _CATALOGUE.get(name, name)
    entry = inv.get("protocol", app) if app else None
    transport, port = link.transport, link.port
    if entry is not None:
        transport = transport or entry.data["transport"]
        port = port if port is not None else entry.data.get("port")
    elif name in _PLAIN:
        transport = transport or _PLAIN[name][0]
        port = port if port is not None else _PLAIN[name][1]
    return transport, port, link.protocol or (f"{transport}/{port}" if port else "?")


def _allows(rule: _Rule, src_zone: str, dst_zone: str, s: int, d: int, transport, port) -> bool:
    flow = rule.flow
    if flow.source_zone != src_zone or flow.destination_zone != dst_zone:
        return False
    if rule.sources and not any(a <= s <= b for a, b in rule.sources):
        return False
    if rule.destinations and not any(a <= d <= b for a, b in rule.destinations):
        return False
    svc = flow.service
    if svc.protocol == "any" or transport is None:
        return True
    if svc.protocol != transport:
        return False
    if svc.port is None or port is None:
        return True
    return svc.port <= port <= (svc.port_end or svc.port)


def _flows(inv: Inventory, plan: _Plan, links: Iterator[Link], sites, findings) -> int:
    rules: dict[str, list[_Rule]] = {}
    for site in sites:
        seg = segmentation.build(inv, site)
        rules[site] = [_Rule(f, _ranges(f.sources), _ranges(f.destinations)) for f in seg.flows]
    used: set[tuple[str, str]] = set()
    refused: dict[tuple, dict] = {}
    count = 0
    for link in links:
        count += 1
        s, d = _value(link.src), _value(link.dst)
        if s is None or d is None:
            continue
        site = plan.site_of(d) or plan.site_of(s)
        if site not in rules:
            continue
        zone = {}
        for end, value in (("src", s), ("dst", d)):
            zone[end] = (
                plan.zone_of(site, value) if plan.site_of(value) == site else segmentation.INTERNET
            )
        if zone["src"] == zone["dst"] and zone["src"] is not None:
            continue  # inside one zone: no conduit governs it
        transport, port, name = _service_of(inv, link)
        allowed = [
            r
            for r in rules[site]
            if zone["src"]
            and zone["dst"]
            and _allows(r, zone["src"], zone["dst"], s, d, transport, port)
        ]
        for r in allowed:
            used.add((site, r.flow.conduit))
        if allowed:
            continue
        key = (site, link.src, link.dst, name)
        if key in refused:
            refused[key]["count"] += 1
            continue
        refused[key] = {
            "link": link,
            "zones": zone,
            "port": port,
            "transport": transport,
            "count": 1,
        }
    for (site, src, dst, name), seen in refused.items():
        target = plan.by_address.get((site, _value(dst) or -1))
        origin = plan.by_address.get((site, _value(src) or -1))
        about = target or origin
        file = line = None
        if about is not None:
            file, line = about.where()

        def who(doc, ip, zone):
            zone_text = zone or "no zone"
            return f"{doc.label()} ({ip}, {zone_text})" if doc else f"{ip} ({zone_text})"

        svc = name + (f" ({seen['transport']}/{seen['port']})" if seen["port"] else "")
        link = seen["link"]
        findings.append(
            Finding(
                site,
                "flow",
                f"{who(origin, src, seen['zones']['src'])} -> "
                f"{who(target, dst, seen['zones']['dst'])} over {svc}: no conduit of {site} "
                f"allows it (seen {seen['count']} time(s), "
                f"{link.source} {link.where})",
                file,
                line,
                about.label() if about else None,
                seen={
                    "from": src,
                    "to": dst,
                    "protocol": name,
                    "port": seen["port"],
                    "from_zone": seen["zones"]["src"],
                    "to_zone": seen["zones"]["dst"],
                },
                provenance={"file": link.source, "record": link.where},
            )
        )
    for site in sites:
        for rec in sorted(inv.site_objects("conduit", site), key=lambda r: r.line):
            if (site, rec.id) in used:
                continue
            findings.append(
                Finding(
                    site,
                    "unused-conduit",
                    f"conduit {rec.id} ({rec.data['from']} -> {rec.data['to']}) carried no flow "
                    "the export saw: still needed? (a hint, not drift)",
                    rec.file,
                    rec.line,
                    f"conduit {rec.id}",
                )
            )
    return count


# -- the command -------------------------------------------------------------------------------


def run(
    inv: Inventory,
    export_path: Path,
    fmt: str = "auto",
    *,
    site: str | None = None,
    seen_within: int = DEFAULT_SEEN_WITHIN,
    now: datetime | None = None,
    links_path: Path | None = None,
) -> Result:
    if seen_within < 0:
        raise InvalidInput(
            [Problem(str(export_path), 1, 1, "--seen-within must be 0 or more days", "DRIFT-INPUT")]
        )
    export = open_export(export_path, fmt)
    return compare(inv, export, site=site, seen_within=seen_within, now=now, links_path=links_path)


# -- renderers ---------------------------------------------------------------------------------


def summary(result: Result) -> str:
    c = result.counts()
    words = (
        f"{c['undocumented']} undocumented, {c['missing']} missing, {c['mismatch']} "
        f"mismatch(es), {c['flow']} flow(s) no conduit allows"
    )
    if c["unused-conduit"]:
        words += f" ({c['unused-conduit']} conduit(s) never used: hints)"
    state = "drift" if result.drift else "no drift"
    sites = ", ".join(result.sites) or "no site"
    return f"{state} of {sites} against {result.format} export {result.source}: {words}"


def location(f: Finding, result: Result) -> str:
    if f.file:
        return f"{f.file}:{f.line}"
    prov = f.provenance or {}
    return f"{prov.get('file') or result.source}:{prov.get('line') or 1}"


def render_text(result: Result) -> str:
    out = [summary(result)]
    for site in result.sites:
        out.append(f"{site}:")
        if not any(result.of(site, kind) for kind, _ in SECTIONS):
            out.append("  no drift")
        for kind, title in SECTIONS:
            found = result.of(site, kind)
            if not found:
                continue
            out.append(f"  {title} ({len(found)}):")
            out += [f"    {location(f, result)}: {f.message} [{f.rule}]" for f in found]
    out += [f"note: {n}" for n in result.notes]
    return "\n".join(out) + "\n"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render_markdown(result: Result, heading: str = "#") -> str:
    out = [f"{heading} Drift: inventory against the network", "", _md(summary(result)), ""]
    out.append(
        f"As of {result.now.strftime('%Y-%m-%d %H:%M UTC')}; missing means not seen within "
        f"{result.seen_within} days."
    )
    out.append("")
    for site in result.sites:
        out += [f"{heading}# {site}", ""]
        for kind, title in SECTIONS:
            found = result.of(site, kind)
            if not found:
                continue
            out += [f"**{title}** ({len(found)})", "", "| where | finding |", "| --- | --- |"]
            out += [f"| `{_md(location(f, result))}` | {_md(f.message)} |" for f in found]
            out.append("")
        if not any(result.of(site, k) for k, _ in SECTIONS):
            out += ["No drift.", ""]
    out += [f"- {_md(n)}" for n in result.notes]
    return "\n".join(out).rstrip() + "\n"


def as_dict(result: Result) -> dict:
    return {
        "tool": f"plantctl {__version__}",
        "source": result.source,
        "format": result.format,
        "links": result.links,
        "now": result.now.isoformat(),
        "seen_within_days": result.seen_within,
        "drift": result.drift,
        "counts": result.counts(),
        "assets": result.assets,
        "flows": result.flows,
        "sites": {
            site: {kind: [f.as_dict() for f in result.of(site, kind)] for kind, _ in SECTIONS}
            for site in result.sites
        },
        "notes": result.notes,
    }


def render_json(result: Result) -> str:
    return json.dumps(as_dict(result), indent=2, sort_keys=False) + "\n"


def render_sarif(result: Result) -> str:
    kinds = [k for k, _ in SECTIONS]
    rules = [
        {
            "id": RULES[k][0],
            "name": RULES[k][0],
            "shortDescription": {"text": RULES[k][2]},
            "defaultConfiguration": {"level": RULES[k][1]},
        }
        for k in kinds
    ]
    results = []
    for f in result.findings:
        prov = f.provenance or {}
        uri = f.file or prov.get("file") or result.source
        line = f.line or prov.get("line") or 1
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": kinds.index(f.kind),
                "level": RULES[f.kind][1],
                "message": {"text": bounded(f.message, 2000)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": line},
                        }
                    }
                ],
                "partialFingerprints": {
                    "plantctl/drift/v1": f"{f.rule}:{f.site}:{f.object or ''}:{f.aspect or ''}:"
                    + (",".join((f.seen or {}).get("addresses") or []) if f.seen else "")
                },
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "plantctl drift",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def render(result: Result, fmt: str) -> str:
    return {
        "text": render_text,
        "markdown": render_markdown,
        "json": render_json,
        "sarif": render_sarif,
    }[fmt](result)
