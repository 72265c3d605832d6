"""Dynamic providers of the `lab` target: the plant, for real, on this machine.

They are built on the lab-machine primitive (plantctl.lab): its namespaces and veth cables, its
site network (one bridge per zone in a switch namespace, a router namespace with a leg in every
zone, which is the zone firewall), its booted machines (systemd-nspawn over an overlay of this
host's root) and its PLC simulators. What the primitive keeps for one process (a `Lab` run), these
providers keep in Pulumi's state instead, so that a later `pulumi up` or `pulumi destroy`, in
another process, finds every namespace, machine and process again by name and pid.

Names: everything a stack creates carries its prefix (`plantctl:labPrefix`, by default the
stack's own, `stack_prefix`: `labridgeway` for stack lab-ridgeway): namespaces `<prefix>-<name>`,
machines `--machine=<prefix>-<name>`, a tmpfs at /run/plantctl-stacks/<prefix> for the machines'
overlays and the stand-ins' logs. Two stacks therefore never share a name or a path, and the
teardown of one (by its prefix) never touches the other's. The prefix never looks like a `plab…`
run prefix, so a lab test's sweep of stale runs never touches a stack's lab.

Nothing here sends traffic and nothing changes the host's (root) network namespace: no link,
address, route, rule, sysctl or nftables rule is added there, and no host service is started or
stopped (sshd and Mosquitto run inside booted machines). The lab is cabled only to itself; the
internet is a bridge behind the router with a documentation range (203.0.113.0/24), reachable
only from the lab's own namespaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pulumi
from netaddr import IPAddress, IPNetwork
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from plantctl.lab import cleanup, guard, process  # guard: old route holds only
from plantctl.lab.machine import INSIDE_ENV, File, Machine
from plantctl.lab.netns import Namespace, list_names
from plantctl.lab.network import SiteNetwork, Switch

RUN_ROOT = Path("/run/plantctl-stacks")
GUARD_ROOT = cleanup.STATE_ROOT
INTERNET = "internet"
INTERNET_CIDR = "203.0.113.0/24"  # TEST-NET-3: documentation only, never routed
INTERNET_ROUTER = "203.0.113.1"
INTERNET_IFACE = "up0"
INTERNET_BRIDGE = "inet"
PREFIX_RE = re.compile(r"[a-z][a-z0-9]{1,11}")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


class LabError(RuntimeError):
    pass


# -- shared helpers ----------------------------------------------------------------------------


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.fullmatch(prefix) or cleanup.PREFIX_RE.match(prefix):
        raise LabError(
            f"lab prefix {prefix!r} must be 2-12 of a-z 0-9 starting with a letter, and not "
            "look like a lab test run's plab<hex> prefix"
        )
    return prefix


def stack_prefix(stack: str) -> str:
    """The default name prefix of a stack's lab: the stack's name without its dashes when that
    is a valid prefix (lab-ridgeway -> labridgeway), else its first letters and a hash of it, so
    that every stack has names of its own."""
    word = re.sub(r"[^a-z0-9]", "", stack.lower())
    if not word[:1].isalpha():
        word = "s" + word
    if not PREFIX_RE.fullmatch(word) or cleanup.PREFIX_RE.match(word):
        word = word[:7] + hashlib.sha256(stack.encode()).hexdigest()[:5]
    return check_prefix(word)


def ns_name(prefix: str, name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise LabError(f"lab name {name!r} is not lower-case letters, digits and dashes")
    return f"{check_prefix(prefix)}-{name}"


def run_dir(prefix: str) -> Path:
    return RUN_ROOT / check_prefix(prefix)


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == str(path) for line in fh)


def _changed(olds: dict, news: dict, keys) -> list[str]:
    return [k for k in keys if olds.get(k) != news.get(k)]


def _switch(sw: dict, zone: str) -> Switch:
    """A handle on a zone bridge made by an earlier process (the primitive's own dataclass)."""
    net = IPNetwork(sw["cidr"])
    return Switch(zone, net, Namespace(sw["fabric"]), sw["bridge"], IPAddress(sw["router"]))


def _port(name: str) -> str:
    """The switch-side name of a host's cable: unique per host, at most 15 characters."""
    return "h" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _stop_tagged(tag: str) -> None:
    """Stop lab services started for a host whose namespace was removed behind our back (they
    keep its network alive unnamed): each carries the host's tag in its command line."""
    marker = f"PLANTCTL_LAB_TAG={tag}".encode()
    for pid in process.all_pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            environ = []
        if tag in process.cmdline(pid) or marker in environ:
            process.terminate(pid, timeout=5)


def _plug_host(full: str, sw: dict, zone: str, address: str) -> Namespace:
    """A namespace with eth0 in the zone at `address`, routed via the zone router."""
    ns = Namespace(full)
    if ns.exists():
        ns.delete()  # a leftover of a failed run with the same name
    _stop_tagged(full)
    Namespace(sw["fabric"]).ip("link", "del", _port(full), check=False)
    ns = Namespace.create(full)
    switch = _switch(sw, zone)
    switch.plug(ns, "eth0", _port(full))
    ns.add_address("eth0", switch.prefixed(address))
    ns.default_route(str(switch.router_address))
    return ns


def _start(ns: Namespace, args: list[str], log: Path, timeout: float = 30) -> int:
    """Start a lab service in `ns`, detached from this provider process; wait for READY."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as err:
        proc = ns.popen(
            args,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None  # stdout=PIPE
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LabError(f"{args[2:5]} exited {proc.returncode}: {log.read_text()[-500:]}")
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready and proc.stdout.readline().strip() == b"READY":
                return proc.pid
        process.terminate(proc.pid, timeout=5)
        raise LabError(f"{args[2:5]} not ready after {timeout:.0f} s")
    finally:
        proc.stdout.close()


def _clean(props: dict) -> dict:
    return {k: v for k, v in props.items() if k != "__provider"}


def _whole(value: Any) -> Any:
    """Numbers come back from the engine as floats: make whole ones ints again (PLC specs)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


# -- zones and the firewall namespace ----------------------------------------------------------


class SiteNetworkProvider(ResourceProvider):
    """The site's zones (bridges), its router namespace (the firewall) and the internet side."""

    INPUTS = ("prefix", "site", "zones", "supernet")

    def create(self, props):
        props = _clean(props)
        prefix, site = check_prefix(props["prefix"]), props["site"]
        base = run_dir(prefix)
        try:
            base.mkdir(parents=True, exist_ok=True)
            if not _mounted(base):
                process.run(
                    ["mount", "-t", "tmpfs", "-o", "size=4g,mode=0700",
                     f"plantctl-stack-{prefix}", str(base)]
                )  # fmt: skip
            zones = [(z["id"], IPNetwork(z["cidr"])) for z in props["zones"]]
            net = SiteNetwork.from_zones(
                site, zones, lambda name: Namespace.create(ns_name(prefix, name))
            )
            # the internet: one more bridge, behind the router's uplink
            fabric, router = net.fabric, net.router
            fabric.ip("link", "add", INTERNET_BRIDGE, "type", "bridge")
            fabric.ip("link", "set", INTERNET_BRIDGE, "up")
            inet = Switch(
                INTERNET, IPNetwork(INTERNET_CIDR), fabric, INTERNET_BRIDGE,
                IPAddress(INTERNET_ROUTER),
            )  # fmt: skip
            inet.plug(router, INTERNET_IFACE, "pup0")
            router.add_address(INTERNET_IFACE, inet.prefixed(INTERNET_ROUTER))
        except BaseException:
            teardown(prefix, props["supernet"])
            raise
        switches = {
            zone: {
                "fabric": fabric.name,
                "bridge": sw.bridge,
                "cidr": str(sw.network.cidr),
                "router": str(sw.router_address),
            }
            for zone, sw in net.switches.items()
        }
        switches[INTERNET] = {
            "fabric": fabric.name,
            "bridge": INTERNET_BRIDGE,
            "cidr": INTERNET_CIDR,
            "router": INTERNET_ROUTER,
        }
        # The router's leg in each zone has the zone bridge's name (plantctl.lab.network).
        interfaces = {zone: sw.bridge for zone, sw in net.switches.items()}
        interfaces[INTERNET] = INTERNET_IFACE
        outs = {
            **props,
            "fabric": fabric.name,
            "router": router.name,
            "run_dir": str(base),
            "switches": switches,
            "interfaces": interfaces,
            "generation": secrets.token_hex(4),
        }
        return CreateResult(id_=f"{prefix}-{site}", outs=outs)

    def diff(self, _id, olds, news):
        changed = _changed(olds, news, self.INPUTS)
        return DiffResult(
            changes=bool(changed), replaces=changed, delete_before_replace=True, stables=[]
        )

    def read(self, id_, props):
        """Gone (after a reboot, say) when its router or switch namespace is: `refresh` drops
        it from the state and the next `up` builds it again."""
        alive = all(Namespace(props.get(k) or "-").exists() for k in ("router", "fabric"))
        return ReadResult(id_ if alive else None, props if alive else {})

    def delete(self, _id, props):
        teardown(props["prefix"], props["supernet"])


def teardown(prefix: str, supernet: str | None = None) -> list[str]:
    """Remove everything carrying the prefix: machines, namespaces, mounts (and the route holds
    of earlier versions of the lab)."""
    prefix = check_prefix(prefix)
    removed = []
    for pid in process.all_pids():
        args = process.cmdline(pid)
        if (
            args
            and os.path.basename(args[0]) == "systemd-nspawn"
            and any(a.startswith(f"--machine={prefix}-") for a in args)
        ):
            process.terminate(pid, timeout=30)
            removed.append(f"machine pid {pid}")
    for name in list_names(prefix):
        Namespace(name).delete()
        removed.append(f"namespace {name}")
    base = run_dir(prefix)
    if base.exists():
        with open("/proc/self/mountinfo") as fh:
            mounts = [line.split()[4] for line in fh]
        for target in sorted(
            (m for m in mounts if m == str(base) or m.startswith(f"{base}/")), key=len, reverse=True
        ):
            if process.run(["umount", target], check=False).returncode != 0:
                process.run(["umount", "-l", target], check=False)
            removed.append(f"mount {target}")
        shutil.rmtree(base, ignore_errors=True)
    for cidr in guard.held_by(GUARD_ROOT, prefix):
        guard.release(GUARD_ROOT, cidr, prefix)
        removed.append(f"route hold {cidr}")
    if supernet:
        guard.release(GUARD_ROOT, supernet, prefix)
    return removed


class ZoneNetwork(pulumi.dynamic.Resource):
    """The site's zones as lab bridges joined by the router (firewall) namespace."""

    fabric: pulumi.Output[str]
    router: pulumi.Output[str]
    run_dir: pulumi.Output[str]
    switches: pulumi.Output[dict]
    interfaces: pulumi.Output[dict]
    generation: pulumi.Output[str]

    def __init__(self, name, *, prefix, site, zones, supernet, opts=None):
        super().__init__(
            SiteNetworkProvider(),
            name,
            {
                "prefix": prefix,
                "site": site,
                "zones": zones,
                "supernet": supernet,
                "fabric": None,
                "router": None,
                "run_dir": None,
                "switches": None,
                "interfaces": None,
                "generation": None,
            },
            opts,
        )


class FirewallProvider(ResourceProvider):
    """The nftables ruleset of the router namespace, loaded atomically (`nft -f`)."""

    def _load(self, props) -> None:
        router = Namespace(props["router"])
        if not router.exists():
            raise LabError(f"router namespace {props['router']} is gone; run `pulumi refresh`")
        path = Path(props["run_dir"]) / "firewall.nft"
        path.write_text(props["ruleset"])
        router.run(["nft", "-c", "-f", str(path)])
        router.run(["nft", "-f", str(path)])

    def create(self, props):
        props = _clean(props)
        self._load(props)
        return CreateResult(id_=props["router"], outs=props)

    def diff(self, _id, olds, news):
        changed = _changed(olds, news, ("router", "run_dir", "ruleset", "declares"))
        replaces = [k for k in changed if k in ("router", "run_dir")]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id, olds, news):
        news = _clean(news)
        self._load(news)
        return UpdateResult(outs=news)

    def delete(self, _id, props):
        router = Namespace(props["router"])
        if router.exists():
            router.run(["nft", "flush", "ruleset"], check=False)


class Firewall(pulumi.dynamic.Resource):
    def __init__(self, name, *, router, run_dir, ruleset, declares, opts=None):
        super().__init__(
            FirewallProvider(),
            name,
            {"router": router, "run_dir": run_dir, "ruleset": ruleset, "declares": declares},
            opts,
        )


# -- hosts: stand-ins and the namespaces of booted machines ------------------------------------


class HostProvider(ResourceProvider):
    """A lab host: its namespace in a zone, and its stand-in services (TCP listeners, a PLC)."""

    INPUTS = (
        "prefix",
        "name",
        "zone",
        "address",
        "switch",
        "ports",
        "plc",
        "run_dir",
        "generation",
    )

    def create(self, props):
        props = _clean(props)
        full = ns_name(props["prefix"], props["name"])
        ns = _plug_host(full, props["switch"], props["zone"], props["address"])
        pids = []
        try:
            logs = Path(props["run_dir"]) / "hosts"
            # Hosts are made in parallel: a PLC host with no listener must not count on
            # another host having made the folder first.
            logs.mkdir(parents=True, exist_ok=True)
            if props.get("ports"):
                args = [sys.executable, "-m", "plantctl.providers.lab_tcp", "listen", "--tag", full]
                args += ["--name", props["name"]]
                for port in props["ports"]:
                    args += ["--port", str(int(port))]
                pids.append(_start(ns, args, logs / f"{props['name']}.listen.log"))
            if props.get("plc"):
                spec = logs / f"{props['name']}.plc.json"
                spec.write_text(json.dumps(_whole(props["plc"])))
                args = [
                    sys.executable, "-m", "plantctl.lab.plc", "--spec", str(spec),
                    "--bind", props["address"], "--port", str(int(props["plc"]["port"])),
                    "--record", str(logs / f"{props['name']}.requests.jsonl"),
                ]  # fmt: skip
                args = ["env", f"PLANTCTL_LAB_TAG={full}", *args]
                pids.append(_start(ns, args, logs / f"{props['name']}.plc.log", timeout=60))
        except BaseException:
            ns.delete()
            raise
        return CreateResult(id_=full, outs={**props, "namespace": full, "pids": pids})

    def diff(self, _id, olds, news):
        changed = _changed(olds, news, self.INPUTS)
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_, props):
        alive = Namespace(props.get("namespace") or "-").exists() and all(
            process.alive(int(pid)) for pid in props.get("pids") or []
        )
        return ReadResult(id_ if alive else None, props if alive else {})

    def delete(self, _id, props):
        Namespace(props["namespace"]).delete()  # stops every process inside it


class Host(pulumi.dynamic.Resource):
    namespace: pulumi.Output[str]

    def __init__(self, name, props: dict, opts=None):
        super().__init__(HostProvider(), name, {**props, "namespace": None, "pids": None}, opts)


class MachineProvider(ResourceProvider):
    """A booted lab machine (broker, bastion) in its zone, with generated files and accounts.

    `files`: inside path -> {content, mode, owner}; `copies`: inside path -> {source, mode,
    owner} (key material copied from the lab state directory, never kept in Pulumi's state);
    `accounts`: system accounts to create (grant accounts on the bastion); `on_change`: the
    command that applies changed files in the running machine; `ready_port`: a TCP port that
    must be listening before the machine counts as up; `sysctls`: net.* settings of the
    machine's own network namespace, set from outside before boot (a booted machine's /proc/sys
    is read-only; the host's are never touched).
    """

    REPLACE = (
        "prefix", "name", "zone", "address", "switch", "services", "capabilities", "run_dir",
        "generation", "sysctls",
    )  # fmt: skip
    UPDATE = ("files", "copies", "copies_digest", "accounts", "on_change", "ready_port", "declares")

    @staticmethod
    def _machine(props) -> Machine:
        full = ns_name(props["prefix"], props["name"])
        return Machine(
            props["name"],
            Namespace(full),
            Path(props["run_dir"]) / "machines" / props["name"],
            machine_name=full,
            hostname=props["name"],
            services=props.get("services") or (),
            capabilities=props.get("capabilities") or (),
            files={
                p: File(f["content"], int(f["mode"]), f.get("owner"))
                for p, f in props["files"].items()
            },
        )

    @staticmethod
    def _copy(m: Machine, copies: dict) -> None:
        for inside, spec in copies.items():
            m.write_file(
                inside,
                File(Path(spec["source"]).read_bytes(), int(spec["mode"]), spec.get("owner")),
            )

    @staticmethod
    def _accounts(m: Machine, add, remove) -> None:
        for account in sorted(add):
            if process.run(["chroot", str(m.root), "id", "-u", account], check=False).returncode:
                process.run(
                    ["useradd", "--root", str(m.root), "--no-create-home", "--shell",
                     "/usr/sbin/nologin", "--comment", "plantctl remote-access grant", account]
                )  # fmt: skip
        for account in sorted(remove):
            process.run(["userdel", "--root", str(m.root), account], check=False)

    @staticmethod
    def _leader(props) -> int:
        pid = int(props["nspawn_pid"])
        args = process.cmdline(pid)
        if f"--machine={ns_name(props['prefix'], props['name'])}" not in args:
            raise LabError(f"machine {props['name']} is not running (pid {pid}); pulumi refresh")
        for child in process.children(pid):
            if process.comm(child) == "systemd":
                return child
        raise LabError(f"machine {props['name']}: no init process under pid {pid}")

    @staticmethod
    def _inside(leader: int, args: list[str], check: bool = True):
        return process.run(["nsenter", "-t", str(leader), "-a", *INSIDE_ENV, *args], check=check)

    def _wait_port(self, leader: int, port: int | None, name: str, timeout: float = 60) -> None:
        if not port:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self._inside(leader, ["ss", "-Hltn", f"sport = :{int(port)}"], check=False)
            if out.stdout.strip():
                return
            time.sleep(0.2)
        status = self._inside(leader, ["systemctl", "status", "--no-pager", "-n", "20"], False)
        raise LabError(f"{name}: nothing listens on port {port}: {status.stdout[-1500:]}")

    def create(self, props):
        props = _clean(props)
        full = ns_name(props["prefix"], props["name"])
        ns = _plug_host(full, props["switch"], props["zone"], props["address"])
        m = self._machine(props)
        try:
            for key, value in sorted((props.get("sysctls") or {}).items()):
                if not re.fullmatch(r"net\.[a-z0-9_.]+", key) or not re.fullmatch(r"\d+", value):
                    raise LabError(f"{props['name']}: sysctl {key}={value} is not a net.* number")
                done = ns.run(["sysctl", "-q", "-w", f"{key}={value}"], check=False)
                if done.returncode:
                    raise LabError(f"{props['name']}: sysctl {key}: {done.stderr.strip()}")
            m.prepare()
            self._copy(m, props.get("copies") or {})
            self._accounts(m, props.get("accounts") or [], [])
            m.boot()
            m.wait_running(timeout=120)
            self._wait_port(m.leader, props.get("ready_port"), props["name"])
            nspawn_pid = int((m.dir / "nspawn.pid").read_text())
            boot = round(m.boot_seconds or 0, 1)
        except BaseException:
            with contextlib.suppress(Exception):
                m.destroy()
            ns.delete()
            raise
        outs = {**props, "namespace": full, "nspawn_pid": nspawn_pid, "boot_seconds": boot}
        return CreateResult(id_=full, outs=outs)

    def diff(self, _id, olds, news):
        changed = _changed(olds, news, self.REPLACE + self.UPDATE)
        replaces = [k for k in changed if k in self.REPLACE]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id, olds, news):
        news = _clean(news)
        m = self._machine(news)
        for gone in set(olds.get("files") or {}) - set(news["files"]):
            m.path(gone).unlink(missing_ok=True)
        for inside, spec in news["files"].items():
            if (olds.get("files") or {}).get(inside) != spec:
                m.write_file(inside, File(spec["content"], int(spec["mode"]), spec.get("owner")))
        self._copy(m, news.get("copies") or {})
        old_acc, new_acc = set(olds.get("accounts") or []), set(news.get("accounts") or [])
        self._accounts(m, new_acc - old_acc, old_acc - new_acc)
        state = {**news, "nspawn_pid": olds["nspawn_pid"], "namespace": olds["namespace"]}
        leader = self._leader(state)
        if news.get("on_change"):
            self._inside(leader, list(news["on_change"]))
        self._wait_port(leader, news.get("ready_port"), news["name"])
        return UpdateResult(outs={**state, "boot_seconds": olds.get("boot_seconds")})

    def read(self, id_, props):
        try:
            self._leader(props)
            alive = Namespace(props["namespace"]).exists()
        except (LabError, KeyError, TypeError, ValueError):
            alive = False
        return ReadResult(id_ if alive else None, props if alive else {})

    def delete(self, _id, props):
        pid = props.get("nspawn_pid")
        full = ns_name(props["prefix"], props["name"])
        if pid and f"--machine={full}" in process.cmdline(int(pid)):
            process.terminate(int(pid), timeout=30)
        self._machine(props).destroy()  # unmount the overlay, remove its directory
        Namespace(full).delete()


class BootedMachine(pulumi.dynamic.Resource):
    namespace: pulumi.Output[str]
    nspawn_pid: pulumi.Output[int]
    boot_seconds: pulumi.Output[float]

    def __init__(self, name, props: dict, opts=None):
        super().__init__(
            MachineProvider(),
            name,
            {**props, "namespace": None, "nspawn_pid": None, "boot_seconds": None},
            opts,
        )


# -- key material, generated at apply time, kept out of Pulumi's state --------------------------


class KeyPairProvider(ResourceProvider):
    """An ed25519 key pair for one person in the lab (the private key stays on disk, 0600)."""

    def create(self, props):
        props = _clean(props)
        directory = Path(props["directory"])
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        login = props["login"]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", login):
            raise LabError(f"login {login!r} is not a plain login")
        key = directory / login
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)
        process.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"lab-{login}", "-f", str(key)]
        )
        public = key.with_suffix(".pub").read_text().strip()
        return CreateResult(
            id_=str(key), outs={**props, "public_key": public, "private_key": str(key)}
        )

    def diff(self, _id, olds, news):
        changed = _changed(olds, news, ("directory", "login"))
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def delete(self, _id, props):
        key = Path(props["private_key"])
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)


class KeyPair(pulumi.dynamic.Resource):
    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(self, name, *, directory, login, opts=None):
        super().__init__(
            KeyPairProvider(),
            name,
            {"directory": directory, "login": login, "public_key": None, "private_key": None},
            opts,
        )


class PkiProvider(ResourceProvider):
    """A lab CA, the broker's server certificate and one client certificate per account."""

    def create(self, props):
        props = _clean(props)
        from plantctl.providers import lab_pki

        directory = Path(props["directory"])
        if directory.exists():
            shutil.rmtree(directory)
        outs = lab_pki.issue(directory, props["server"], props["accounts"])
        return CreateResult(id_=str(directory), outs={**props, **outs})

    def diff(self, _id, olds, news):
        changed = _changed(olds, news, ("directory", "server", "accounts"))
        replaces = [k for k in changed if k == "directory"]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id, olds, news):
        from plantctl.providers import lab_pki

        news = _clean(news)
        outs = lab_pki.issue(Path(news["directory"]), news["server"], news["accounts"])
        return UpdateResult(outs={**news, **outs})

    def delete(self, _id, props):
        shutil.rmtree(props["directory"], ignore_errors=True)


class Pki(pulumi.dynamic.Resource):
    ca_file: pulumi.Output[str]
    fingerprint: pulumi.Output[str]

    def __init__(self, name, *, directory, server: dict, accounts: list, opts=None):
        super().__init__(
            PkiProvider(),
            name,
            {
                "directory": directory,
                "server": server,
                "accounts": accounts,
                "ca_file": None,
                "fingerprint": None,
            },
            opts,
        )


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
