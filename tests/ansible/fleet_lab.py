"""A lab fleet: N gateways as booted machines behind the site bastion, for AWX-style converges
(tests/ansible/test_fleet_lab.py, 3 gateways) and the fleet benchmark (bench/fleet.py, 2, 5 and
10 gateways).

The machines are made as tests/lab/conftest.py makes its gateways (Lab.machine: systemd-nspawn
over an overlay of this host's root, each in its own namespace in its inventory zone; the IT
workstation namespace is the controller's only way in, ProxyJump through the bastion). The fleet's
gateways (gw-fl-01, ...) are added to a private copy of the sample inventory, with the lowest
free addresses of the gateways' zone and no collectors: they are what a plant group adds by the
hundred, and they converge gateway_base and gateway_firewall (site.yml's collectors play has no
host among them).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from lab_plant import (
    OPERATOR,
    SITE,
    inventory_with_keys,
    make_keys,
    write_ssh_config,
)

from plantctl.lab import File, Lab, Machine, cleanup
from plantctl.model import addressing
from plantctl.model.loader import load

ZONE = "supervisory"  # the zone of the sample's gateways
__all__ = ["OPERATOR", "Fleet", "fleet"]


@dataclass
class Fleet:
    lab: Lab
    work: Path
    inventory_dir: Path
    ssh_config: Path
    gateways: list[str]
    addresses: dict[str, str]  # gateway -> its inventory address
    machines: dict[str, Machine]
    boot_seconds: float

    def close_masters(self) -> None:
        """Close the SSH masters ControlPersist keeps, so the next converge connects afresh
        (as an AWX job does, in a new container)."""
        for sock in (self.work / "cp").glob("*"):
            subprocess.run(
                ["ssh", "-F", str(self.ssh_config), "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                capture_output=True,
                check=False,
                timeout=10,
            )

    def envvars(self) -> dict[str, str]:
        """The controller's SSH set-up (AWX: the machine credential and the job's environment)."""
        return {
            "ANSIBLE_SSH_ARGS": f"-F {self.ssh_config} -o ControlMaster=auto "
            "-o ControlPersist=600s",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.work / "cp"),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }


def add_gateways(inventory_dir: Path, count: int) -> list[str]:
    """Appends `count` gateways to the site's gateways.yaml (its list is the file's last)."""
    inv = load(inventory_dir)
    addresses = addressing.allocate(inv, SITE, ZONE, count)
    ids = [f"gw-fl-{i:02d}" for i in range(1, count + 1)]
    path = inventory_dir / "sites" / SITE / "gateways.yaml"
    lines = "".join(
        f"  - {{id: {gw}, zone: {ZONE}, address: {addr}, model: Edge box E300, os: Debian 12, "
        "maintenance_window: wed-night}\n"
        for gw, addr in zip(ids, addresses, strict=True)
    )
    path.write_text(path.read_text().rstrip("\n") + "\n  # lab fleet (tests/ansible)\n" + lines)
    return ids


@contextlib.contextmanager
def fleet(work: Path, count: int) -> Iterator[Fleet]:
    """The bastion and `count` fresh gateways, booted; all of it gone on leaving the block."""
    for prefix, items in cleanup.remove_stale().items():
        print(f"removed leftovers of lab run {prefix}: {len(items)} item(s)")
    keys = make_keys(work)
    inventory_dir = inventory_with_keys(work, keys)
    gateways = add_gateways(inventory_dir, count)
    inv = load(inventory_dir)
    bastion = inv.get("site", SITE).data["services"]["bastion"]
    with Lab() as lab:
        net = lab.site_network(inv, SITE)
        ctl = net.host("it-ws", "enterprise", addressing.allocate(inv, SITE, "enterprise")[0])
        machines = {
            "rw-bastion": lab.machine(
                "rw-bastion",
                net.host(bastion["id"], bastion["zone"], bastion["address"]),
                services=["ssh.service"],
                files={
                    "/root/.ssh/authorized_keys": File(
                        keys["jump"].with_suffix(".pub").read_text(), 0o600
                    )
                },
            )
        }
        provision = keys["provision"].with_suffix(".pub").read_text()
        addresses = {}
        for gw in gateways:
            addresses[gw] = inv.get("gateway", gw).data["address"]
            machines[gw] = lab.machine(
                gw,
                net.host(gw, ZONE, addresses[gw]),
                services=["ssh.service"],
                capabilities=["CAP_NET_ADMIN"],
                files={"/root/.ssh/authorized_keys": File(provision, 0o600)},
            )
        lab.boot(*machines.values())
        boot = max(m.boot_seconds or 0.0 for m in machines.values())
        pinned = {"rw-bastion": bastion["address"], **addresses}
        host_keys = {
            address: machines[name].run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout
            for name, address in pinned.items()
        }
        glob = re.sub(r"\.\d+$", ".*", addresses[gateways[0]])
        ssh_config = write_ssh_config(work, keys, ctl, bastion["address"], glob, host_keys)
        f = Fleet(lab, work, inventory_dir, ssh_config, gateways, addresses, machines, boot)
        try:
            yield f
        finally:
            f.close_masters()  # before the machines go away
