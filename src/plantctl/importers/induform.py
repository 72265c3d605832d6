"""Import an InduForm project (IEC 62443 zones, assets and conduits as YAML) into inventory files.

`plantctl import --from FILE --format induform --site S` writes sites/S/{site,zones,devices,
conduits}.yaml: zone kinds and Purdue levels from the zone types, SL-T kept, a VLAN and a /24
allocated per zone from the site supernet unless the project gives a subnet, assets as devices
(a given address kept when it lies inside its zone), flows as catalogue applications where the
protocol is known (else tcp/udp with its port), `requires_inspection` as deep inspection and
`security_level_required` as the conduit's SL-C. Any problem in the project stops the import
with file:line and nothing is written.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from plantctl.core import atomic
from plantctl.core.problems import InvalidInput, Problem
from plantctl.model.documents import Document, parse

RULE = "IMPORT"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
DEFAULT_SUPERNET = "10.60.0.0/16"

# InduForm zone type -> (zone kind, Purdue level)
ZONE_TYPES: dict[str, tuple[str, float | int]] = {
    "enterprise": ("enterprise", 4),
    "business": ("enterprise", 4),
    "dmz": ("industrial-dmz", 3.5),
    "industrial_dmz": ("industrial-dmz", 3.5),
    "site_operations": ("site-operations", 3),
    "operations": ("site-operations", 3),
    "area": ("supervisory", 2),
    "supervisory": ("supervisory", 2),
    "control": ("supervisory", 2),
    "cell": ("cell", 1),
    "safety": ("safety", 1),
    "sis": ("safety", 1),
    "remote_access": ("remote-access", 3.5),
}

ASSET_TYPES: dict[str, str] = {
    "plc": "plc",
    "controller": "plc",
    "rtu": "plc",
    "safety_plc": "safety-plc",
    "sis": "safety-plc",
    "safety_controller": "safety-plc",
    "hmi": "hmi",
    "scada": "hmi",
    "engineering_workstation": "engineering-workstation",
    "ews": "engineering-workstation",
    "historian": "historian",
    "server": "server",
    "application_server": "server",
    "jump_host": "server",
    "firewall": "firewall",
    "switch": "switch",
    "router": "switch",
    "workstation": "workstation",
}

# InduForm flow protocol -> catalogue application (inventory/protocols.yaml)
APPS: dict[str, str] = {
    "s7": "s7comm",
    "s7comm": "s7comm",
    "s7comm_plus": "s7comm",
    "ethernet_ip": "ethernet-ip",
    "ethernetip": "ethernet-ip",
    "enip": "ethernet-ip",
    "cip": "ethernet-ip",
    "modbus": "modbus-tcp",
    "modbus_tcp": "modbus-tcp",
    "opc_ua": "opc-ua",
    "opcua": "opc-ua",
    "profinet": "profinet",
    "https": "https",
    "ssh": "ssh",
    "telnet": "telnet",
    "ftp": "ftp",
    "http": "http",
    "rdp": "rdp",
    "vnc": "vnc",
    "mqtts": "mqtts",
    "icmp": "icmp",
}
# Known protocols the catalogue has no application for: (transport, default port)
PLAIN: dict[str, tuple[str, int]] = {"mqtt": ("tcp", 1883), "dnp3": ("tcp", 20000)}

HEADERS = {
    "site": "site.schema.json",
    "zones": "zones.schema.json",
    "devices": "devices.schema.json",
    "conduits": "conduits.schema.json",
}


@dataclass
class _Ctx:
    doc: Document
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, keys: tuple, message: str) -> None:
        try:
            line, col = self.doc.locate(keys)
        except Exception:  # a position is best effort; the message is what matters
            line, col = 1, 1
        self.problems.append(Problem(self.doc.path, line, col, message, RULE))


def _key(text: object) -> str:
    return re.sub(r"[\s/\-]+", "_", str(text).strip().lower())


def _norm(ctx: _Ctx, value: object, keys: tuple, what: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        ctx.fail(keys, f"{what} id missing or not text")
        return None
    out = value.strip().lower().replace("_", "-")
    if not ID_PATTERN.match(out):
        ctx.fail(
            keys,
            f"{what} id {value!r} cannot be made an inventory id (lower case letters, digits "
            "and dashes, starting with a letter, at most 63 characters); rename it",
        )
        return None
    return out


def _unique(ctx: _Ctx, seen: dict[str, tuple], new: str, original: str, keys: tuple, what: str):
    if new in seen:
        first_orig, first_keys = seen[new]
        try:
            first_line = ctx.doc.locate(first_keys)[0]
        except Exception:
            first_line = 1
        ctx.fail(
            keys,
            f"{what} id {original!r} becomes {new!r}, the same as {first_orig!r} at line "
            f"{first_line}; give each its own id",
        )
        return False
    seen[new] = (original, keys)
    return True


def _list(ctx: _Ctx, parent: dict, key: str, keys: tuple) -> list:
    """parent[key] as a list ([] when absent); a problem when it is something else."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.fail((*keys, key), f"{key} must be a list")
        return []
    return value


def _ref(ids: dict[str, str], value: object) -> str | None:
    """The normalised id of a zone reference; None if unknown or not text."""
    return ids.get(value) if isinstance(value, str) else None


def _ip(value: object):
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None


def convert(
    doc: Document, site: str, supernet: str | None, timezone: str, notes: list | None = None
) -> dict[str, dict]:
    """The four inventory documents of `site` from an InduForm project; InvalidInput if bad.

    Changes made on the way (an address reallocated) are appended to `notes`."""
    ctx = _Ctx(doc, notes=notes if notes is not None else [])
    data = doc.data
    if not isinstance(data, dict):
        ctx.fail((), "not an InduForm project: expected a mapping with zones and conduits")
        raise InvalidInput(ctx.problems)
    zones_in = data.get("zones")
    if not isinstance(zones_in, list) or not zones_in:
        ctx.fail((), "an InduForm project needs a list of zones")
        raise InvalidInput(ctx.problems)
    project = (
        cast(dict[str, Any], data.get("project")) if isinstance(data.get("project"), dict) else {}
    )

    zone_ids: dict[str, str] = {}  # original -> normalised
    seen: dict[str, tuple] = {}
    zones: list[dict] = []
    # IPv4Network or IPv6Network: typeshed's subnet_of() and overlaps() take one version only
    subnets: dict[str, Any] = {}
    raw_assets: list[tuple[dict, tuple, str | None]] = []
    for i, z in enumerate(zones_in):
        keys = ("zones", i)
        if not isinstance(z, dict):
            ctx.fail(keys, "a zone must be a mapping")
            continue
        zid = _norm(ctx, z.get("id"), (*keys, "id"), "zone")
        if zid is None or not _unique(ctx, seen, zid, z["id"], (*keys, "id"), "zone"):
            continue
        zone_ids[z["id"]] = zid
        ztype = _key(z.get("type", ""))
        if ztype not in ZONE_TYPES:
            ctx.fail(
                (*keys, "type") if "type" in z else keys,
                f"zone {z['id']!r}: unknown type {z.get('type')!r} (known: "
                f"{', '.join(sorted(ZONE_TYPES))})",
            )
            continue
        kind, level = ZONE_TYPES[ztype]
        slt = z.get("security_level_target", 1)
        if not isinstance(slt, int) or isinstance(slt, bool) or not 1 <= slt <= 4:
            ctx.fail((*keys, "security_level_target"), "security_level_target must be 1-4")
            continue
        zone: dict[str, Any] = {
            "id": zid,
            "name": str(z.get("name") or z["id"]),
            "kind": kind,
            "purdue_level": level,
            "security_level_target": slt,
        }
        for name in ("subnet", "network", "cidr"):
            if name in z:
                try:
                    subnets[zid] = ipaddress.ip_network(str(z[name]).strip(), strict=True)
                except ValueError:
                    ctx.fail((*keys, name), f"zone {z['id']!r}: {z[name]!r} is not a network")
                break
        if "vlan" in z:
            vlan = z["vlan"]
            if not isinstance(vlan, int) or isinstance(vlan, bool) or not 1 <= vlan <= 4094:
                ctx.fail((*keys, "vlan"), f"zone {z['id']!r}: vlan {vlan!r} is not 1-4094")
            elif any(other.get("vlan") == vlan for other in zones):
                ctx.fail((*keys, "vlan"), f"zone {z['id']!r}: vlan {vlan} is already used")
            else:
                zone["vlan"] = vlan
        zone["_parent"] = z.get("parent_zone")
        zone["_keys"] = keys
        zones.append(zone)
        for j, a in enumerate(_list(ctx, z, "assets", keys)):
            raw_assets.append((a, (*keys, "assets", j), zid))
    for j, a in enumerate(_list(ctx, data, "assets", ())):
        raw_assets.append((a, ("assets", j), None))
    if ctx.problems:
        raise InvalidInput(ctx.problems)

    # The site supernet and a /24 per zone without a subnet of its own.
    net_text = supernet
    if net_text is None and subnets:  # the /16 (or wider) holding the project's own subnets
        net = next(iter(subnets.values()))
        while net.prefixlen > 16 or not all(s.subnet_of(net) for s in subnets.values()):
            net = net.supernet()
        net_text = str(net)
    try:
        site_net = ipaddress.ip_network(net_text or DEFAULT_SUPERNET, strict=True)
    except ValueError:
        ctx.fail((), f"supernet {net_text!r} is not a network (e.g. 10.60.0.0/16)")
        raise InvalidInput(ctx.problems) from None
    for zone in zones:
        s = subnets.get(zone["id"])
        if s is not None and not s.subnet_of(site_net):
            ctx.fail(zone["_keys"], f"zone subnet {s} is not inside the site supernet {site_net}")
        other = next(
            (z for z, n in subnets.items() if z != zone["id"] and s and n.overlaps(s)), None
        )
        if other is not None:
            ctx.fail(zone["_keys"], f"zone subnet {s} overlaps the subnet of zone {other}")
    free: Iterator[Any] = (
        n
        for n in site_net.subnets(new_prefix=max(24, site_net.prefixlen))
        if not any(n.overlaps(s) for s in subnets.values())
    )
    free = iter(list(free)[1:])  # the first /24 is left to the site's own services
    vlans = {z["vlan"] for z in zones if "vlan" in z}
    next_vlan = 100
    for zone in zones:
        if zone["id"] not in subnets:
            try:
                subnets[zone["id"]] = next(free)
            except StopIteration:
                ctx.fail(zone["_keys"], f"no free /24 left in the supernet {site_net}")
                continue
        if "vlan" not in zone:
            while next_vlan in vlans:
                next_vlan += 10
            zone["vlan"] = next_vlan
            vlans.add(next_vlan)
        zone["cidr"] = str(subnets[zone["id"]])
    if ctx.problems:
        raise InvalidInput(ctx.problems)

    # Safety zones serve a cell: the parent zone, else the one cell that has a conduit to it.
    conduits_in = _list(ctx, data, "conduits", ())
    by_id = {z["id"]: z for z in zones}
    for zone in zones:
        if zone["kind"] != "safety":
            continue
        parent = _ref(zone_ids, zone["_parent"]) if zone["_parent"] else None
        if parent is None or by_id[parent]["kind"] != "cell":
            linked = {
                _ref(zone_ids, c.get(end))
                for c in conduits_in
                if isinstance(c, dict)
                and zone["id"]
                in (_ref(zone_ids, c.get("from_zone")), _ref(zone_ids, c.get("to_zone")))
                for end in ("from_zone", "to_zone")
            }
            cells = sorted(
                z for z in linked if z is not None and z in by_id and by_id[z]["kind"] == "cell"
            )
            if len(cells) != 1:
                cells = sorted(z["id"] for z in zones if z["kind"] == "cell")
            if len(cells) != 1:
                ctx.fail(
                    zone["_keys"],
                    "safety zone: cannot tell which cell it serves; give it parent_zone: <cell>",
                )
                continue
            parent = cells[0]
        zone["serves"] = parent

    # Devices.
    devices: list[dict] = []
    seen_dev: dict[str, tuple] = {}
    dev_lines: dict[str, int] = {}
    used: dict[str, set] = {zid: set() for zid in subnets}
    pending: list[dict] = []
    for a, keys, zid in raw_assets:
        if not isinstance(a, dict):
            ctx.fail(keys, "an asset must be a mapping")
            continue
        did = _norm(ctx, a.get("id"), (*keys, "id"), "asset")
        if did is None or not _unique(ctx, seen_dev, did, a["id"], (*keys, "id"), "asset"):
            continue
        if a.get("zone") is not None:
            named = _ref(zone_ids, a["zone"])
            if named is None:
                ctx.fail((*keys, "zone"), f"asset {a['id']!r}: unknown zone {a['zone']!r}")
                continue
            if zid is not None and named != zid:
                ctx.fail((*keys, "zone"), f"asset {a['id']!r} is listed under {zid}, not {named}")
                continue
            zid = named
        addr = _ip(a["ip_address"]) if a.get("ip_address") is not None else None
        if a.get("ip_address") is not None and addr is None:
            ctx.fail((*keys, "ip_address"), f"asset {a['id']!r}: {a['ip_address']!r} is no address")
            continue
        if zid is None:
            zid = next((z for z, n in subnets.items() if addr is not None and addr in n), None)
            if zid is None:
                ctx.fail(
                    keys,
                    f"asset {a['id']!r} is outside every zone: give it a zone or an address "
                    "inside a zone's subnet",
                )
                continue
        atype = _key(a.get("type", ""))
        if atype not in ASSET_TYPES:
            ctx.fail(
                (*keys, "type") if "type" in a else keys,
                f"asset {a['id']!r}: unknown type {a.get('type')!r} (known: "
                f"{', '.join(sorted(ASSET_TYPES))})",
            )
            continue
        net = subnets[zid]
        reserved = {net.network_address, net.network_address + 1, net.broadcast_address}
        dev: dict[str, Any] = {
            "id": did,
            "name": str(a.get("name") or a["id"]),
            "kind": ASSET_TYPES[atype],
        }
        dev_lines[did] = ctx.doc.locate((*keys, "id"))[0]
        dev["zone"] = zid
        for extra in ("vendor", "model"):
            if a.get(extra):
                dev[extra] = str(a[extra])
        if addr is not None and addr in net and addr not in reserved and addr not in used[zid]:
            dev["address"] = str(addr)
            used[zid].add(addr)
        else:
            if addr is not None:
                line = ctx.doc.locate((*keys, "ip_address"))[0]
                why = "taken" if addr in used[zid] else f"not a device address of {net}"
                ctx.notes.append(
                    f"{ctx.doc.path}:{line}: asset {a['id']!r}: {addr} is {why}; "
                    "a free address of its zone allocated instead"
                )
            pending.append(dev)
        devices.append(dev)
    for dev in pending:
        net = subnets[dev["zone"]]
        for offset in range(10, net.num_addresses - 1):
            cand = net.network_address + offset
            if cand not in used[dev["zone"]]:
                used[dev["zone"]].add(cand)
                dev["address"] = str(cand)
                break
        else:
            ctx.fail((), f"zone {dev['zone']}: no free address left for {dev['id']}")
    for dev in devices:  # the schema's key order
        dev["address"] = dev.pop("address", None)
        for extra in ("vendor", "model"):
            if extra in dev:
                dev[extra] = dev.pop(extra)

    # Conduits.
    conduits: list[dict] = []
    seen_con: dict[str, tuple] = {}
    for i, c in enumerate(conduits_in):
        keys = ("conduits", i)
        if not isinstance(c, dict):
            ctx.fail(keys, "a conduit must be a mapping")
            continue
        cid = _norm(ctx, c.get("id"), (*keys, "id"), "conduit")
        if cid is None or not _unique(ctx, seen_con, cid, c["id"], (*keys, "id"), "conduit"):
            continue
        ends = []
        for end in ("from_zone", "to_zone"):
            ref = c.get(end)
            if ref == "internet":
                ends.append("internet")
            elif _ref(zone_ids, ref) is not None:
                ends.append(zone_ids[cast(str, ref)])  # _ref: a known zone's text
            else:
                ctx.fail(
                    (*keys, end) if end in c else keys, f"conduit {c['id']!r}: unknown zone {ref!r}"
                )
        if len(ends) != 2:
            continue
        forward: list[dict] = []
        back: list[dict] = []
        flows = c.get("flows") or []
        if not isinstance(flows, list) or not flows:
            ctx.fail(keys, f"conduit {c['id']!r} has no flows")
            continue
        for k, f in enumerate(flows):
            svc = _service(ctx, f, (*keys, "flows", k))
            if svc is None:
                continue
            direction = _key(f.get("direction", "outbound"))
            if direction in ("outbound", "bidirectional", "both") and svc not in forward:
                forward.append(svc)
            if direction in ("inbound", "bidirectional", "both") and svc not in back:
                back.append(svc)
        purpose = str(
            c.get("description") or c.get("name") or f"Imported InduForm conduit {c['id']}"
        )
        for suffix, (src, dst), services in (("", ends, forward), ("-return", ends[::-1], back)):
            if not services:
                continue
            out: dict[str, Any] = {"id": cid + suffix, "from": src, "to": dst, "services": services}
            out["purpose"] = purpose
            if c.get("requires_inspection") is True:
                out["inspection"] = "deep"
            slr = c.get("security_level_required")
            if isinstance(slr, int) and not isinstance(slr, bool) and 1 <= slr <= 4:
                out["security_level_capability"] = slr
            elif slr is not None:
                ctx.fail((*keys, "security_level_required"), "security_level_required must be 1-4")
            if suffix and not _unique(ctx, seen_con, out["id"], out["id"], keys, "conduit"):
                continue
            conduits.append(out)
    if ctx.problems:
        raise InvalidInput(ctx.problems)

    for zone in zones:
        zone.pop("_parent")
        zone.pop("_keys")
        serves = zone.pop("serves", None)
        ordered = {k: zone[k] for k in ("id", "name", "kind")}
        if serves:
            ordered["serves"] = serves
        ordered.update(
            {k: zone[k] for k in ("purdue_level", "security_level_target", "vlan", "cidr")}
        )
        zone.clear()
        zone.update(ordered)
    site_doc = {
        "id": site,
        "name": str(project.get("name") or data.get("name") or site),
        "phase": "survey",
        "supernet": str(site_net),
        "timezone": timezone,
        "maintenance_windows": [{"id": "sun-early", "days": ["sun"], "start": "02:00", "hours": 4}],
    }
    out = {
        "site": {"site": site_doc},
        "zones": {"zones": zones},
        "conduits": {"conduits": conduits},
    }
    if devices:
        out["devices"] = {"devices": devices}
    out["_device_lines"] = dev_lines
    return out


def _service(ctx: _Ctx, f: object, keys: tuple) -> dict | None:
    if not isinstance(f, dict) or f.get("protocol") is None:
        ctx.fail(keys, "a flow needs a protocol")
        return None
    proto = _key(f["protocol"])
    port = f.get("port")
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535
    ):
        ctx.fail((*keys, "port"), f"port {port!r} is not 1-65535")
        return None
    if proto in ("cip", "ethernet_ip", "enip") and port == 2222:
        return {"app": "cip-io"}
    if proto in APPS:
        return {"app": APPS[proto]}
    transport, default = PLAIN.get(proto, ("udp" if proto == "udp" else "tcp", None))
    transport = str(f.get("transport", transport)).lower()
    if transport not in ("tcp", "udp"):
        ctx.fail(keys, f"flow {f['protocol']!r}: transport {transport!r} is not tcp or udp")
        return None
    port = port if port is not None else default
    if port is None:
        ctx.fail(keys, f"flow {f['protocol']!r} is not in the protocol catalogue and has no port")
        return None
    svc: dict = {"protocol": transport, "port": port}
    name = proto.replace("_", "-")
    if ID_PATTERN.match(name) and name not in ("tcp", "udp"):
        svc["name"] = name
    return svc


class _Dumper(yaml.SafeDumper):
    """Text that a YAML 1.1 reader would take as a number or a time (02:00) is quoted."""


def _text(dumper: yaml.SafeDumper, value: str):
    style = '"' if re.fullmatch(r"[0-9:.+-]+", value) and ":" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _dump(kind: str, body: dict) -> str:
    header = f"# yaml-language-server: $schema=../../schema/{HEADERS[kind]}\n"
    header += "# Imported from an InduForm project by plantctl import.\n"
    return header + yaml.dump(
        body, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100
    )


def run(
    source: Path, site: str, into: Path, supernet: str | None, timezone: str, notes: list
) -> list[Path]:
    """Import `source` as site `site` under `into`; returns the files written."""
    shown = str(source)
    if not ID_PATTERN.match(site):
        raise InvalidInput([Problem(shown, 1, 1, f"site {site!r} is not an inventory id", RULE)])
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem(shown, 1, 1, "no such file", RULE)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Problem(shown, 1, 1, f"cannot read: {exc}", RULE)]) from None
    if not re.fullmatch(r"[A-Za-z_]+(/[A-Za-z_+-]+)*", timezone):
        raise InvalidInput(
            [Problem(shown, 1, 1, f"--timezone {timezone!r}: e.g. Europe/Berlin", RULE)]
        )
    doc = parse(text, shown)
    target = into / "sites" / site
    if (target / "site.yaml").exists() or (target / "zones.yaml").exists():
        raise InvalidInput(
            [
                Problem(
                    str(target), 1, 1, f"site {site!r} already exists; choose another --site", RULE
                )
            ]
        )
    docs = convert(doc, site, supernet, timezone, notes)
    _against_inventory(into, site, docs, doc, docs.pop("_device_lines"))
    written = []
    for kind in ("zones", "devices", "conduits", "site"):  # site.yaml last: the site appears whole
        if kind in docs:
            written.append(atomic.write_text(target / f"{kind}.yaml", _dump(kind, docs[kind])))
    return written


def _existing(path: Path, *keys: str):
    """A value of another site's file, read plainly; None if it cannot be read (validate reports
    a broken neighbour, the import does not)."""
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in keys:
            value = value[key]
    except Exception:  # any unreadable neighbour is simply not compared
        return None
    return value


def _against_inventory(into: Path, site: str, docs: dict, doc: Document, lines: dict) -> None:
    """Refuse what the rest of the inventory already holds: a device id (unique across sites)
    or an address range overlapping another site's supernet."""
    problems = []
    net = ipaddress.ip_network(docs["site"]["site"]["supernet"])
    for other in sorted((into / "sites").glob("*/site.yaml")):
        theirs = _existing(other, "site", "supernet")
        try:
            clash = other.parent.name != site and net.overlaps(ipaddress.ip_network(str(theirs)))
        except ValueError:
            clash = False
        if clash:
            message = f"the supernet {net} overlaps {theirs} of {other}; give another --supernet"
            problems.append(Problem(doc.path, 1, 1, message, RULE))
    ids = {d["id"] for d in docs.get("devices", {}).get("devices", [])}
    for other in sorted((into / "sites").glob("*/devices.yaml")):
        listed = _existing(other, "devices")
        taken = (
            {d.get("id") for d in listed if isinstance(d, dict)}
            if isinstance(listed, list)
            else set()
        )
        for did in sorted(ids & taken):
            message = f"device id {did!r} is already used in {other}; rename the asset"
            problems.append(Problem(doc.path, lines.get(did, 1), 1, message, RULE))
    if problems:
        raise InvalidInput(problems)
