"""Zone-and-conduit diagrams of a site: Graphviz DOT (rendered to SVG by `dot`) and Mermaid.

The picture is the inventory's: Purdue levels as bands from the internet at the top to the
cells at the bottom, each zone a box with its name, id, security-level target (SL-T) and
addresses, each conduit a labelled arrow from its source zone to its destination zone with its
services. The evidence pack and the governance review carry one SVG per site; `plantctl diagram`
writes one; a pull-request comment that changes conduits shows the part it touches as a Mermaid
`flowchart` (code hosts render it in comments).

Inventory text is data: every label is escaped for the language it is written in (DOT strings,
Mermaid quoted labels), so a name cannot add a node, an edge or markup. `dot` is Graphviz from
Debian (tools/apt-packages.txt); without it, `DotMissing` says so.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from plantctl.model import protocols
from plantctl.model.inventory import Inventory

INTERNET = "internet"
INTERNET_LEVEL = 5.0
LEVEL_NAMES = {
    5.0: "Internet",
    4.0: "Level 4: enterprise",
    3.5: "Level 3.5: industrial DMZ",
    3.0: "Level 3: site operations",
    2.0: "Level 2: supervisory",
    1.0: "Level 1: basic control",
    0.0: "Level 0: process",
}
COLOURS = {5.0: "#f6f8fa", 4.0: "#ddf4ff", 3.5: "#fff8c5", 3.0: "#dafbe1", 2.0: "#fbefff"}
DOT_TIMEOUT = 60


class DotMissing(RuntimeError):
    """Graphviz `dot` is not installed."""


def _level_name(level: float) -> str:
    return LEVEL_NAMES.get(float(level), f"Level {level:g}")


def service_label(inv: Inventory | None, service: dict | str) -> str:
    """`mqtts 8883`, `tcp 1000-1010`, `icmp`: one service of a conduit, as people read it."""
    if isinstance(service, str):
        return service
    svc = dict(service)
    if inv is not None and svc.get("app"):
        with contextlib.suppress(KeyError):
            svc = protocols.resolve(inv, svc)
    name = svc.get("name") or svc.get("app") or svc.get("protocol", "?")
    port = svc.get("port")
    if port is None:
        return str(name) if name == svc.get("protocol") else f"{name} ({svc.get('protocol')})"
    ports = f"{port}-{svc['port_end']}" if svc.get("port_end") not in (None, port) else str(port)
    return f"{name} {ports}"


def site_ids(inv: Inventory) -> list[str]:
    return sorted(inv.of("site"))


def _zones(inv: Inventory, site: str) -> list[dict]:
    from plantctl.model.addressing import zone_networks

    try:
        nets = zone_networks(inv)
    except Exception:  # a picture of an inventory whose address plan is broken: no addresses
        nets = {}
    zones = []
    for rec in inv.site_objects("zone", site):
        d = rec.data
        net = nets.get(rec.key)
        zones.append(
            {
                "id": rec.id,
                "name": d.get("name", rec.id),
                "level": float(d.get("purdue_level", 0)),
                "slt": d.get("security_level_target"),
                "kind": d.get("kind", ""),
                "cidr": str(net.cidr) if net is not None else d.get("cidr", ""),
            }
        )
    return sorted(zones, key=lambda z: (-z["level"], z["id"]))


def _conduits(inv: Inventory, site: str) -> list[dict]:
    found = []
    for rec in sorted(inv.site_objects("conduit", site), key=lambda r: (r.file, r.line)):
        d = rec.data
        found.append(
            {
                "id": rec.id,
                "from": d.get("from"),
                "to": d.get("to"),
                "services": [service_label(inv, s) for s in d.get("services", [])],
            }
        )
    return found


def model(inv: Inventory, site: str) -> dict:
    """The diagram's content: zones (with the internet when a conduit uses it) and conduits.
    KeyError for an unknown site."""
    if inv.get("site", site) is None:
        raise KeyError(site)
    zones = _zones(inv, site)
    conduits = _conduits(inv, site)
    if any(INTERNET in (c["from"], c["to"]) for c in conduits):
        zones.insert(
            0,
            {
                "id": INTERNET,
                "name": "Internet",
                "level": INTERNET_LEVEL,
                "slt": None,
                "kind": INTERNET,
                "cidr": "",
            },
        )
    return {"site": site, "zones": zones, "conduits": conduits}


# -- DOT ---------------------------------------------------------------------------------------


def _q(text: object) -> str:
    """A DOT double-quoted string: backslashes, quotes and line ends escaped."""
    s = str(text).replace("\\", "\\\\").replace('"', '\\"')
    s = s.replace("\r", " ").replace("\n", " ")
    return f'"{s}"'


def _lines(*parts: str) -> str:
    """A DOT label of several centred lines (\\n inside an escaped string)."""
    return '"' + "\\n".join(_q(p)[1:-1] for p in parts if p) + '"'


def _zone_label(z: dict) -> str:
    if z["id"] == INTERNET:
        return _lines("Internet", "(outside the plant)")
    slt = f"SL-T {z['slt']}" if z["slt"] is not None else "SL-T ?"
    return _lines(z["name"], f"{z['id']} · {slt}", z["cidr"])


def dot(inv: Inventory, site: str, only_conduits: Iterable[str] | None = None) -> str:
    """The site's diagram as Graphviz DOT (only some conduits, and their zones, if given)."""
    m = model(inv, site)
    zones, conduits = m["zones"], m["conduits"]
    if only_conduits is not None:
        keep = set(only_conduits)
        conduits = [c for c in conduits if c["id"] in keep]
        touched = {c["from"] for c in conduits} | {c["to"] for c in conduits}
        zones = [z for z in zones if z["id"] in touched]
    known = {z["id"] for z in zones}
    levels = sorted({z["level"] for z in zones}, reverse=True)
    out = [
        f"digraph {_q('zones-' + site)} {{",
        f"  label={_q(f'Zones and conduits of {site}')}; labelloc=t; fontsize=18;",
        '  fontname="Helvetica"; rankdir=TB; newrank=true; nodesep=0.4; ranksep=0.9;',
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica",'
        " fontsize=11];",
        '  edge [fontname="Helvetica", fontsize=9, color="#57606a"];',
    ]
    for i, level in enumerate(levels):
        out.append(f"  subgraph cluster_level_{i} {{")
        out.append(
            f"    label={_q(_level_name(level))}; labeljust=l; style=filled;"
            f" color={_q(COLOURS.get(level, '#fff1e5'))}; fontsize=12;"
        )
        out.append(f'    level_{i} [shape=point, style=invis, width=0, label=""];')
        members = [z for z in zones if z["level"] == level]
        for z in members:
            shape = ", shape=ellipse" if z["id"] == INTERNET else ""
            out.append(
                f"    {_q(z['id'])} [id={_q('zone-' + z['id'])}, label={_zone_label(z)}{shape}];"
            )
        out.append(
            f"    {{ rank=same; level_{i}; " + " ".join(_q(z["id"]) + ";" for z in members) + " }"
        )
        out.append("  }")
    for i in range(len(levels) - 1):
        out.append(f"  level_{i} -> level_{i + 1} [style=invis, weight=100];")
    for c in conduits:
        if c["from"] not in known or c["to"] not in known:
            continue
        label = _lines(c["id"], ", ".join(c["services"]))
        out.append(
            f"  {_q(c['from'])} -> {_q(c['to'])} [id={_q('conduit-' + c['id'])}, label={label},"
            f" tooltip={_q(c['id'])}, constraint=false];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def svg(dot_source: str) -> str:
    """DOT rendered to SVG by Graphviz `dot`. DotMissing when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise DotMissing(
            "Graphviz `dot` is not installed (Debian package graphviz: make setup, or "
            "apt-get install graphviz); --format dot or mermaid need no Graphviz"
        )
    done = subprocess.run(
        [exe, "-Tsvg"],
        input=dot_source,
        capture_output=True,
        text=True,
        timeout=DOT_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def write_svgs(inv: Inventory, output: Path) -> tuple[list[Path], list[str]]:
    """zones-<site>.svg in output for every site; without `dot`, none and a note saying why."""
    from plantctl.core import atomic

    if not dot_available():
        return [], ["zone diagrams not drawn: Graphviz `dot` is not installed (graphviz)"]
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for site in site_ids(inv):
        written.append(atomic.write_text(output / f"zones-{site}.svg", svg(dot(inv, site))))
    return written, []


# -- Mermaid -----------------------------------------------------------------------------------


def _mid(zone: str) -> str:
    """A Mermaid node id: letters, digits and underscores only."""
    return "z_" + re.sub(r"[^A-Za-z0-9]", "_", str(zone))


def _mq(text: object) -> str:
    """A Mermaid quoted label: quotes and markup as entity codes, one line."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    for ch, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        s = s.replace(ch, code)
    for ch, code in (("|", "#124;"), ("`", "#96;"), ("[", "#91;"), ("]", "#93;")):
        s = s.replace(ch, code)
    return f'"{s}"'


def mermaid_flowchart(zones: list[dict], conduits: list[dict]) -> str:
    """A Mermaid `flowchart TB`: zones (dicts with id, and name, level, slt when known) grouped
    by Purdue level, conduits (id, from, to, services, op) as labelled arrows; a removed conduit
    is a dotted arrow."""
    out = ["flowchart TB"]
    by_level: dict[float | None, list[dict]] = {}
    for z in zones:
        by_level.setdefault(z.get("level"), []).append(z)
    for i, level in enumerate(sorted(by_level, key=lambda lv: -1 if lv is None else -lv)):
        members = by_level[level]
        if level is not None:
            out.append(f"  subgraph level_{i}[{_mq(_level_name(level))}]")
        for z in sorted(members, key=lambda z: z["id"]):
            parts = [z.get("name") or z["id"]]
            if z.get("name") and z["name"] != z["id"]:
                parts.append(z["id"])
            if z.get("slt") is not None:
                parts.append(f"SL-T {z['slt']}")
            label = _mq(" · ".join(str(p) for p in parts))
            out.append(f"    {_mid(z['id'])}[{label}]")
        if level is not None:
            out.append("  end")
    for c in conduits:
        label = _mq(f"{c['id']}: {', '.join(c.get('services', []))}".rstrip(": "))
        op = c.get("op")
        arrow = "-.->" if op == "removed" else "-->"
        if op in ("added", "removed", "modified"):
            label = label[:-1] + f' ({op})"'
        out.append(f"  {_mid(c['from'])} {arrow}|{label}| {_mid(c['to'])}")
    return "\n".join(out) + "\n"


def mermaid(inv: Inventory, site: str, only_conduits: Iterable[str] | None = None) -> str:
    m = model(inv, site)
    conduits = m["conduits"]
    zones = m["zones"]
    if only_conduits is not None:
        keep = set(only_conduits)
        conduits = [c for c in conduits if c["id"] in keep]
        touched = {c["from"] for c in conduits} | {c["to"] for c in conduits}
        zones = [z for z in zones if z["id"] in touched]
    return mermaid_flowchart(zones, conduits)


def conduit_changes_flowchart(changes: Iterable) -> str | None:
    """The part of the plant a pull request's conduit changes touch, as Mermaid (None when it
    changes no conduit): per site, the zones the changed conduits join, and those conduits.
    `changes`: gate.changes.Change objects (kind, id `<site>/<conduit>`, op, site, before,
    after)."""
    sites: dict[str, set[str]] = {}
    arrows = []
    for ch in changes:
        if getattr(ch, "kind", None) != "conduit":
            continue
        data = (ch.before if ch.op == "removed" else ch.after) or ch.before or {}
        src, dst = data.get("from"), data.get("to")
        if not src or not dst:
            continue
        site = ch.site or str(ch.id).split("/", 1)[0]
        sites.setdefault(site, set()).update((src, dst))
        services = [service_label(None, s) for s in data.get("services", [])]
        label = f"{str(ch.id).split('/', 1)[-1]}: {', '.join(services)} ({ch.op})"
        arrow = "-.->" if ch.op == "removed" else "-->"
        arrows.append(f"  {_mid(site + '/' + src)} {arrow}|{_mq(label)}| {_mid(site + '/' + dst)}")
    if not arrows:
        return None
    out = ["flowchart TB"]
    for i, site in enumerate(sorted(sites)):
        out.append(f"  subgraph site_{i}[{_mq('site ' + site)}]")
        out += [f"    {_mid(site + '/' + z)}[{_mq(z)}]" for z in sorted(sites[site])]
        out.append("  end")
    return "\n".join(out + arrows) + "\n"
