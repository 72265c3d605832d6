"""Survey import: `plantctl import --from EXPORT --site S` turns the devices a monitoring export
saw and the inventory does not document (plantctl.reports.drift) into entries of
sites/S/devices.yaml, so a joint site survey starts from what the network shows.

The file keeps its comments and layout (ruamel.yaml round trip; new entries take the style of
the ones before them). Each entry carries a `review:` note saying what is still to check and fill
in; the devices schema refuses the note, so `plantctl validate` lists every entry still to review
(with file:line) until someone has checked it and removed the note. Devices whose address is in
no zone of the site, or is a zone's network or broadcast address, are not imported (said so).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

from netaddr import IPAddress
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from plantctl.core import atomic
from plantctl.core.problems import InvalidInput, Problem
from plantctl.model import addressing
from plantctl.model.loader import load
from plantctl.reports import drift

RULE = "IMPORT"
ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
HEADER = "# yaml-language-server: $schema=../../schema/devices.schema.json\n"
# Words in a monitoring system's asset type -> devices.schema.json kind (first match wins).
KINDS = (
    ("safety", "safety-plc"),
    ("sis", "safety-plc"),
    ("plc", "plc"),
    ("controller", "plc"),
    ("rtu", "plc"),
    ("dcs", "plc"),
    ("engineering", "engineering-workstation"),
    ("ews", "engineering-workstation"),
    ("hmi", "hmi"),
    ("scada", "hmi"),
    ("panel", "hmi"),
    ("historian", "historian"),
    ("firewall", "firewall"),
    ("switch", "switch"),
    ("router", "switch"),
    ("workstation", "workstation"),
    ("computer", "workstation"),
    ("laptop", "workstation"),
    ("server", "server"),
)


def _kind(seen: dict) -> tuple[str, bool]:
    """(kind, guessed): from the asset's type, else a controller protocol means a PLC."""
    words = " ".join(str(seen.get(k) or "") for k in ("type", "name")).casefold()
    for word, kind in KINDS:
        if re.search(rf"\b{word}", words):
            return kind, False
    spoken = {drift._PROTOCOL_OF.get(drift._norm(p)) for p in seen.get("protocols") or []}
    if spoken - {None}:
        return "plc", True
    return "server", True


def _slug(text: str) -> str:
    out = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    return out[:63].rstrip("-")


def _taken_ids(inv) -> set[str]:
    ids = {
        r.id
        for kind in ("machine", "gateway", "device", "collector")
        for r in inv.of(kind).values()
    }
    for rec in inv.of("site").values():
        ids |= {svc["id"] for svc in rec.data.get("services", {}).values()}
    return ids


def entries(result: drift.Result, inv, site: str, taken: set[str], today: str, notes: list[str]):
    """(entry, export record) for each undocumented device of `site` that can be placed."""
    out = []
    for f in result.of(site, "undocumented"):
        seen, prov = f.seen or {}, f.provenance or {}
        ip, zone = seen.get("address"), seen.get("zone")
        record = f"{prov.get('file')} {prov.get('record')}"
        if zone is None or ip is None:
            notes.append(
                f"not imported: {', '.join(seen.get('addresses') or []) or 'no address'} "
                f"({record}) is in no zone of {site}; add the zone or correct the address"
            )
            continue
        net = addressing.zone_networks(inv).get(f"{site}/{zone}")
        if net is not None and IPAddress(ip) in addressing.reserved(net):
            notes.append(f"not imported: {ip} ({record}) is zone {zone}'s network or broadcast")
            continue
        name = seen.get("name")
        base = _slug(name) if name and name != ip else ""
        ident = base if ID.match(base or "-") and base not in taken else ""
        if not ident:
            ident = f"{site}-seen-{ip.replace('.', '-')}"[:63]
        n = 2
        while ident in taken:
            ident = f"{ident[:58]}-{n}"
            n += 1
        taken.add(ident)
        kind, guessed = _kind(seen)
        entry = CommentedMap()
        entry["id"] = ident
        entry["name"] = name if name and name != ip else f"Device seen at {ip}"
        entry["kind"] = kind
        entry["zone"] = zone
        entry["address"] = ip
        for key in ("vendor", "model"):
            if seen.get(key):
                entry[key] = seen[key]
        what = [
            f"kind {kind} ({'guessed' if guessed else 'type ' + str(seen.get('type'))})",
            "name",
            f"owner (zone {zone} in org/ownership.yaml)",
        ]
        extra = [
            f"MAC {', '.join(seen['macs'])}" if seen.get("macs") else "",
            f"firmware {seen['firmware']}" if seen.get("firmware") else "",
            f"protocols {', '.join(seen['protocols'])}" if seen.get("protocols") else "",
            f"asset id {prov['asset_id']}" if prov.get("asset_id") else "",
        ]
        entry["review"] = (
            f"check {', '.join(what)}; a machine's controller goes to machines.yaml. Seen "
            f"{today} in {Path(str(prov.get('file'))).name} {prov.get('record')}"
            + "".join(f", {e}" for e in extra if e)
        )
        out.append(entry)
    return out


def _dump(yaml: YAML, data) -> str:
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def run(source: Path, fmt: str, site: str, into: Path, notes: list[str]) -> list[Path]:
    """Add the undocumented devices of `source` to sites/<site>/devices.yaml; the paths
    written ([] when there is nothing to add). InvalidInput on bad input: nothing written."""
    inv = load(into)
    if inv.get("site", site) is None:
        raise InvalidInput(
            [
                Problem(
                    str(into / "sites" / site),
                    1,
                    1,
                    f"no site {site!r} in {into} (sites: {', '.join(inv.sites())}); a survey "
                    "import adds to an existing site (plantctl import --format induform makes one)",
                    RULE,
                )
            ]
        )
    result = drift.run(inv, source, fmt, site=site)
    today = datetime.now(UTC).date().isoformat()
    new = entries(result, inv, site, _taken_ids(inv), today, notes)
    if not new:
        notes.append(f"{source}: no undocumented device of {site} to import")
        return []
    path = into / "sites" / site / "devices.yaml"
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    if path.exists():
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text)
        devices = data["devices"]
    else:
        text = HEADER
        data = CommentedMap()
        devices = data["devices"] = CommentedSeq()
    flow = bool(devices) and getattr(devices[-1], "fa", None) is not None
    flow = flow and devices[-1].fa.flow_style()
    start = len(devices)
    for entry in new:
        if flow:
            entry.fa.set_flow_style()
        devices.append(entry)
    devices.yaml_set_comment_before_after_key(
        start,
        before=f"Survey import {today} from {result.source} ({result.format}): {len(new)} "
        "device(s) seen, not documented; review each and remove its review note",
        indent=2,
    )
    out = _dump(yaml, data)
    if not path.exists():
        out = HEADER + out
    atomic.write_text(path, out)
    notes.append(
        f"{len(new)} device(s) added for review; `plantctl validate` lists what is still to "
        "fill in, entry by entry"
    )
    return [path]
