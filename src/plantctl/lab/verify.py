"""`plantctl lab verify`: the segmentation, broker and bastion of a running lab, tried for real.

What the inventory allows is computed from the model (plant/segmentation, broker_access,
grants); what the lab does is seen by traffic between its own namespaces:

- segmentation: for every ordered pair of zones (and the internet stand-in), every declared
  conduit service from a host its sources allow to a host its destinations allow, and a sample of
  what no conduit allows: every other service the plant uses anywhere, the neighbours of each
  declared port, UDP where TCP is declared, ICMP. TCP counts as passed on a connection or a
  reset (the SYN crossed the firewall), UDP on an answer or port-unreachable, ICMP on an echo
  reply; a timeout is a drop (verify_probe.py, run inside the source host's namespace);
- broker: each data-class role subscribes to the whole site while one retained value per data
  class is published by a collector that may write it: delivered or not, against the class's
  viewers;
- bastion: each grant of the site with a key in the lab state, from where its person may connect
  (the internet for external people, an internal zone for the others): its target ports reached
  while its window is open, nothing else (other services of the target, its port on another
  host, anything once the window is shut).

Every mismatch names the policy whose promise it breaks. Nothing here changes the lab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from netaddr import IPAddress, IPNetwork

from plantctl.configs import pam_oath
from plantctl.lab import standins
from plantctl.lab.netns import Namespace
from plantctl.lab.verify_probe import PASSED
from plantctl.model import protocols
from plantctl.model.inventory import Inventory
from plantctl.plant import broker_access, grants, segmentation
from plantctl.plant.segmentation import INTERNET, Segmentation

TIMEOUT = 1.0
PARALLEL = 8
# The probe runs the same plantctl as its caller, wherever that is installed from.
SRC = str(Path(__file__).resolve().parents[2])


class VerifyError(RuntimeError):
    """Bad input: no such site, or no lab of it up (exit 2)."""


@dataclass(frozen=True)
class Host:
    name: str
    zone: str
    address: str
    kind: str
    ports: tuple[int, ...] = ()


@dataclass
class Probe:
    area: str  # segmentation | broker | bastion
    source: str  # host (namespace) the probe runs from, or the role
    src_zone: str
    src_address: str
    dst_zone: str
    target: str  # tcp:addr:port, udp:addr:port, icmp:addr, class id, addr:port via a grant
    expected: bool  # should it pass (be delivered, be reached)?
    why: str  # the conduit, class viewers or grant that decides
    policy: str  # the policy whose promise a mismatch breaks
    got: str = ""
    passed: bool | None = None
    declared: bool = False  # a declared conduit service (segmentation)

    @property
    def mismatch(self) -> bool:
        return self.passed is not None and self.passed != self.expected


@dataclass
class Report:
    site: str
    prefix: str
    probes: list[Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    zones: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def of(self, area: str) -> list[Probe]:
        return [p for p in self.probes if p.area == area and p.passed is not None]

    @property
    def mismatches(self) -> list[Probe]:
        return [p for p in self.probes if p.mismatch]

    def counts(self, area: str = "segmentation") -> dict[str, int]:
        probes = self.of(area)
        return {
            "tried": len(probes),
            "passed": sum(1 for p in probes if p.passed),
            "dropped": sum(1 for p in probes if not p.passed),
            "declared": sum(1 for p in probes if p.declared),
            "mismatches": sum(1 for p in probes if p.mismatch),
        }

    def as_dict(self) -> dict:
        return {
            "site": self.site,
            "lab_prefix": self.prefix,
            "seconds": round(self.seconds, 1),
            "counts": {a: self.counts(a) for a in ("segmentation", "broker", "bastion")},
            "mismatches": [asdict(p) for p in self.mismatches],
            "probes": [asdict(p) for p in self.probes],
            "notes": self.notes,
            "zones": self.zones,
            "roles": self.roles,
            "classes": self.classes,
        }

    @classmethod
    def from_dict(cls, doc: dict) -> Report:
        """The report as_dict wrote (`plantctl lab verify --format json`), to render again."""
        return cls(
            site=doc["site"],
            prefix=doc["lab_prefix"],
            probes=[Probe(**p) for p in doc["probes"]],
            notes=list(doc["notes"]),
            seconds=float(doc["seconds"]),
            zones=list(doc["zones"]),
            roles=list(doc["roles"]),
            classes=list(doc["classes"]),
        )


# -- what the inventory allows --------------------------------------------------------------


def permitted(
    seg: Segmentation, src_zone: str, src: str, dst_zone: str, dst: str, proto: str, port=None
) -> str | None:
    """The flow (conduit/service) that lets this through the zone firewall, or None."""
    if src_zone == dst_zone:
        return "same zone"
    supernet = IPNetwork(seg.supernet)
    for f in seg.flows:
        if (f.source_zone, f.destination_zone) != (src_zone, dst_zone):
            continue
        svc = f.service
        if svc.protocol not in (proto, "any"):
            continue
        ranged = proto in ("tcp", "udp") and svc.port is not None and port is not None
        if ranged and not svc.port <= port <= (svc.port_end or svc.port):
            continue
        if f.sources and not any(IPAddress(src) in IPNetwork(s) for s in f.sources):
            continue
        if not f.sources and src_zone == INTERNET and IPAddress(src) in supernet:
            continue
        if f.destinations and not any(IPAddress(dst) in IPNetwork(d) for d in f.destinations):
            continue
        if not f.destinations and dst_zone == INTERNET and IPAddress(dst) in supernet:
            continue
        return f.name
    return None


def hosts(inv: Inventory, site: str, seg: Segmentation) -> list[Host]:
    """Every lab host of the site: the stand-ins, the broker and the bastion."""
    found = [
        Host(s.name, s.zone, s.address, s.kind, s.services) for s in standins.build(inv, site, seg)
    ]
    site_rec = inv.get("site", site)
    for svc in (site_rec.data.get("services", {}) if site_rec else {}).values():
        found.append(Host(svc["id"], svc["zone"], svc["address"], "service", (svc["port"],)))
    return found


def plant_ports(inv: Inventory) -> set[tuple[str, int]]:
    """(protocol, port) of every service the plant uses anywhere: conduits of every site,
    controllers, broker and bastion, grants."""
    used: set[tuple[str, int]] = set()
    for site, site_rec in inv.of("site").items():
        try:
            seg = segmentation.build(inv, site)
        except (KeyError, ValueError):
            continue
        for f in seg.flows:
            if f.service.protocol in ("tcp", "udp") and f.service.port is not None:
                used.add((f.service.protocol, f.service.port))
        for svc in site_rec.data.get("services", {}).values():
            used.add(("tcp", int(svc["port"])))
    for machine in inv.of("machine").values():
        controller = machine.data.get("controller") or {}
        if controller.get("port"):
            used.add(("tcp", int(controller["port"])))
    for g in inv.of("grant").values():
        for s in g.data.get("services", []):
            s = protocols.resolve(inv, s)
            if s.get("protocol") in ("tcp", "udp") and s.get("port"):
                used.add((s["protocol"], int(s["port"])))
    return used


def _seg_policy(seg: Segmentation, src_zone: str, dst_zone: str, dst: Host, declared: bool) -> str:
    levels = {z.id: z.purdue_level for z in seg.zones}
    if declared:
        if dst.kind == "machine":
            return "SEG-006"  # a collector's (or HMI's) read of a machine
        if dst.kind == "service" and dst.zone == "dmz":
            return "SEG-007"
        return "SEG-020"
    outside = src_zone == INTERNET or levels.get(src_zone, 0) >= 4
    if outside and levels.get(dst_zone, 9) <= 2:
        return "SEG-002"
    return "SEG-020"


def segmentation_probes(inv: Inventory, seg: Segmentation, all_hosts: list[Host]) -> list[Probe]:
    zones = [z.id for z in seg.zones] + ([INTERNET] if seg.uses_internet else [])
    by_zone: dict[str, list[Host]] = {z: [] for z in zones}
    for h in sorted(all_hosts, key=lambda h: (h.kind != "client", h.name)):
        by_zone.setdefault(h.zone, []).append(h)
    sample = plant_ports(inv)
    probes: dict[tuple[str, str], Probe] = {}

    def add(src: Host, dst: Host, proto: str, port: int | None, declared_as: str | None) -> None:
        target = f"{proto}:{dst.address}" + (f":{port}" if port is not None else "")
        if (src.name, target) in probes:
            return
        rule = permitted(seg, src.zone, src.address, dst.zone, dst.address, proto, port)
        probes[(src.name, target)] = Probe(
            area="segmentation",
            source=src.name,
            src_zone=src.zone,
            src_address=src.address,
            dst_zone=dst.zone,
            target=target,
            expected=rule is not None,
            why=rule or "no conduit (default deny)",
            policy=_seg_policy(seg, src.zone, dst.zone, dst, rule is not None),
            declared=declared_as is not None,
        )

    for a in zones:
        for b in zones:
            if a == b or not by_zone.get(a) or not by_zone.get(b):
                continue
            flows = [f for f in seg.flows if (f.source_zone, f.destination_zone) == (a, b)]
            pairs: list[tuple[Host, Host]] = [(by_zone[a][0], by_zone[b][0])]
            for f in flows:
                svc = f.service
                proto = svc.protocol if svc.protocol != "any" else "tcp"
                ports: list[int | None] = [None]
                if proto in ("tcp", "udp") and svc.port is not None:
                    ports = list(dict.fromkeys([svc.port, svc.port_end or svc.port]))
                single = segmentation.Segmentation(seg.site, seg.supernet, seg.zones, (f,))
                chosen = None
                for src in by_zone[a]:
                    for dst in by_zone[b]:
                        fits = all(
                            permitted(single, a, src.address, b, dst.address, proto, p)
                            for p in ports
                        )
                        listening = svc.port in dst.ports
                        if fits and (
                            chosen is None or (listening and svc.port not in chosen[1].ports)
                        ):
                            chosen = (src, dst)
                if chosen is None:
                    continue
                for p in ports:
                    add(chosen[0], chosen[1], proto, p, f.name)
                if chosen not in pairs:
                    pairs.append(chosen)
            declared_tcp = {
                p
                for f in flows
                if f.service.protocol in ("tcp", "any") and f.service.port is not None
                for p in (f.service.port, f.service.port_end or f.service.port)
            }
            for src, dst in pairs:
                for proto, port in sorted(sample):
                    add(src, dst, proto, port, None)
                for port in sorted(declared_tcp):
                    for n in (port - 1, port + 1):
                        if 0 < n < 65536:
                            add(src, dst, "tcp", n, None)
                    add(src, dst, "udp", port, None)
                add(src, dst, "icmp", None, None)
    return list(probes.values())


# -- running probes inside the lab -------------------------------------------------------------


def _inside(prefix: str, host: str, args: list[str], timeout: float, **kw):
    return subprocess.run(
        ["ip", "netns", "exec", f"{prefix}-{host}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def run_segmentation(prefix: str, probes: list[Probe], timeout: float = TIMEOUT) -> None:
    by_source: dict[str, list[Probe]] = {}
    for p in probes:
        by_source.setdefault(p.source, []).append(p)

    def one(source: str) -> None:
        mine = by_source[source]
        targets = sorted({p.target for p in mine})
        rounds = len(targets) // 64 + 1
        done = _inside(
            prefix,
            source,
            [sys.executable, "-m", "plantctl.lab.verify_probe", "--timeout", str(timeout)],
            timeout=30 + rounds * timeout * 3,
            input=json.dumps(targets),
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
            },
        )
        if done.returncode != 0:
            for p in mine:
                p.got = "error: " + done.stderr.strip()[-200:]
            return
        seen = json.loads(done.stdout)
        for p in mine:
            p.got = seen.get(p.target, "missing")
            p.passed = p.got in PASSED[p.target.split(":", 1)[0]]

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(one, sorted(by_source)))


def _reaches(seg: Segmentation, h: Host, dst_zone: str, address: str, port: int) -> bool:
    return permitted(seg, h.zone, h.address, dst_zone, address, "tcp", port) is not None


def broker_probes(
    inv: Inventory, site: str, seg: Segmentation, all_hosts: list[Host], prefix: str, state: Path
) -> tuple[list[Probe], list[str], list[str], list[str]]:
    """Each role account against each data class: a retained value per class, published by a
    collector allowed to write it, delivered to the role or not."""
    notes: list[str] = []
    try:
        access = broker_access.build(inv, site)
    except KeyError as exc:
        return [], [], [], [f"broker: {exc}"]
    [listener] = access.listeners[:1]
    pki = state / "pki"
    if not (pki / "ca.crt").exists():
        return [], [], [], [f"broker: no lab CA at {pki} (wrong --state-dir?)"]
    classes = sorted(inv.of("data_class"))
    roles = [a for a in access.accounts if a.kind == "role"]
    publishers: dict[str, tuple[str, str]] = {}  # class -> (account, topic)
    for acc in access.accounts:
        if acc.kind != "gateway":
            continue
        for topic in acc.write:
            parts = topic.split("/")
            if parts[0] == site and len(parts) >= 2 and parts[-2] in classes:
                publishers.setdefault(parts[-2], (acc.username, topic))
    for c in classes:
        if c not in publishers:
            notes.append(f"broker: no collector of {site} publishes {c}: not tried")
    ca = str(pki / "ca.crt")
    client_args = ["-h", listener.address, "-p", str(listener.port), "--cafile", ca]

    def creds(account: str) -> list[str]:
        base = pki / "clients" / account
        return ["--cert", f"{base}.crt", "--key", f"{base}.key"]

    def sub_host() -> Host | None:
        for h in sorted(all_hosts, key=lambda h: (h.kind != "client", h.name)):
            reaches = _reaches(seg, h, access.zone, listener.address, listener.port)
            if h.zone != INTERNET and reaches:
                return h
        return None

    src = sub_host()
    if src is None:
        return [], [], [], ["broker: no lab host may reach the broker"]
    procs = {}
    for role in roles:
        cmd = [
            "ip", "netns", "exec", f"{prefix}-{src.name}", "mosquitto_sub", *client_args,
            *creds(role.username), "-t", f"{site}/#", "-v", "-q", "1", "-W", "4",
        ]  # fmt: skip
        procs[role.username] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    time.sleep(0.5)

    def publish(cls: str, value: str | None) -> None:
        account, topic = publishers[cls]
        payload = ["-n"] if value is None else ["-m", value]
        gw = access.account(account).subject  # a gateway account publishes from its gateway
        _inside(
            prefix, gw,
            ["mosquitto_pub", *client_args, *creds(account), "-t", topic, *payload, "-q", "1",
             "-r"],
            timeout=20,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(lambda c: publish(c, "plantctl-lab-verify"), sorted(publishers)))
    got: dict[str, set[str]] = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=30)
        got[name] = {
            line.split(" ", 1)[0].split("/")[-2]
            for line in out.splitlines()
            if line.count("/") >= 2
        }
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        list(pool.map(lambda c: publish(c, None), sorted(publishers)))
    probes = []
    for role in roles:
        viewable = set(broker_access.viewable_classes(inv, role.subject))
        for cls in classes:
            if cls not in publishers:
                continue
            delivered = cls in got[role.username]
            probes.append(
                Probe(
                    area="broker",
                    source=role.username,
                    src_zone=src.zone,
                    src_address=src.address,
                    dst_zone=access.zone,
                    target=cls,
                    expected=cls in viewable,
                    why=f"{cls} viewers"
                    + (" include " if cls in viewable else " exclude ")
                    + role.subject,
                    policy="DATA-002",
                    got="delivered" if delivered else "not delivered",
                    passed=delivered,
                )
            )
    return probes, [r.username for r in roles], classes, notes


def ssh_options(folder: Path) -> list[str]:
    """ssh with no configuration and no known hosts of its own: an empty config file and a
    throw-away known-hosts file in `folder` (not /dev/null, which a broken host may lack)."""
    config = folder / "ssh_config"
    config.write_text("")
    return [
        "-F", str(config), "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
        "-o", f"UserKnownHostsFile={folder / 'known_hosts'}", "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1",
    ]  # fmt: skip


# The lab stack's run folder (providers/lab.RUN_ROOT; the lab layer does not import providers):
# the bastion's live pam_oath users file is read there for the last TOTP step it accepted.
RUN_ROOT = Path("/run/plantctl-stacks")


def _last_step(prefix: str, bastion_id: str, account: str) -> int:
    users = RUN_ROOT / prefix / "machines" / bastion_id / "root" / pam_oath.USERS_FILE.lstrip("/")
    try:
        text = users.read_text()
    except OSError:
        return -1
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[1] == account and fields[4].isdigit():
            return int(fields[4])
    return -1


class _Session:
    """One login of a grant's account on the bastion (its key and certificate, and for an MFA
    grant one TOTP code): a multiplexing master in the origin's namespace; each target is then a
    channel of it (`ssh -S sock -W target`), so one code serves every try."""

    def __init__(self, prefix: str, origin: str, key: str, account: str, bastion: str, tmp: Path,
                 options: list[str], seed: str | None, bastion_id: str):  # fmt: skip
        self.prefix, self.origin, self.account = prefix, origin, account
        self.sock = str(tmp / f"{account}.sock")
        self.options = options
        self.key, self.bastion, self.seed, self.bastion_id = key, bastion, seed, bastion_id
        self.askpass = tmp / "askpass"
        self.error = ""

    def _env(self, code: str) -> dict[str, str]:
        return {**os.environ, "SSH_ASKPASS": str(self.askpass), "SSH_ASKPASS_REQUIRE": "force",
                "PLANTCTL_VERIFY_CODE": code}  # fmt: skip

    def open(self) -> bool:
        if not self.askpass.exists():
            self.askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$PLANTCTL_VERIFY_CODE"\n')
            self.askpass.chmod(0o755)
        for _attempt in range(2):
            code = ""
            if self.seed:
                now = int(time.time() // pam_oath.STEP)
                step = max(now, _last_step(self.prefix, self.bastion_id, self.account) + 1)
                while step > int(time.time() // pam_oath.STEP) + 1:
                    time.sleep(0.5)
                code = pam_oath.totp(self.seed, step * pam_oath.STEP)
            batch = "no" if self.seed else "yes"
            done = _inside(
                self.prefix, self.origin,
                ["ssh", *self.options, "-o", f"BatchMode={batch}", "-i", self.key,
                 "-M", "-S", self.sock, "-o", "ControlPersist=yes", "-f", "-N",
                 f"{self.account}@{self.bastion}"],
                timeout=60, stdin=subprocess.DEVNULL, env=self._env(code),
            )  # fmt: skip
            if done.returncode == 0:
                return True
            self.error = done.stderr.strip()[-160:]
            if not self.seed or "keyboard-interactive" not in self.error:
                return False
            time.sleep(pam_oath.STEP - time.time() % pam_oath.STEP + 0.5)  # the next code
        return False

    def reach(self, target: str) -> tuple[bool, str]:
        done = _inside(
            self.prefix, self.origin,
            ["ssh", *self.options, "-S", self.sock, "-W", target, f"{self.account}@{self.bastion}"],
            timeout=30, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        reached = done.returncode == 0 and done.stdout.startswith("plantctl-lab")
        return reached, "reached" if reached else "refused: " + done.stderr.strip()[-120:]

    def close(self) -> None:
        _inside(
            self.prefix, self.origin,
            ["ssh", *self.options, "-S", self.sock, "-O", "exit", f"{self.account}@{self.bastion}"],
            timeout=15, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip


def grant_probes(
    inv: Inventory, site: str, seg: Segmentation, all_hosts: list[Host], prefix: str, state: Path
) -> tuple[list[Probe], list[str]]:
    """Each grant with a key in the lab state: its target ports through the bastion while its
    window is open, nothing else."""
    notes: list[str] = []
    site_rec = inv.get("site", site)
    svc = site_rec.data.get("services", {}).get("bastion") if site_rec else None
    if svc is None:
        return [], [f"bastion: {site} has none"]
    keys = state / "keys"
    now = datetime.now(UTC)
    bastion_zone, bastion, port = svc["zone"], svc["address"], int(svc["port"])
    devices = [h for h in all_hosts if h.kind in ("machine", "gateway")]
    probes: list[Probe] = []
    for rec in sorted(inv.of("grant").values(), key=lambda r: r.key):
        g = rec.data
        if g["site"] != site or g.get("via") != svc["id"]:
            continue
        key = keys / g["person"]
        if not key.exists():
            notes.append(f"bastion: no lab key for {g['person']} ({rec.key}): not tried")
            continue
        person = inv.get("person", g["person"])
        external = bool(person and person.data.get("external"))
        origins = [
            h
            for h in sorted(all_hosts, key=lambda h: (h.kind != "client", h.name))
            if (h.zone == INTERNET) == external and _reaches(seg, h, bastion_zone, bastion, port)
        ]
        if not origins:
            notes.append(f"bastion: no lab host may reach the bastion for {rec.key}: not tried")
            continue
        target = grants.target_address(inv, g["target"])
        if target is None:
            continue
        start = grants.parse_time(g["start"])
        end = grants.parse_time(g["end"]) if g.get("end") else None
        open_now = start <= now and (end is not None and now < end)
        ports: set[int] = set()
        for s in (protocols.resolve(inv, s) for s in g["services"]):
            if s.get("protocol") == "tcp" and s.get("port"):
                ports.update(range(s["port"], (s.get("port_end") or s["port"]) + 1))
        window = "open" if open_now else ("shut: ended" if end and end <= now else "shut")
        policy = "RA-013" if open_now else ("RA-012" if end and end <= now else "RA-003")
        tries: list[tuple[str, bool, str]] = [
            (f"{target}:{p}", open_now, f"{rec.key} permits it, window {window}")
            for p in sorted(ports)
        ]
        target_host = next((h for h in devices if h.address == target), None)
        others = sorted(set(target_host.ports if target_host else ()) - ports)
        tries += [(f"{target}:{p}", False, f"{rec.key} does not permit port {p}") for p in others]
        neighbour = next((h for h in devices if h.address != target and set(h.ports) & ports), None)
        if neighbour:
            p = min(set(neighbour.ports) & ports)
            tries.append(
                (f"{neighbour.address}:{p}", False, f"{rec.key} does not permit {neighbour.name}")
            )
        for dest, expected, why in tries:
            probes.append(
                Probe(
                    area="bastion",
                    source=f"{origins[0].name} as {rec.key} ({g['person']})",
                    src_zone=origins[0].zone,
                    src_address=origins[0].address,
                    dst_zone=bastion_zone,
                    target=dest,
                    expected=expected,
                    why=why,
                    policy=policy if expected or not open_now else "RA-013",
                    got=origins[0].name + "|" + str(key) + "|" + rec.key,
                )
            )

    users = state / "oath" / "users.oath"
    seeds = pam_oath.parse_users(users.read_text()) if users.exists() else {}
    by_account: dict[str, list[Probe]] = {}
    for probe in probes:
        by_account.setdefault(probe.got.split("|")[2], []).append(probe)

    def one(mine: list[Probe], tmp: Path, options: list[str]) -> None:
        origin, key, account = mine[0].got.split("|")
        session = _Session(prefix, origin, key, account, bastion, tmp, options,
                           seeds.get(account), svc["id"])  # fmt: skip
        if not session.open():
            for p in mine:
                p.passed, p.got = False, "refused: " + session.error
            return
        try:
            for p in mine:
                p.passed, p.got = session.reach(p.target)
        finally:
            session.close()

    with tempfile.TemporaryDirectory(prefix="plantctl-verify-") as tmp:
        options = ssh_options(Path(tmp))
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            list(pool.map(lambda m: one(m, Path(tmp), options), by_account.values()))
    return probes, notes


# -- the whole verification --------------------------------------------------------------------


def lab_is_up(prefix: str, site: str) -> bool:
    return Namespace(f"{prefix}-{site}-rt").exists()


def verify(
    inv: Inventory,
    site: str,
    prefix: str,
    state: Path,
    *,
    timeout: float = TIMEOUT,
    areas: Iterable[str] = ("segmentation", "broker", "bastion"),
) -> Report:
    if inv.get("site", site) is None:
        raise VerifyError(f"no site {site!r} in the inventory; sites: {', '.join(inv.of('site'))}")
    if not lab_is_up(prefix, site):
        raise VerifyError(
            f"no lab of site {site!r} is up under prefix {prefix!r} (no namespace "
            f"{prefix}-{site}-rt): bring it up first (make lab-up SITE={site})"
        )
    started = time.monotonic()
    seg = segmentation.build(inv, site)
    all_hosts = hosts(inv, site, seg)
    missing = [h.name for h in all_hosts if not Namespace(f"{prefix}-{h.name}").exists()]
    report = Report(site, prefix)
    report.zones = [z.id for z in seg.zones] + ([INTERNET] if seg.uses_internet else [])
    if missing:
        skipped = ", ".join(missing)
        report.notes.append(f"hosts without a namespace (their probes are skipped): {skipped}")
        all_hosts = [h for h in all_hosts if h.name not in missing]
    areas = set(areas)
    if "segmentation" in areas:
        probes = segmentation_probes(inv, seg, all_hosts)
        run_segmentation(prefix, probes, timeout)
        report.probes += probes
    if "broker" in areas:
        probes, report.roles, report.classes, notes = broker_probes(
            inv, site, seg, all_hosts, prefix, state
        )
        report.probes += probes
        report.notes += notes
    if "bastion" in areas:
        probes, notes = grant_probes(inv, site, seg, all_hosts, prefix, state)
        report.probes += probes
        report.notes += notes
    untried = [p for p in report.probes if p.passed is None]
    if untried:
        report.notes.append(
            f"{len(untried)} probe(s) could not run, e.g. {untried[0].source} -> "
            f"{untried[0].target}: {untried[0].got}"
        )
    report.seconds = time.monotonic() - started
    return report


# -- rendering ---------------------------------------------------------------------------------


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render_text(report: Report) -> str:
    out = [f"lab verify: site {report.site}, lab {report.prefix} ({report.seconds:.1f} s)", ""]
    seg = report.of("segmentation")
    counts = report.counts("segmentation")
    out.append(
        f"Segmentation: {counts['tried']} flows tried, {counts['passed']} passed, "
        f"{counts['dropped']} dropped ({counts['declared']} declared conduit services), "
        f"{counts['mismatches']} mismatch(es)"
    )
    out.append("  cell: passed/dropped of the flows tried from the row zone to the column zone;")
    out.append("  ! marks a cell with a mismatch, - a pair with no host to try")
    zones = report.zones
    rows = [["from \\ to", *zones]]
    for a in zones:
        row = [a]
        for b in zones:
            if a == b:
                row.append("")
                continue
            cell = [p for p in seg if (p.src_zone, p.dst_zone) == (a, b)]
            if not cell:
                row.append("-")
                continue
            passed = sum(1 for p in cell if p.passed)
            text = f"{passed}/{len(cell) - passed}"
            row.append(text + ("!" if any(p.mismatch for p in cell) else ""))
        rows.append(row)
    out += ["  " + line for line in _table(rows).splitlines()]
    broker = report.of("broker")
    if broker:
        bc = report.counts("broker")
        out += [
            "",
            f"Broker ACL: {bc['tried']} role x class deliveries tried, {bc['passed']} delivered, "
            f"{bc['dropped']} not delivered, {bc['mismatches']} mismatch(es)",
            "  yes: delivered, no: not delivered, !: not as the class's viewers say, "
            ". : no publisher",
        ]
        classes = [c for c in report.classes if any(p.target == c for p in broker)]
        rows = [["role \\ class", *classes]]
        for role in report.roles:
            row = [role]
            for cls in classes:
                found = [p for p in broker if p.source == role and p.target == cls]
                if not found:
                    row.append(".")
                    continue
                p = found[0]
                row.append(("yes" if p.passed else "no") + ("!" if p.mismatch else ""))
            rows.append(row)
        out += ["  " + line for line in _table(rows).splitlines()]
    bastion = report.of("bastion")
    if bastion:
        g = report.counts("bastion")
        out += [
            "",
            f"Bastion grants: {g['tried']} connections tried, {g['passed']} reached, "
            f"{g['dropped']} refused, {g['mismatches']} mismatch(es)",
        ]
        for p in bastion:
            mark = "!" if p.mismatch else " "
            seen = "reached" if p.passed else "refused"
            out.append(f" {mark} {p.source} -> {p.target}: {seen} ({p.why})")
    mism = report.mismatches
    out.append("")
    if mism:
        out.append(f"{len(mism)} mismatch(es):")
        for p in mism:
            want = "pass" if p.expected else "be dropped"
            out.append(
                f"  {p.policy} [{p.area}] {p.source} ({p.src_zone}) -> {p.target} ({p.dst_zone}): "
                f"should {want} ({p.why}), got {p.got}"
            )
    else:
        out.append("No mismatch: the lab does what the inventory says.")
    for note in report.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"
