"""The demo's gateways: booted Debian machines at the gateways' inventory addresses, converged
by Ansible (playbooks/site.yml) through the lab's bastion, as IT reaches them in the plant.

The lab stack stands a TCP listener in for each gateway; the demo stops it and boots a machine
in the same namespace (`systemd-nspawn -b`, the lab primitive's Machine, named with the stack's
prefix so that the stack's teardown sweeps it too). The only way in is the bastion: the admin's
grant for each gateway is a login on it (key, then a TOTP code: lab verify's bastion session,
a multiplexing master in a host of an internal zone), and ssh to the gateway rides a channel of
that master (`ProxyCommand ... -W gateway:22`), which the grant's permitopen allows. The first
converge logs in as root with the provisioning key (a new gateway); the second as the admin
(sudo), after the first has closed root logins, and must change nothing.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from plantctl.configs import pam_oath
from plantctl.lab import process, verify
from plantctl.lab.machine import File, Machine
from plantctl.lab.netns import Namespace
from plantctl.model.inventory import Inventory
from plantctl.plant import segmentation
from plantctl.plant.segmentation import INTERNET

from .stack import REPO, DemoStack, site_service

RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def play_recap(text: str) -> dict[str, dict[str, int]]:
    """host -> ok, changed, unreachable, failed from an ansible-playbook log's PLAY RECAP."""
    return {
        m[1]: {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
        for m in RECAP.finditer(text)
    }


CONVERGE_TIMEOUT_S = 900


class GatewayError(RuntimeError):
    pass


@dataclass
class Converge:
    user: str
    seconds: float
    code: int
    recap: dict[str, dict[str, int]]
    log: Path

    def line(self, gw: str) -> str:
        r = self.recap.get(gw)
        if r is None:
            return f"{gw}: no recap"
        return (
            f"{gw}: ok={r['ok']} changed={r['changed']} unreachable={r['unreachable']} "
            f"failed={r['failed']}"
        )


def origin(inv: Inventory, site: str, prefix: str, external: bool) -> verify.Host:
    """A lab host from which a person may reach the bastion: the internet for external people,
    an internal zone for staff (where the conduits let them in, as lab verify picks)."""
    seg = segmentation.build(inv, site)
    svc = site_service(inv, site, "bastion")
    for h in sorted(verify.hosts(inv, site, seg), key=lambda h: (h.kind != "client", h.name)):
        if (h.zone == INTERNET) != external or h.zone == svc["zone"]:
            continue  # the bastion's own zone is not where a person logs in from
        if not Namespace(f"{prefix}-{h.name}").exists():
            continue
        if verify.permitted(
            seg, h.zone, h.address, svc["zone"], svc["address"], "tcp", int(svc["port"])
        ):
            return h
    raise GatewayError(f"no lab host of {site} may reach its bastion")


def session(
    stack: DemoStack, inv: Inventory, grant: str, person: str, external: bool, tmp: Path
) -> verify._Session:
    """A login of a grant's account on the bastion (lab verify's session: key, then a TOTP
    code for an MFA grant); open() it, then reach() targets or ride it with -S."""
    svc = site_service(inv, stack.site, "bastion")
    users = stack.state / "oath" / "users.oath"
    seeds = pam_oath.parse_users(users.read_text()) if users.exists() else {}
    tmp.mkdir(parents=True, exist_ok=True)
    return verify._Session(
        stack.prefix,
        origin(inv, stack.site, stack.prefix, external).name,
        str(stack.state / "keys" / person),
        grant,
        svc["address"],
        tmp,
        verify.ssh_options(tmp),
        seeds.get(grant),
        svc["id"],
    )


class Gateways:
    def __init__(self, stack: DemoStack, inv: Inventory, names: list[str]):
        self.stack, self.inv, self.names = stack, inv, names
        self.work = stack.work / "converge"
        # Sockets (bastion masters, Ansible's masters) on the lab's own tmpfs: a short path (a
        # Unix socket's is at most 107 bytes) that goes with the lab.
        self.sockets = stack.run_dir / "ssh"
        # A fresh folder per run: the lab's host keys are new each time.
        shutil.rmtree(self.work, ignore_errors=True)
        self.machines: dict[str, Machine] = {}
        self.sessions: dict[str, verify._Session] = {}
        self.converges: list[Converge] = []

    def address(self, gw: str) -> str:
        rec = self.inv.get("gateway", gw)
        if rec is None:
            raise GatewayError(f"no gateway {gw} in {self.stack.inventory}")
        return str(rec.data["address"])

    # -- machines ---------------------------------------------------------------------------

    def boot(self) -> dict[str, float]:
        provision = (self.stack.keys / "provision.pub").read_text()
        for gw in self.names:
            ns = Namespace(f"{self.stack.prefix}-{gw}")
            if not ns.exists():
                raise GatewayError(f"the lab has no namespace {ns.name} for {gw}")
            for pid in ns.pids():  # the stack's stand-in listener for this gateway
                process.terminate(pid, timeout=10)
            self.machines[gw] = Machine(
                gw,
                ns,
                self.stack.run_dir / "machines" / gw,
                machine_name=ns.name,
                hostname=gw,
                services=["ssh.service"],
                capabilities=["CAP_NET_ADMIN"],  # nftables inside (gateway_firewall)
                files={"/root/.ssh/authorized_keys": File(provision, 0o600)},
            )
        for m in self.machines.values():
            m.boot()
        for m in self.machines.values():
            m.wait_running(timeout=180)
        return {gw: round(m.boot_seconds or 0, 1) for gw, m in self.machines.items()}

    def stop(self) -> None:
        for m in self.machines.values():
            try:
                m.stop()
            finally:
                m.destroy()
        self.machines.clear()

    # -- the way in -------------------------------------------------------------------------

    def open_sessions(self) -> None:
        grants = self.stack.admin_grants

        def one(gw: str) -> None:
            s = session(
                self.stack,
                self.inv,
                grants[gw].id,
                grants[gw].person,
                False,
                self.sockets / "bastion",
            )
            if not s.open():
                raise GatewayError(f"the bastion refused {grants[gw].id} for {gw}: {s.error}")
            self.sessions[gw] = s

        with ThreadPoolExecutor(max_workers=len(self.names) or 1) as pool:
            list(pool.map(one, self.names))

    def close_sessions(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()

    def ssh_config(self) -> Path:
        """Gateway host keys pinned (read from the booted machines); each gateway through its
        grant's bastion master; the admin's key, then the provisioning key."""
        self.work.mkdir(parents=True, exist_ok=True)
        known = self.work / "known_hosts"
        known.write_text(
            "".join(
                f"{self.address(gw)} "
                + " ".join(m.run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[:2])
                + "\n"
                for gw, m in self.machines.items()
            )
        )
        blocks = []
        for gw in self.names:
            s = self.sessions[gw]
            hop = [
                "ip",
                "netns",
                "exec",
                f"{self.stack.prefix}-{s.origin}",
                "ssh",
                *s.options,
                "-S",
                s.sock,
                "-W",
                "%h:%p",
                f"{s.account}@{s.bastion}",
            ]
            blocks.append(f"Host {self.address(gw)}\n  ProxyCommand {shlex.join(hop)}\n")
        (self.sockets / "cp").mkdir(parents=True, exist_ok=True)
        path = self.work / "ssh_config"
        path.write_text(
            "".join(blocks)
            + f"""
Host *
  IdentityFile {self.stack.keys / self.stack.admin}
  IdentityFile {self.stack.keys / "provision"}
  IdentitiesOnly yes
  BatchMode yes
  UserKnownHostsFile {known}
  StrictHostKeyChecking yes
  ControlMaster auto
  ControlPath {self.sockets / "cp"}/ssh-%C
  ControlPersist 600
  ConnectTimeout 20
  ServerAliveInterval 10
"""
        )
        return path

    # -- Ansible ----------------------------------------------------------------------------

    def converge(self, user: str, log_name: str) -> Converge:
        ssh_config = self.work / "ssh_config"
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_SSH_ARGS": f"-F {ssh_config} -o ControlMaster=auto -o ControlPersist=600s",
            # The masters in the demo's folder: another lab's run uses the same addresses.
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.sockets / "cp"),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        pki = self.stack.state / "pki"
        client = str(pki / "clients") + "/gateway.{{ inventory_hostname }}"
        extra = self.work / "converge-vars.json"
        extra.write_text(
            json.dumps(
                {
                    "collector_tls_ca_cert": str(pki / "ca.crt"),
                    "collector_tls_client_cert": client + ".crt",
                    "collector_tls_client_key": client + ".key",
                    "collector_wheelhouse_dir": str(REPO / ".state" / "wheelhouse"),
                }
            )
        )
        log = self.work / f"{log_name}.log"
        args = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(self.stack.inventory / "plantctl.ansible.yml"),
            str(REPO / "playbooks" / "site.yml"),
            "--limit",
            ",".join(self.names),
            "-u",
            user,
            "-e",
            f"@{extra}",
        ]
        started = time.monotonic()
        with open(log, "w") as out:
            try:
                code = subprocess.run(
                    args,
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=CONVERGE_TIMEOUT_S,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        text = log.read_text()
        recap = play_recap(text)
        done = Converge(user, time.monotonic() - started, code, recap, log)
        self.converges.append(done)
        return done


def build_wheelhouse() -> str:
    """The collector's offline wheelhouse of this source tree (tools/build-wheelhouse.sh, cached
    by its inputs: quick when current)."""
    done = subprocess.run(
        [str(REPO / "tools" / "build-wheelhouse.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise GatewayError(
            f"tools/build-wheelhouse.sh exited {done.returncode}: "
            + " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        )
    return (done.stdout or done.stderr).strip().splitlines()[-1] if done.stdout else ""
