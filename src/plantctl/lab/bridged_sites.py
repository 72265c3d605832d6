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
import math
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
            mosquitto.render_conf(ent_access, str(ent_dir), str(ent_dir / "data"))
            + mosquitto_bridge.render_enterprise_queue(plan)
            + LAB_LINES
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


# judging a run ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _q(values: list[float], q: float, scale: float = 1.0) -> float | None:
    """A quantile in JSON: rounded, None without values (JSON has no NaN)."""
    return round(percentile(values, q) * scale, 2) if values else None


def data_class(topic: str) -> str:
    """The data class level of `<site>/<zone>/<machine>/<class>/<signal>`."""
    levels = topic.split("/")
    return levels[3] if len(levels) == 5 else ""


@dataclass(frozen=True)
class Sent:
    """What a publisher took: sample seq 1..taken on topics[(seq - 1) % len(topics)]."""

    gateway: str
    site: str
    topics: tuple[str, ...]
    taken: int

    def samples(self) -> list[tuple[int, str]]:
        return [
            (seq, self.topics[(seq - 1) % len(self.topics)]) for seq in range(1, self.taken + 1)
        ]


def judge(
    sent: list[Sent],
    received: list[tuple[float, str, dict]],
    forwarded: dict[str, tuple[str, ...]],
    outage: tuple[float, float] | None = None,
) -> dict:
    """What arrived at the enterprise broker against what was taken: every sample of a forwarded
    class once (`missing`, `duplicates`), nothing else (`leaked`), latency from the sample's
    time to its first arrival: `latency_ms` before `outage` (start, end), apart for the samples
    taken during it and after it."""
    first: dict[tuple[str, int], float] = {}
    copies: dict[tuple[str, int], int] = {}
    leaked: list[str] = []
    allowed = {(site, c) for site, classes in forwarded.items() for c in classes}
    for at, topic, body in received:
        site = topic.split("/", 1)[0]
        if (site, data_class(topic)) not in allowed:
            leaked.append(topic)
            continue
        key = (str(body.get("gw")), int(body.get("seq", -1)))
        copies[key] = copies.get(key, 0) + 1
        first.setdefault(key, at)
    expected: dict[tuple[str, int], str] = {}
    for s in sent:
        for seq, topic in s.samples():
            if data_class(topic) in forwarded.get(s.site, ()):
                expected[(s.gateway, seq)] = topic
    taken_at = {
        (str(body.get("gw")), int(body.get("seq", -1))): float(body.get("ts", 0))
        for _, _, body in received
    }
    missing = sorted(k for k in expected if k not in first)
    unexpected = sorted(k for k in first if k not in expected)
    normal, during, after, before_restore = [], [], [], 0
    for key, at in first.items():
        ts = taken_at[key]
        if outage is None or ts < outage[0]:
            normal.append(at - ts)
        elif ts <= outage[1]:
            during.append(at - ts)
            before_restore += at < outage[1]
        else:  # taken while the bridge reconnects (its backoff) and after
            after.append(at - ts)
    return {
        "expected": len(expected),
        "received": len(received),
        "unique": len(first),
        "missing": len(missing),
        "missing_first": [list(k) for k in missing[:10]],
        "unexpected": len(unexpected),
        "duplicates": sum(n - 1 for n in copies.values()),
        "leaked": len(leaked),
        "leaked_topics": sorted(set(leaked))[:10],
        "outage_samples": len(during),
        "outage_samples_before_restore": before_restore,
        "latency_ms": {
            "p50": _q(normal, 0.5, 1000),
            "p99": _q(normal, 0.99, 1000),
            "max": _q(normal, 1.0, 1000),
            "samples": len(normal),
        },
        "after_restore_ms": {
            "p50": _q(after, 0.5, 1000),
            "p99": _q(after, 0.99, 1000),
            "samples": len(after),
        },
        "outage_delay_s": {"p50": _q(during, 0.5), "max": _q(during, 1.0)},
    }


# A gateway at every bridging site ----------------------------------------------------------------

# The sample's lakeside is still in its survey (no gateway, no collector): for both sites to
# publish, the lab's copy of the inventory gives it one gateway reading its transfer press.
LAKESIDE_GATEWAY = """\
gateways:
  - {id: gw-lk-01, zone: supervisory, address: 10.30.20.21, model: Edge box E300, os: Debian 12}
"""
LAKESIDE_COLLECTOR = """\
collectors:
  - id: col-lk-press-01
    gateway: gw-lk-01
    protocol: modbus-tcp
    machine: lk-press-01
    signals:
      - {name: status, data_class: machine-status, meaning: machine-status, interval_s: 1,
         modbus: {function: 3, address: 0}}
      - {name: stroke-count, data_class: production-counts, meaning: production-count,
         interval_s: 10, modbus: {function: 4, address: 10, count: 2}}
      - {name: downtime-reason, data_class: downtime-reasons, meaning: downtime, interval_s: 30,
         modbus: {function: 3, address: 40}}
"""


def group_inventory(source: Path, dest: Path, *, ask_for: tuple[str, ...] = ()) -> Path:
    """A copy of the inventory at `source` in `dest` with a lakeside gateway and collector, and
    the classes `ask_for` added to every site's bridge.classes (whether they may leave or not:
    the derivation must keep what may not)."""
    import shutil

    import yaml

    shutil.copytree(source, dest)
    lakeside = dest / "sites" / "lakeside"
    if not (lakeside / "gateways.yaml").exists():
        (lakeside / "gateways.yaml").write_text(LAKESIDE_GATEWAY)
        (lakeside / "collectors.yaml").write_text(LAKESIDE_COLLECTOR)
    for site_file in (dest / "sites").glob("*/site.yaml"):
        doc = yaml.safe_load(site_file.read_text())
        bridge = doc["site"].get("bridge")
        if bridge is not None and ask_for:
            bridge["classes"] += [c for c in ask_for if c not in bridge["classes"]]
            site_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest
