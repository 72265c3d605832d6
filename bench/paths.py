"""Benchmark of `plantctl paths`: all attack paths of one site of about 1,000 devices, in an
inventory of 50 such sites (bench/generate.py), each given a remote-access surface: vendors and
staff reach the bastion over ssh, the bastion reaches every gateway over ssh and https and the
engineering workstation over rdp, the workstation programs every cell over s7comm, and the
enterprise subscribes to the broker. Also the facts' attack_paths and the routes a pull
request's comment compares, for all 50 sites. Prints the figures, writes build/bench-paths.json.

    .venv/bin/python bench/paths.py [--sites 50] [--repeat 5]

Target (issue 21): all paths of one site in under 1 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import PER_SITE, generate

from plantctl.model.loader import load
from plantctl.plant import attack_paths

ROOT = Path(__file__).resolve().parents[1]


def _attack_surface(site_dir: Path) -> None:
    """Add the remote-access conduits and an engineering workstation to one generated site."""
    octet = re.search(r"supernet: 10\.(\d+)\.", (site_dir / "site.yaml").read_text()).group(1)
    gateways = re.findall(r"address: (10\.\d+\.\d+\.\d+)", (site_dir / "gateways.yaml").read_text())
    cells = re.findall(r"id: (cell-\d+)", (site_dir / "zones.yaml").read_text())
    ews = f"10.{octet}.203.50"
    bastion, broker = f"10.{octet}.211.10", f"10.{octet}.210.10"
    (site_dir / "devices.yaml").write_text(
        "devices:\n"
        f"  - {{id: {site_dir.name}-ews, name: Engineering workstation, "
        f"kind: engineering-workstation, zone: supervisory, address: {ews}}}\n"
    )
    conduits = [
        f"  - {{id: vendors-to-bastion, from: internet, to: remote-access, destinations: "
        f"[{bastion}], services: [{{app: ssh}}], purpose: vendors, security_level_capability: 3}}",
        f"  - {{id: staff-to-bastion, from: enterprise, to: remote-access, destinations: "
        f"[{bastion}], services: [{{app: ssh}}], purpose: staff, inspection: deep}}",
        f"  - {{id: dashboards, from: enterprise, to: dmz, destinations: [{broker}], "
        f"services: [{{app: mqtts}}], purpose: dashboards, inspection: deep}}",
        f"  - {{id: bastion-to-gateways, from: remote-access, to: supervisory, sources: "
        f"[{bastion}], destinations: [{', '.join(gateways)}], services: [{{app: ssh}}, "
        f"{{app: https}}], purpose: sessions, security_level_capability: 3}}",
        f"  - {{id: bastion-to-ews, from: remote-access, to: supervisory, sources: [{bastion}], "
        f"destinations: [{ews}], services: [{{app: rdp}}], purpose: engineering sessions, "
        f"security_level_capability: 3}}",
    ]
    conduits += [
        f"  - {{id: ews-{cell}, from: supervisory, to: {cell}, sources: [{ews}], "
        f"services: [{{app: s7comm}}], purpose: programming}}"
        for cell in cells
    ]
    with (site_dir / "conduits.yaml").open("a") as out:
        out.write("\n".join(conduits) + "\n")


def measure(sites: int, repeat: int, work: Path) -> dict:
    inv_dir = generate(sites * PER_SITE, work / "inv")
    for site_dir in sorted((inv_dir / "sites").iterdir()):
        _attack_surface(site_dir)
    start = time.perf_counter()
    inv = load(inv_dir)
    load_s = time.perf_counter() - start
    site = inv.sites()[0]
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = attack_paths.find(inv, site)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    every = attack_paths.fact(inv)
    fact_s = time.perf_counter() - start
    start = time.perf_counter()
    routes = attack_paths.routes(inv)
    routes_s = time.perf_counter() - start
    return {
        "sites": sites,
        "devices": sites * PER_SITE,
        "site": site,
        "paths_one_site": len(result["paths"]),
        "into_cells": sum(p["to_kind"] == "cell" for p in result["paths"]),
        "one_site_s_median": round(statistics.median(times), 4),
        "one_site_s_max": round(max(times), 4),
        "all_sites_fact_s": round(fact_s, 3),
        "all_sites_paths": len(every),
        "all_sites_routes_s": round(routes_s, 3),  # once per side of a pull request's diff
        "all_sites_routes": len(routes),
        "load_s": round(load_s, 2),
        "target_s": 1.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench-paths.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plantctl-bench-paths-") as tmp:
        figures = measure(args.sites, args.repeat, Path(tmp))
    for key, value in figures.items():
        print(f"{key:20} {value}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
