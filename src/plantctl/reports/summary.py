"""A readable summary of the plant for people (make demo, plantctl summary)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from plantctl.model import addressing
from plantctl.model.inventory import Inventory
from plantctl.model.ownership import owner_of


def render(inv: Inventory, console: Console | None = None) -> None:
    console = console or Console()
    people = inv.of("person")
    teams = inv.of("team")
    kinds = Counter(t.data["kind"] for t in teams.values())
    console.print(
        f"[bold]Plant inventory[/bold] ({inv.source_label}): {len(inv.sites())} sites, "
        f"{len(inv.of('machine'))} machines, {len(inv.of('gateway'))} gateways, "
        f"{len(inv.of('collector'))} collectors, {len(teams)} teams "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
        f"{len(people)} people, {len(inv.of('data_class'))} data classes, "
        f"{len(inv.of('term'))} glossary terms"
    )
    nets = addressing.zone_networks(inv)
    devices = addressing.devices(inv)
    for site in inv.sites():
        rec = inv.get("site", site)
        data = rec.data
        console.rule(
            f"[bold]{data['name']}[/bold] ({site}) phase: {data['phase']}, "
            f"supernet {data['supernet']}"
        )
        zones = Table(title="zones", show_lines=False, title_justify="left")
        for col in ("zone", "Purdue", "SL-T", "VLAN", "CIDR", "devices", "free", "egress"):
            zones.add_column(col)
        for zone in sorted(inv.site_objects("zone", site), key=lambda z: z.data["purdue_level"]):
            net = nets[zone.key]
            here = [d for d in devices if d.site == site and d.zone == zone.id]
            free = net.size - len(here) - len(addressing.reserved(net))
            zones.add_row(
                zone.id,
                str(zone.data["purdue_level"]),
                str(zone.data["security_level_target"]),
                str(zone.data["vlan"]),
                str(net),
                str(len(here)),
                str(free),
                "yes" if zone.data.get("internet_egress") else "",
            )
        console.print(zones)
        machines = Table(title="machines", title_justify="left")
        for col in (
            "machine",
            "kind",
            "criticality",
            "zone",
            "controller",
            "collected by",
            "data owner",
        ):
            machines.add_column(col)
        collectors = {c.data["machine"]: c for c in inv.of("collector").values()}
        for m in sorted(inv.site_objects("machine", site), key=lambda r: r.key):
            c = m.data["controller"]
            col = collectors.get(m.key)
            machines.add_row(
                m.key,
                m.data["kind"],
                m.data["criticality"],
                m.data["zone"],
                f"{c['protocol']} {c['address']}:{c['port']}",
                f"{col.key} on {col.data['gateway']}" if col else "",
                owner_of(inv, "machine-data-requirements", site, m.data["zone"]),
            )
        console.print(machines)
        services = data.get("services", {})
        if services:
            console.print(
                "services: "
                + ", ".join(
                    f"{name} {svc['id']} {svc['address']}:{svc['port']} ({svc['zone']})"
                    for name, svc in services.items()
                )
            )
        grants = [g for g in inv.of("grant").values() if g.data["site"] == site]
        for g in grants:
            who = people[g.data["person"]].data
            console.print(
                f"grant {g.key}: {who['name']}{' (external)' if who['external'] else ''}"
                f" -> {g.data['target']} {g.data['start']} .. {g.data['end']} "
                f"[{g.data['ticket']}]"
            )
        if data["phase"] == "survey":
            survey = data.get("survey")
            console.print(
                "survey: "
                + (
                    f"{survey['date']}, attendees {', '.join(survey['attendees'])}"
                    if survey
                    else "not yet recorded"
                )
            )
