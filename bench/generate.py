"""Synthetic inventories for benchmarks: the sample plant's organisation with N devices spread over
sites of about 1,000 devices each, in realistic proportions (per cell of 90 machines: 10
gateways' worth of supervision, collectors on two machines in three).

    python bench/generate.py --devices 10000 --out /tmp/inv-10k
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inventory"
PER_SITE = 1000
MACHINES_PER_CELL = 90
MACHINES_PER_GATEWAY = 9


def _site(index: int, devices: int) -> dict[str, str]:
    site = f"site-{index:03d}"
    octet = 10 + index  # supernet 10.<octet>.0.0/16 is not used by anything else here
    cells = max(1, -(-int(devices * 0.9) // MACHINES_PER_CELL))
    machines, gateways, collectors, conduits = [], [], [], []
    zones = [
        f"  - {{id: supervisory, name: Supervisory, kind: supervisory, purdue_level: 2, "
        f"security_level_target: 2, vlan: 120, cidr: 10.{octet}.200.0/22}}",
        f"  - {{id: dmz, name: DMZ, kind: industrial-dmz, purdue_level: 3.5, "
        f"security_level_target: 3, vlan: 135, cidr: 10.{octet}.210.0/24}}",
        f"  - {{id: remote-access, name: Remote access, kind: remote-access, purdue_level: 3.5, "
        f"security_level_target: 3, vlan: 136, cidr: 10.{octet}.211.0/24}}",
        f"  - {{id: enterprise, name: Enterprise, kind: enterprise, purdue_level: 4, "
        f"security_level_target: 1, vlan: 140, cidr: 10.{octet}.212.0/24, internet_egress: true}}",
    ]
    made = 0
    gw_count = 0
    target = int(devices * 0.9)
    for cell in range(cells):
        zone = f"cell-{cell:02d}"
        zones.append(
            f"  - {{id: {zone}, name: Cell {cell}, kind: cell, purdue_level: 1, "
            f"security_level_target: 2, vlan: {200 + cell}, cidr: 10.{octet}.{cell}.0/24}}"
        )
        cell_gateways = []
        for m in range(min(MACHINES_PER_CELL, target - made)):
            mid = f"{site}-m{cell:02d}{m:03d}"
            address = f"10.{octet}.{cell}.{10 + m}"
            opc = m % 3 == 0
            protocol, port = ("opcua", 4840) if opc else ("modbus-tcp", 502)
            crit = "critical" if m % 10 == 0 else "standard"
            window = "\n    maintenance_window: sun-early" if crit == "critical" else ""
            machines.append(
                f"  - id: {mid}\n    name: Machine {cell}-{m}\n    zone: {zone}\n"
                f"    kind: {'cnc-machine' if opc else 'injection-molder'}\n"
                f"    criticality: {crit}{window}\n"
                f"    controller: {{protocol: {protocol}, address: {address}, port: {port}}}"
            )
            if m % MACHINES_PER_GATEWAY == 0:
                gw_count += 1
                gid = f"{site}-gw{gw_count:03d}"
                gaddr = f"10.{octet}.{200 + gw_count // 250}.{10 + gw_count % 250}"
                gateways.append(f"  - {{id: {gid}, zone: supervisory, address: {gaddr}}}")
                cell_gateways.append(gaddr)
            if m % 3 != 2:
                gid = f"{site}-gw{gw_count:03d}"
                sig = (
                    'opcua: {node_id: "ns=2;s=Machine.Status", operation: subscribe}'
                    if opc
                    else "modbus: {function: 3, address: 0}"
                )
                cnt = (
                    'opcua: {node_id: "ns=2;s=Machine.PartCount", operation: read}'
                    if opc
                    else "modbus: {function: 4, address: 10, count: 2}"
                )
                collectors.append(
                    f"  - id: {mid}-col\n    gateway: {gid}\n    protocol: {protocol}\n"
                    f"    machine: {mid}\n    serves: [{site}-reporting]\n    signals:\n"
                    f"      - {{name: status, data_class: machine-status, meaning: machine-status,"
                    f" interval_s: 1, {sig}}}\n"
                    f"      - {{name: count, data_class: production-counts, "
                    f"meaning: production-count, interval_s: 10, {cnt}}}"
                )
            made += 1
        conduits.append(
            f"  - id: read-{zone}\n    from: supervisory\n    to: {zone}\n"
            f"    services: [{{protocol: tcp, port: 502}}, {{protocol: tcp, port: 4840}}]\n"
            f"    purpose: Gateways read cell {cell}"
        )
    conduits.append(
        f"  - id: publish\n    from: supervisory\n    to: dmz\n"
        f"    destinations: [10.{octet}.210.10]\n    services: [{{protocol: tcp, port: 8883}}]\n"
        f"    purpose: Gateways publish to the broker\n    security_level_capability: 3"
    )
    site_yaml = (
        f"site:\n  id: {site}\n  name: Plant {index}\n  phase: operate\n"
        f"  supernet: 10.{octet}.0.0/16\n  timezone: Europe/Berlin\n"
        f'  maintenance_windows:\n    - {{id: sun-early, days: [sun], start: "02:00", hours: 4}}\n'
        f"  survey: {{date: 2026-01-10, attendees: [mlopez, kito, dokafor, nfarah]}}\n"
        f"  signoffs:\n"
        f"    - {{phase: pilot, team: it-network, person: dokafor, date: 2026-02-01}}\n"
        f"    - {{phase: pilot, team: ops-ridgeway, person: mlopez, date: 2026-02-01}}\n"
        f"    - {{phase: rollout, team: it-network, person: dokafor, date: 2026-05-01}}\n"
        f"    - {{phase: rollout, team: ops-ridgeway, person: mlopez, date: 2026-05-01}}\n"
        f"  services:\n"
        f"    broker: {{id: {site}-broker, zone: dmz, address: 10.{octet}.210.10, port: 8883}}\n"
        f"    bastion: {{id: {site}-bastion, zone: remote-access, address: 10.{octet}.211.10, "
        f"port: 22}}\n"
    )
    return {
        f"sites/{site}/site.yaml": site_yaml,
        f"sites/{site}/zones.yaml": "zones:\n" + "\n".join(zones) + "\n",
        f"sites/{site}/machines.yaml": "machines:\n" + "\n".join(machines) + "\n",
        f"sites/{site}/gateways.yaml": "gateways:\n" + "\n".join(gateways) + "\n",
        f"sites/{site}/collectors.yaml": "collectors:\n" + "\n".join(collectors) + "\n",
        f"sites/{site}/conduits.yaml": "conduits:\n" + "\n".join(conduits) + "\n",
    }


def _goal(index: int) -> str:
    """One agreed goal per site that its collectors serve (status and counts of its machines)."""
    site = f"site-{index:03d}"
    return (
        f"  - id: {site}-reporting\n    site: {site}\n"
        f"    statement: Production reporting and downtime of plant {index} from the machines\n"
        f"    metric: {{meaning: production-count, unit: parts, direction: increase, "
        f"machines: [{site}-m00000]}}\n"
        f"    data_classes: [machine-status, production-counts]\n"
        f"    baseline: {{value: 1000, period: {{start: 2026-04-01, end: 2026-06-30}}}}\n"
        f"    target: {{value: 1100, period: {{start: 2026-07-01, end: 2026-09-30}}}}\n"
        f"    owners: [ops-ridgeway, it-network]\n    sponsors: [plant-management]\n"
        f"    agreed_by:\n      - {{team: ops-ridgeway, person: mlopez, date: 2026-04-02}}\n"
        f"      - {{team: it-network, person: dokafor, date: 2026-04-02}}\n"
        f"    review: {{cadence: weekly}}\n"
    )


def generate(devices: int, out: Path) -> Path:
    """Write an inventory with about `devices` machines and gateways to out/."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(SAMPLE / "schema", out / "schema")
    shutil.copytree(SAMPLE / "org", out / "org")
    for name in ("glossary.yaml", "data_classes.yaml", "protocols.yaml"):
        shutil.copy(SAMPLE / name, out / name)
    (out / "org" / "ownership.yaml").write_text(
        (SAMPLE / "org" / "ownership.yaml").read_text().split("\nsites:")[0] + "\n"
    )
    bindings = (SAMPLE / "org" / "role_bindings.yaml").read_text()
    (out / "org" / "role_bindings.yaml").write_text(
        bindings.replace("site: ridgeway", "site: site-000").replace(
            "site: lakeside", "site: site-000"
        )
    )
    (out / "access").mkdir()
    (out / "access" / "grants.yaml").write_text("grants: []\n")
    sites = max(1, -(-devices // PER_SITE))
    (out / "goals.yaml").write_text("goals:\n" + "".join(_goal(i) for i in range(sites)))
    for index in range(sites):
        share = min(PER_SITE, devices - index * PER_SITE)
        for rel, text in _site(index, share).items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    generate(args.devices, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
