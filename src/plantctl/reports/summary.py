"""A readable summary of the plant for people (make demo, plantctl summary).

Readable at any width, on a terminal and in a log: addresses and ids are never cut. The width
is $COLUMNS when set, the terminal's on a terminal, else a generous DEFAULT_WIDTH (a CI log has
no terminal; rich alone would cut everything to 80 columns with an ellipsis). A table that fits
is drawn as a table; one that does not (a narrow terminal, COLUMNS=40) is printed as one record
per row, wrapped between values, so that every id and address stays whole. Only a value longer
than the whole width is folded onto the next line, never cut.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from plantctl.model import addressing
from plantctl.model.inventory import Inventory
from plantctl.model.ownership import owner_of

DEFAULT_WIDTH = 200  # no terminal and no $COLUMNS: the widest table of a plant fits


def width(environ=None, stream=None) -> int:
    """$COLUMNS if it is a positive number, else the terminal's width, else DEFAULT_WIDTH."""
    environ = os.environ if environ is None else environ
    stream = sys.stdout if stream is None else stream
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if stream.isatty():
            return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    except (AttributeError, ValueError):
        pass
    return DEFAULT_WIDTH


def make_console() -> Console:
    # Inventory text is data: no markup, emoji codes or highlighting taken from it.
    return Console(width=width(), markup=False, emoji=False, highlight=False)


def _heading(console: Console, title: str) -> None:
    """A rule with the title in it when it fits, else a plain rule and the title wrapped."""
    if len(title) + 6 <= console.width:
        console.rule(Text(title, style="bold"))
    else:
        console.rule()
        console.print(Text(title, style="bold"))


def _grid(console: Console, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]):
    """A table when every cell fits unbroken, else one wrapped record per row."""
    columns = list(zip(headers, *rows, strict=True)) if rows else [(h,) for h in headers]
    natural = sum(max(len(c) for c in col) for col in columns) + 3 * len(headers) + 1
    if natural <= console.width:
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header, overflow="fold", no_wrap=False)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    console.print(Text(f"{title}:", style="bold"))
    records = Table.grid(padding=(0, 1))
    records.add_column(no_wrap=True)
    records.add_column(overflow="fold")
    for row in rows:
        text = Text(row[0], style="bold")
        fields = [f"{h}: {v}" for h, v in zip(headers[1:], row[1:], strict=True) if v]
        if fields:
            text.append(": " + "; ".join(fields))
        records.add_row("-", text)
    console.print(records)


def render(inv: Inventory, console: Console | None = None) -> None:
    console = console or make_console()
    people = inv.of("person")
    teams = inv.of("team")
    kinds = Counter(t.data["kind"] for t in teams.values())
    console.print(
        Text.assemble(
            ("Plant inventory", "bold"),
            f" ({inv.source_label}): {len(inv.sites())} sites, "
            f"{len(inv.of('machine'))} machines, {len(inv.of('gateway'))} gateways, "
            f"{len(inv.of('collector'))} collectors, {len(teams)} teams "
            f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
            f"{len(people)} people, {len(inv.of('data_class'))} data classes, "
            f"{len(inv.of('term'))} glossary terms",
        )
    )
    nets = addressing.zone_networks(inv)
    devices = addressing.devices(inv)
    for site in inv.sites():
        data = inv.of("site")[site].data
        _heading(
            console,
            f"{data['name']} ({site}) phase: {data['phase']}, supernet {data['supernet']}",
        )
        rows: list[tuple[str, ...]] = []
        for zone in sorted(inv.site_objects("zone", site), key=lambda z: z.data["purdue_level"]):
            net = nets[zone.key]
            here = [d for d in devices if d.site == site and d.zone == zone.id]
            free = net.size - len(here) - len(addressing.reserved(net))
            rows.append(
                (
                    zone.id,
                    str(zone.data["purdue_level"]),
                    str(zone.data["security_level_target"]),
                    str(zone.data["vlan"]),
                    str(net),
                    str(len(here)),
                    str(free),
                    "yes" if zone.data.get("internet_egress") else "",
                )
            )
        _grid(
            console,
            "zones",
            ("zone", "Purdue", "SL-T", "VLAN", "CIDR", "devices", "free", "egress"),
            rows,
        )
        collectors = {c.data["machine"]: c for c in inv.of("collector").values()}
        rows = []
        for m in sorted(inv.site_objects("machine", site), key=lambda r: r.key):
            c = m.data["controller"]
            col = collectors.get(m.key)
            rows.append(
                (
                    m.key,
                    m.data["kind"],
                    m.data["criticality"],
                    m.data["zone"],
                    f"{c['protocol']} {c['address']}:{c['port']}",
                    f"{col.key} on {col.data['gateway']}" if col else "",
                    owner_of(inv, "machine-data-requirements", site, m.data["zone"]),
                )
            )
        _grid(
            console,
            "machines",
            ("machine", "kind", "criticality", "zone", "controller", "collected by", "data owner"),
            rows,
        )
        here = sorted((d for d in devices if d.site == site), key=lambda d: (d.address, d.id))
        _grid(
            console,
            "addresses",
            ("address", "id", "kind", "zone"),
            [(str(d.address), d.id, d.kind, d.zone) for d in here],
        )
        services = data.get("services", {})
        if services:
            console.print(
                Text(
                    "services: "
                    + ", ".join(
                        f"{name} {svc['id']} {svc['address']}:{svc['port']} ({svc['zone']})"
                        for name, svc in services.items()
                    )
                )
            )
        grants = [g for g in inv.of("grant").values() if g.data["site"] == site]
        for g in grants:
            who = people[g.data["person"]].data
            console.print(
                Text(
                    f"grant {g.key}: {who['name']}{' (external)' if who['external'] else ''}"
                    f" -> {g.data['target']} {g.data['start']} .. {g.data['end']} "
                    f"[{g.data['ticket']}]"
                )
            )
        if data["phase"] == "survey":
            survey = data.get("survey")
            console.print(
                Text(
                    "survey: "
                    + (
                        f"{survey['date']}, attendees {', '.join(survey['attendees'])}"
                        if survey
                        else "not yet recorded"
                    )
                )
            )
