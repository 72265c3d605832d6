"""The address plan, with netaddr: zones inside their site, no overlaps, devices inside zones.

Conventions: the first usable address of a zone is its router (reserved); the network and
broadcast addresses are never assigned. Zones below the industrial DMZ (Purdue < 3.5) use
private addresses only. Overlaps are found by sorting, never by comparing every pair.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from netaddr import AddrFormatError, IPAddress, IPNetwork
from netaddr.ip import IPV4_PRIVATE_USE

from plantctl.core.problems import Problem
from plantctl.model.inventory import Inventory, Record

DMZ_LEVEL = 3.5


@dataclass(frozen=True)
class Device:
    """A documented address: what holds it and where it is written."""

    address: IPAddress
    kind: str  # machine, gateway, broker, bastion, or a device's kind (historian, hmi, ...)
    id: str
    site: str
    zone: str
    record: Record
    keys: tuple[str | int, ...]  # path to the address inside the record


def parse_network(text: str) -> IPNetwork | None:
    try:
        net = IPNetwork(text, version=4)
    except (AddrFormatError, ValueError, TypeError):
        return None
    return net if "/" in text else None


def is_private(net: IPNetwork) -> bool:
    """RFC 1918: both ends private (CIDR alignment rules out spanning two private blocks)."""
    return bool(
        IPAddress(net.first).is_ipv4_private_use() and IPAddress(net.last).is_ipv4_private_use()
    )


def reserved(net: IPNetwork) -> set[IPAddress]:
    """Addresses in a zone that no device may take: network, router, broadcast."""
    if net.size <= 2:
        return set()
    return {net.network, IPAddress(net.first + 1), net.broadcast}


def zone_networks(inv: Inventory) -> dict[str, IPNetwork]:
    """'<site>/<zone>' -> network, for zones whose CIDR is well formed."""
    nets = {}
    for key, rec in inv.of("zone").items():
        net = parse_network(rec.data["cidr"])
        if net is not None:
            nets[key] = net
    return nets


def _site_of(rec: Record) -> str:
    """The site of a record written under sites/<site>/ (a zone, machine, gateway, device)."""
    return cast(str, rec.site)


def devices(inv: Inventory) -> list[Device]:
    """Every documented address in the inventory."""
    found = []
    for rec in inv.of("machine").values():
        found.append(
            Device(
                IPAddress(rec.data["controller"]["address"]),
                "machine",
                rec.key,
                _site_of(rec),
                rec.data["zone"],
                rec,
                ("controller", "address"),
            )
        )
    for rec in inv.of("gateway").values():
        found.append(
            Device(
                IPAddress(rec.data["address"]),
                "gateway",
                rec.key,
                _site_of(rec),
                rec.data["zone"],
                rec,
                ("address",),
            )
        )
    for rec in inv.of("device").values():
        found.append(
            Device(
                IPAddress(rec.data["address"]),
                rec.data["kind"],
                rec.key,
                _site_of(rec),
                rec.data["zone"],
                rec,
                ("address",),
            )
        )
    for site, rec in inv.of("site").items():
        for name, svc in rec.data.get("services", {}).items():
            found.append(
                Device(
                    IPAddress(svc["address"]),
                    name,
                    svc["id"],
                    site,
                    svc["zone"],
                    rec,
                    ("services", name, "address"),
                )
            )
    return found


def check(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    supernets: dict[str, IPNetwork] = {}
    for site, rec in inv.of("site").items():
        net = parse_network(rec.data["supernet"])
        if net is None:
            problems.append(
                rec.problem(
                    f"supernet {rec.data['supernet']!r} is not a network in "
                    "CIDR form; write it like 10.20.0.0/16",
                    "ADDR-CIDR",
                    "supernet",
                )
            )
        elif net.ip != net.network:
            problems.append(
                rec.problem(
                    f"supernet {rec.data['supernet']!r} has host bits set; write {net.cidr}",
                    "ADDR-CIDR",
                    "supernet",
                )
            )
        else:
            supernets[site] = net
    problems.extend(
        _overlaps(
            [
                (net, inv.of("site")[site], ("supernet",), f"site {site}")
                for site, net in supernets.items()
            ],
            "supernet",
        )
    )

    zones: dict[str, IPNetwork] = {}
    for key, rec in inv.of("zone").items():
        text = rec.data["cidr"]
        net = parse_network(text)
        if net is None:
            problems.append(
                rec.problem(
                    f"zone CIDR {text!r} is not a network in CIDR form; "
                    "write it like 10.20.11.0/24",
                    "ADDR-CIDR",
                    "cidr",
                )
            )
            continue
        if net.ip != net.network:
            problems.append(
                rec.problem(
                    f"zone CIDR {text!r} has host bits set; write {net.cidr}", "ADDR-CIDR", "cidr"
                )
            )
            continue
        zones[key] = net
        supernet = supernets.get(_site_of(rec))
        if supernet is not None and net not in supernet:
            problems.append(
                rec.problem(
                    f"zone {rec.id} ({net}) is outside the site supernet "
                    f"{supernet}; pick a range inside it (plantctl "
                    "allocate helps for addresses)",
                    "ADDR-ZONE",
                    "cidr",
                )
            )
        if rec.data["purdue_level"] < DMZ_LEVEL and not is_private(net):
            problems.append(
                rec.problem(
                    f"zone {rec.id} is below the DMZ (level "
                    f"{rec.data['purdue_level']}) but {net} is public; use a "
                    "private range (10/8, 172.16/12, 192.168/16)",
                    "ADDR-PUBLIC",
                    "cidr",
                )
            )
    problems.extend(
        _overlaps(
            [(net, inv.of("zone")[key], ("cidr",), f"zone {key}") for key, net in zones.items()],
            "zone",
        )
    )
    problems.extend(_device_addresses(inv, zones))
    return problems


def _overlaps(
    items: list[tuple[IPNetwork, Record, tuple[str | int, ...], str]], what: str
) -> Iterator[Problem]:
    """Sort by first address; a network overlaps the one before it iff it starts before that
    one's running end. O(n log n)."""
    items = sorted(items, key=lambda t: (t[0].first, -t[0].last))
    reach = None  # (last address, item) of the network reaching furthest so far
    for net, rec, keys, label in items:
        if reach is not None and net.first <= reach[0]:
            other_net, other, other_keys, other_label = reach[1]
            # Both sides are named: either may be the one to move.
            yield rec.problem(
                f"{label} ({net}) overlaps {other_label} ({other_net}) at "
                f"{other.file}:{other.line}; every {what} needs its own range",
                "ADDR-OVERLAP",
                *keys,
            )
            yield other.problem(
                f"{other_label} ({other_net}) overlaps {label} ({net}) at "
                f"{rec.file}:{rec.line}; every {what} needs its own range",
                "ADDR-OVERLAP",
                *other_keys,
            )
        if reach is None or net.last > reach[0]:
            reach = (net.last, (net, rec, keys, label))


# RFC 1918 blocks as (first, last) integers, the ones netaddr's is_ipv4_private_use() names.
_PRIVATE_USE = tuple((net.first, net.last) for net in IPV4_PRIVATE_USE)


def _is_private_value(version: int, value: int) -> bool:
    """IPAddress.is_ipv4_private_use() on an address's version and integer value."""
    return version == 4 and any(first <= value <= last for first, last in _PRIVATE_USE)


def _device_addresses(inv: Inventory, zones: dict[str, IPNetwork]) -> Iterator[Problem]:
    """Per device: inside its zone, not reserved, private below the DMZ, not taken. Addresses
    are compared as (version, integer), each zone's facts worked out once."""
    seen: dict[tuple[int, int], Device] = {}
    plans: dict[
        str, tuple[IPNetwork | None, int, int, set[int], bool]
    ] = {}  # '<site>/<zone>' -> (network, first, last, reserved, below DMZ)
    for dev in devices(inv):
        zone_key = f"{dev.site}/{dev.zone}"
        plan = plans.get(zone_key)
        if plan is None:
            net = zones.get(zone_key)
            zone_rec = inv.get("zone", zone_key)
            plan = plans[zone_key] = (
                net,
                net.first if net is not None else 0,
                net.last if net is not None else -1,
                {a.value for a in reserved(net)} if net is not None else set(),
                zone_rec is not None and zone_rec.data["purdue_level"] < DMZ_LEVEL,
            )
        net, first, last, taken, below_dmz = plan
        address = dev.address
        version, value = address.version, address.value
        where = f"{dev.kind} {dev.id}"
        if net is not None:
            if version != net.version or not first <= value <= last:
                yield dev.record.problem(
                    f"{where} address {address} is outside its zone "
                    f"{dev.zone} ({net}); use `plantctl allocate --site "
                    f"{dev.site} --zone {dev.zone}`",
                    "ADDR-ZONE",
                    *dev.keys,
                )
            elif value in taken:
                role = (
                    "network"
                    if address == net.network
                    else "broadcast"
                    if address == net.broadcast
                    else "router"
                )
                yield dev.record.problem(
                    f"{where} address {address} is the zone's {role} "
                    "address; use `plantctl allocate --site "
                    f"{dev.site} --zone {dev.zone}`",
                    "ADDR-RESERVED",
                    *dev.keys,
                )
        if below_dmz and not _is_private_value(version, value):
            yield dev.record.problem(
                f"{where} has public address {address} below the DMZ; "
                "use a private address of its zone",
                "ADDR-PUBLIC",
                *dev.keys,
            )
        first_dev = seen.get((version, value))
        if first_dev is not None:
            yield dev.record.problem(
                f"{where} address {address} is already used by "
                f"{first_dev.kind} {first_dev.id} at {first_dev.record.file}:"
                f"{first_dev.record.locate(*first_dev.keys)[1]}; every device needs "
                "its own address",
                "ADDR-DUP",
                *dev.keys,
            )
        else:
            seen[(version, value)] = dev


def used(inv: Inventory) -> set[IPAddress]:
    return {dev.address for dev in devices(inv)}


def allocate(inv: Inventory, site: str, zone: str, count: int = 1) -> list[IPAddress]:
    """The lowest free addresses of a zone: not used, not reserved, inside the zone."""
    net = zone_networks(inv).get(f"{site}/{zone}")
    if net is None:
        raise KeyError(f"{site}/{zone}")
    taken = used(inv) | reserved(net)
    free = []
    for value in range(net.first, net.last + 1):
        addr = IPAddress(value)
        if addr not in taken:
            free.append(addr)
            if len(free) == count:
                break
    return free
