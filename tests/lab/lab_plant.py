"""The plant on one machine, for the role test (see conftest.py for how it is built).

Two gateways (gw-rw-01 reads the CNC machines over OPC UA and a Logix welding cell over
EtherNet/IP, gw-rw-02 the presses over Modbus and an S7 press; the S7 and Logix machines are
added to the lab's inventory copy, see lab_plant.add_s7_and_logix),
the site bastion and the site broker are booted Debian machines, each in its own namespace in
its inventory zone; the PLCs are recording simulators in their own namespaces (python-snap7's
own server for S7, cpppo's EtherNet/IP server for Logix); an IT workstation
namespace in the enterprise zone is the controller's only way in (ssh ProxyCommand through it to
the bastion, ProxyJump from there, as in the plant) and hosts the independent MQTT observer.

Test-only secrets (SSH keys, a CA) are generated here, in the session's temporary folder; the
admins' public keys are added to a private copy of the inventory, never to the repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from plantctl.demo.gateways import play_recap
from plantctl.lab import Lab, Machine, Namespace, PlcSimulator
from plantctl.lab.observer import Subscriber
from plantctl.lab.pki import Authority
from plantctl.model.inventory import Inventory

ROOT = Path(__file__).resolve().parents[2]
SITE = "ridgeway"
GATEWAYS = ("gw-rw-01", "gw-rw-02")
# Not in the sample plant (Ridgeway has no S7 or Logix controller; Lakeside's are still in
# survey): the lab's private inventory copy adds one of each, read by the two lab gateways, with
# the conduits that allow it (add_s7_and_logix).
S7_MACHINE, LOGIX_MACHINE = "rw-press-03", "rw-weld-01"
ADMINS = ("dokafor", "kito", "abello")  # the admin role bindings at ridgeway
OPERATOR = "dokafor"  # the network admin who runs the second converge


@dataclass
class Converge:
    seconds: float
    recap: dict[str, dict[str, int]]
    log: Path


# The lab CA's file of a gateway's client certificate: CN = its broker account gateway.<id>.
CLIENT_CERT = "/gateway.{{ inventory_hostname }}"


@dataclass
class Plant:
    lab: Lab
    work: Path
    inv: Inventory
    inventory_dir: Path
    ssh_config: Path
    keys: dict[str, Path]
    ca: Authority
    machines: dict[str, Machine]
    namespaces: dict[str, Namespace]
    plcs: dict[str, PlcSimulator]
    observer: Subscriber
    boot_seconds: dict[str, float]
    converges: list[Converge] = field(default_factory=list)

    def address(self, name: str) -> str:
        if name in ("rw-broker", "rw-bastion"):
            svc = "broker" if name == "rw-broker" else "bastion"
            return self.inv.get("site", SITE).data["services"][svc]["address"]
        if self.inv.get("gateway", name):
            return self.inv.get("gateway", name).data["address"]
        return self.inv.get("machine", name).data["controller"]["address"]

    def ansible(self, playbook: str, user: str, *extra: str, log_name: str) -> Converge:
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_SSH_ARGS": f"-F {self.ssh_config} -o ControlMaster=auto "
            "-o ControlPersist=600s",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.work / "cp"),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        vars_file = self.work / "converge-vars.json"
        vars_file.write_text(
            json.dumps(
                {
                    "collector_tls_ca_cert": str(self.ca.cert),
                    # named for the gateway's broker account (broker_access.gateway_account)
                    "collector_tls_client_cert": str(self.ca.dir) + CLIENT_CERT + ".pem",
                    "collector_tls_client_key": str(self.ca.dir) + CLIENT_CERT + ".key",
                    "collector_wheelhouse_dir": str(self.work / "wheelhouse"),
                }
            )
        )
        log = self.work / f"{log_name}.log"
        args = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(self.inventory_dir / "plantctl.ansible.yml"),
            str(ROOT / "playbooks" / playbook),
            "--limit",
            ",".join(GATEWAYS),
            "-u",
            user,
            "-e",
            f"@{vars_file}",
            *extra,
        ]
        started = time.monotonic()
        with open(log, "w") as out:
            proc = subprocess.run(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=900,
                check=False,
            )
        seconds = time.monotonic() - started
        text = log.read_text()
        recap = play_recap(text)
        if proc.returncode != 0:
            tail = "\n".join(text.splitlines()[-60:])
            pytest.fail(f"ansible-playbook {playbook} as {user} exited {proc.returncode}:\n{tail}")
        return Converge(seconds, recap, log)

    def host(self, name: str):
        """testinfra host for a gateway, as the operator (sudo) through the bastion."""
        import testinfra

        return testinfra.get_host(
            f"ssh://{OPERATOR}@{self.address(name)}", ssh_config=str(self.ssh_config), sudo=True
        )


def probe(where, host: str, port: int, timeout: float = 4.0) -> str:
    """open | refused | timeout: a TCP connect from `where` (a Namespace, a Machine or a
    testinfra host). "refused" also covers a connect the local firewall forbids (EPERM)."""
    args = ["timeout", str(timeout), "bash", "-c", 'exec 3<>"/dev/tcp/$0/$1"', host, str(port)]
    if hasattr(where, "check_output"):  # testinfra
        rc = where.run(shlex.join(args)).rc
    else:
        rc = where.run(args, check=False, timeout=timeout + 10).returncode
    if rc == 0:
        return "open"
    if rc == 124:
        return "timeout"
    return "refused"


def make_keys(work: Path) -> dict[str, Path]:
    keys = {}
    for name in ("provision", "jump", *ADMINS):
        path = work / "keys" / name
        path.parent.mkdir(exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@lab", "-f", str(path)],
            check=True,
        )
        keys[name] = path
    return keys


LAB_MACHINES = f"""\
  # lab only (tests/lab/lab_plant.py): one S7 and one Logix controller
  - id: {S7_MACHINE}
    name: Servo press 300 t
    zone: cell-molding
    line: molding
    kind: press
    vendor: Hollis Presses
    model: Siemens S7-1500 (CPU 1515-2 PN)
    criticality: standard
    controller: {{protocol: s7, address: 10.20.12.51, port: 102, rack: 0, slot: 1}}
  - id: {LOGIX_MACHINE}
    name: Stud welding robot cell
    zone: cell-machining
    line: machining
    kind: robot-cell
    vendor: Arnholt Robotics
    model: Rockwell ControlLogix 5580 (1756-L83E)
    criticality: standard
    controller: {{protocol: ethernet-ip, address: 10.20.11.52, port: 44818}}
"""
LAB_COLLECTORS = f"""\
  # lab only (tests/lab/lab_plant.py)
  - id: col-{S7_MACHINE}
    gateway: gw-rw-02
    protocol: s7
    machine: {S7_MACHINE}
    signals:
      - {{name: status, data_class: machine-status, meaning: machine-status, interval_s: 1, s7: {{area: db, db: 10, offset: 0, type: int}}}}
      - {{name: stroke-count, data_class: production-counts, meaning: production-count, interval_s: 2, s7: {{area: db, db: 10, offset: 2, type: dint}}}}
      - {{name: tonnage, data_class: machine-status, meaning: process-value, unit: t, interval_s: 2, s7: {{area: db, db: 10, offset: 6, type: real}}}}
      - {{name: door-closed, data_class: machine-status, meaning: alert, interval_s: 1, s7: {{area: inputs, offset: 0, bit: 2, type: bool}}}}
  - id: col-{LOGIX_MACHINE}
    gateway: gw-rw-01
    protocol: ethernet-ip
    machine: {LOGIX_MACHINE}
    signals:
      - {{name: status, data_class: machine-status, meaning: machine-status, interval_s: 1, logix: {{tag: Status, type: DINT}}}}
      - {{name: weld-count, data_class: production-counts, meaning: production-count, interval_s: 2, logix: {{tag: WeldCount, type: DINT}}}}
      - {{name: weld-current, data_class: machine-status, meaning: process-value, unit: kA, interval_s: 2, logix: {{tag: WeldCurrent, type: REAL}}}}
      - {{name: gun-temp-1, data_class: machine-status, meaning: process-value, unit: degC, interval_s: 2, logix: {{tag: "GunTemps[1]", type: INT}}}}
      - {{name: fault, data_class: machine-status, meaning: alert, interval_s: 1, logix: {{tag: Fault, type: BOOL}}}}
"""  # noqa: E501 (flow mappings, as in the sample's collectors.yaml)
LAB_CONDUITS = f"""\
  # lab only (tests/lab/lab_plant.py)
  - id: gateway-reads-s7-press
    from: supervisory
    to: cell-molding
    sources: [10.20.20.22]
    destinations: [10.20.12.51]
    services: [{{protocol: tcp, port: 102, name: s7comm}}]
    purpose: Gateway gw-rw-02 reads the servo press {S7_MACHINE} over S7 (read-only)
  - id: gateway-reads-logix-weld
    from: supervisory
    to: cell-machining
    sources: [10.20.20.21]
    destinations: [10.20.11.52]
    services: [{{protocol: tcp, port: 44818, name: ethernet-ip}}]
    purpose: Gateway gw-rw-01 reads the welding cell {LOGIX_MACHINE} over EtherNet/IP (read-only)
"""


def add_s7_and_logix(inventory_dir: Path) -> None:
    """Adds the lab's S7 and Logix machines, their collectors and conduits to an inventory copy
    (each list is the last one of its file), both in the site's pilot."""
    site = inventory_dir / "sites" / SITE
    for name, text in (
        ("machines.yaml", LAB_MACHINES),
        ("collectors.yaml", LAB_COLLECTORS),
        ("conduits.yaml", LAB_CONDUITS),
    ):
        path = site / name
        path.write_text(path.read_text().rstrip("\n") + "\n" + text)
    # both in the pilot (PHA-002: a pilot site collects from its pilot machines only)
    path = site / "site.yaml"
    text, n = re.subn(
        r"(  pilot:\n(?:    .*\n)*?    machines: \[[^\]]*)\]",
        rf"\1, {S7_MACHINE}, {LOGIX_MACHINE}]",
        path.read_text(),
    )
    assert n == 1, "the pilot's machines list in site.yaml"
    path.write_text(text)


def inventory_with_keys(work: Path, keys: dict[str, Path]) -> Path:
    """A private copy of the sample inventory where the admins have the test keys, and the lab's
    S7 and Logix machines (add_s7_and_logix)."""
    target = work / "inventory"
    shutil.copytree(ROOT / "inventory", target)
    add_s7_and_logix(target)
    people = target / "org/people.yaml"
    text = people.read_text()
    for login in ADMINS:
        pub = (keys[login].with_suffix(".pub")).read_text().strip()
        text, n = re.subn(
            rf"(\{{login: {login}, [^}}]*)\}}", rf'\1, ssh_public_key: "{pub}"}}', text
        )
        assert n == 1, login
    people.write_text(text)
    return target


def write_ssh_config(
    work: Path,
    keys: dict[str, Path],
    ctl: Namespace,
    bastion: str,
    gateway_glob: str,
    host_keys: dict[str, str],
) -> Path:
    """Host keys are pinned (read from the booted machines), as IT pins its gateways': an
    unknown or changed key stops the connection."""
    (work / "known_hosts").write_text(
        "".join(f"{address} {' '.join(key.split()[:2])}\n" for address, key in host_keys.items())
    )
    path = work / "ssh_config"
    path.write_text(f"""\
Host {bastion}
  User root
  IdentityFile {keys["jump"]}
  ProxyCommand ip netns exec {ctl.name} nc %h %p

Host {gateway_glob}
  ProxyJump {bastion}
  IdentityFile {keys[OPERATOR]}
  IdentityFile {keys["provision"]}

Host *
  IdentitiesOnly yes
  BatchMode yes
  UserKnownHostsFile {work / "known_hosts"}
  StrictHostKeyChecking yes
  ControlMaster auto
  ControlPath {work / "cp"}/ssh-%C
  ControlPersist 600
  ConnectTimeout 10
  ServerAliveInterval 10
""")
    (work / "cp").mkdir(exist_ok=True)
    return path
