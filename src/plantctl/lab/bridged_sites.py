"""A plant group's data path in the lab: every bridging site's broker and the enterprise broker as
real Mosquitto processes in network namespaces, with the rendered configurations and the lab CA.

    <prefix>-wan          the WAN: a router with a leg per site broker and one to the enterprise
    <prefix>-ent          the enterprise broker (its inventory address, in its zone's network)
    <prefix>-s<i>-brk     site i's broker (its inventory address in its zone's network)
    <prefix>-s<i>-gw      site i's gateways' publishers, on a leg of the broker's namespace

Brokers are processes, not booted machines: the group path needs three brokers and a publisher
per gateway at once, and a booted machine per broker (about 10 s and a systemd each) buys nothing
for what is tested here, the bridge between the brokers' own configurations. Their files are the
ones the stack installs (configs/mosquitto.py, configs/mosquitto_bridge.py), two lab-only
lines added: `user root` (the lab's keys are root's) and, at the enterprise broker only, an
observer account that reads everything, so a test sees what the bridges forward rather than
what the enterprise ACL lets through.

`cut()` takes every site's WAN leg down in the WAN namespace; `restore()` brings it back.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from plantctl.configs import mosquitto, mosquitto_bridge
from plantctl.lab import process
from plantctl.lab.netns import Namespace, veth
from plantctl.lab.pki import Authority, Credential
from plantctl.lab.run import Lab
from plantctl.model.inventory import Inventory
from plantctl.plant import bridges, broker_access
from plantctl.plant.bridges import Endpoint, GroupBridges

OBSERVER = "lab.observer"
LAB_LINES = "\n# lab only\nuser root\n"


@dataclass
class BrokerProcess:
    id: str
    ns: Namespace
    address: str
    port: int
    dir: Path
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        log = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 (handed to the child)
        try:
            self.proc = self.ns.popen(
                ["mosquitto", "-c", str(self.dir / "mosquitto.conf")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto {self.id} exited: {self.log()[-2000:]}")
            probe = self.ns.run(
                ["bash", "-c", f"exec 3<>/dev/tcp/{self.address}/{self.port}"], check=False
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"mosquitto {self.id} did not listen on {self.address}:{self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            process.terminate(self.proc.pid, timeout=10)
            self.proc.wait(timeout=5)
            self.proc = None

    def log(self) -> str:
        try:
            return (self.dir / "mosquitto.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class Site:
    id: str
    bridge: bridges.SiteBridge
    access: broker_access.BrokerAccess
    broker: BrokerProcess
    gw_ns: Namespace
    wan_leg: str  # the site's interface in the WAN namespace


@dataclass
class Observer:
    """mosquitto_sub with a persistent session, printing `<arrival unix time> <topic> <payload>`."""

    ns: Namespace
    out: Path
    args: list[str]
    proc: subprocess.Popen | None = None

    def start(self) -> Observer:
        out = open(self.out, "ab")  # noqa: SIM115 (handed to the child)
        try:
            self.proc = self.ns.popen(
                ["stdbuf", "-oL", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            out.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            process.terminate(self.proc.pid, timeout=5)
            self.proc.wait(timeout=5)
            self.proc = None

    def messages(self) -> list[tuple[float, str, dict]]:
        found = []
        for line in self.out.read_text(errors="replace").splitlines():
            parts = line.split(" ", 2)
            if len(parts) != 3:
                continue
            try:
                found.append((float(parts[0]), parts[1], json.loads(parts[2])))
            except ValueError:
                continue
        return found


@dataclass
class Publisher:
    account: str
    proc: subprocess.Popen
    result: dict = field(default_factory=dict)

    def stop(self, timeout: float = 180) -> dict:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=timeout)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        self.result = json.loads(lines[-1]) if lines else {"error": out[-2000:]}
        return self.result


def _stop_quietly(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        process.terminate(proc.pid)


def _leg(inv: Inventory, site: str, zone: str, address: str) -> tuple[str, str]:
    """(the host's address with its prefix length, the zone's router address: first usable)."""
    rec = inv.get("zone", f"{site}/{zone}")
    if rec is None:
        raise KeyError(f"{site}/{zone}")
    net = ipaddress.ip_network(rec.data["cidr"])
    return f"{address}/{net.prefixlen}", str(net.network_address + 1)


class BridgedGroup:
    """Builds and runs the group's brokers in `lab`; everything goes with the lab."""

    def __init__(self, lab: Lab, inv: Inventory):
        self.lab = lab
        self.inv = inv
        plan = bridges.build(inv)
        if plan is None:
            raise ValueError("the inventory has no enterprise broker (services.enterprise_broker)")
        self.plan: GroupBridges = plan
        self.ca = Authority(lab.path("pki"))
        self.sites: dict[str, Site] = {}
        self.observers: list[Observer] = []
        self.publishers: list[Publisher] = []
        self.cuts: list[tuple[float, float]] = []

    # building ----------------------------------------------------------------------------------

    def _files(self, directory: Path, server: Endpoint | broker_access.BrokerAccess) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        if isinstance(server, Endpoint):
            name, address = server.id, server.address
        else:
            name, address = server.broker_id, server.listeners[0].address
        cred = self.ca.issue(name, server=True, ips=(address,))
        (directory / "ca.crt").write_bytes(self.ca.cert.read_bytes())
        (directory / "server.crt").write_bytes(cred.cert.read_bytes())
        (directory / "server.key").write_bytes(cred.key.read_bytes())
        (directory / "server.key").chmod(0o600)

    def build(self) -> BridgedGroup:
        lab, inv, plan = self.lab, self.inv, self.plan
        wan = lab.namespace("wan")
        wan.forwarding()
        ent = plan.enterprise
        ent_access = bridges.enterprise_access(inv, plan)
        ent_ns = lab.namespace("ent")
        veth(ent_ns, "wan0", wan, "ent0")
        host, router = _leg(inv, ent.site, ent.zone, ent.address)
        ent_ns.add_address("wan0", host)
        wan.add_address("ent0", f"{router}/{host.split('/')[1]}")
        ent_ns.default_route(router)
        ent_dir = lab.path("brokers", ent.id)
        self._files(ent_dir, ent)
        (ent_dir / "acl").write_text(
            mosquitto_bridge.render_enterprise_acl(ent_access)
            + f"\n# lab only: the test's observer reads everything\nuser {OBSERVER}\ntopic read #\n"
        )
        (ent_dir / "mosquitto.conf").write_text(
            mosquitto.render_conf(ent_access, str(ent_dir), str(ent_dir / "data")) + LAB_LINES
        )
        self.enterprise = BrokerProcess(ent.id, ent_ns, ent.address, ent.port, ent_dir)

        for i, bridge in enumerate(plan.sites):
            access = broker_access.build(inv, bridge.site)
            lst = access.listeners[0]
            brk = lab.namespace(f"s{i}-brk")
            leg = f"s{i}w"
            veth(brk, "wan0", wan, leg)
            host, router = _leg(inv, bridge.site, access.zone, lst.address)
            brk.add_address("wan0", host)
            wan.add_address(leg, f"{router}/{host.split('/')[1]}")
            brk.default_route(router)
            # the publishers' leg: a point-to-point link to the broker's namespace
            gw = lab.namespace(f"s{i}-gw")
            veth(gw, "lan0", brk, "lan0")
            brk.add_address("lan0", "192.0.2.1/30")
            gw.add_address("lan0", "192.0.2.2/30")
            gw.default_route("192.0.2.1")
            directory = lab.path("brokers", bridge.broker_id)
            self._files(directory, access)
            client = self.ca.issue(bridge.account)
            (directory / "bridge-ca.crt").write_bytes(self.ca.cert.read_bytes())
            (directory / "bridge.crt").write_bytes(client.cert.read_bytes())
            (directory / "bridge.key").write_bytes(client.key.read_bytes())
            (directory / "bridge.key").chmod(0o600)
            (directory / "acl").write_text(mosquitto.render_acl(access))
            (directory / "mosquitto.conf").write_text(
                mosquitto.render_conf(access, str(directory), str(directory / "data"))
                + mosquitto_bridge.render_bridge(bridge, str(directory))
                + LAB_LINES
            )
            proc = BrokerProcess(bridge.broker_id, brk, lst.address, lst.port, directory)
            self.sites[bridge.site] = Site(bridge.site, bridge, access, proc, gw, leg)
        return self

    def start(self) -> BridgedGroup:
        self.enterprise.start()
        self.lab.defer(self.enterprise.stop)
        for site in self.sites.values():
            site.broker.start()
            self.lab.defer(site.broker.stop)
        return self

    # clients -----------------------------------------------------------------------------------

    def credential(self, account: str) -> Credential:
        path = self.ca.dir / f"{account}.pem"
        if path.exists():
            return Credential(account, path, self.ca.dir / f"{account}.key")
        return self.ca.issue(account)

    def observe(self, where: str, account: str, topic: str = "#") -> Observer:
        """A subscriber at the enterprise broker (`where` = "enterprise") or a site's broker."""
        if where == "enterprise":
            ns, host, port = self.enterprise.ns, self.enterprise.address, self.enterprise.port
        else:
            b = self.sites[where].broker
            ns, host, port = b.ns, b.address, b.port
        cred = self.credential(account)
        client_id = f"{account}-{len(self.observers)}"
        args = [
            "mosquitto_sub", "-h", host, "-p", str(port), "--cafile", str(self.ca.cert),
            "--cert", str(cred.cert), "--key", str(cred.key), "-t", topic, "-q", "1", "-c",
            "-i", client_id, "-F", "%U %t %p",
        ]  # fmt: skip
        obs = Observer(ns, self.lab.path(f"{client_id}.messages"), args).start()
        self.observers.append(obs)
        self.lab.defer(obs.stop)
        return obs

    def publish(
        self, site: str, gateway: str, topics: list[str], *, rate: float | None = None,
        count: int | None = None,
    ) -> Publisher:  # fmt: skip
        """Start gateway `gateway`'s publisher at `site` (its broker account and certificate)."""
        s = self.sites[site]
        account = broker_access.gateway_account(gateway)
        cred = self.credential(account)
        args = [
            sys.executable, "-m", "plantctl.lab.bridge_publisher",
            "--host", s.broker.address, "--port", str(s.broker.port),
            "--ca", str(self.ca.cert), "--cert", str(cred.cert), "--key", str(cred.key),
            "--account", account, "--spool", str(self.lab.path("spool", f"{gateway}.db")),
            *(a for t in topics for a in ("--topic", t)),
            *(("--rate", str(rate)) if rate is not None else ("--count", str(count))),
        ]  # fmt: skip
        proc = s.gw_ns.popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        pub = Publisher(account, proc)
        self.publishers.append(pub)
        self.lab.defer(_stop_quietly, proc)
        return pub

    # the WAN -----------------------------------------------------------------------------------

    def cut(self) -> float:
        for site in self.sites.values():
            self.wan.ip("link", "set", site.wan_leg, "down")
        return time.time()

    def restore(self) -> float:
        for site in self.sites.values():
            self.wan.ip("link", "set", site.wan_leg, "up")
        return time.time()

    @property
    def wan(self) -> Namespace:
        return Namespace(self.lab.full_name("wan"))
