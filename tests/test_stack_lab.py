"""The `lab` stack of the sample site with the real Pulumi engine, on this machine (root).

One lab for the module: `pulumi preview` and `pulumi up` of stack lab-<random> for site
ridgeway, then traffic through the zone firewall, the broker and the bastion, a second `up` that
must change nothing, and `pulumi destroy`, after which no namespace, link, mount or process of
the lab may be left. The inventory is the sample plant plus two test grants (a vendor grant that
is active now and an internal grant that ended an hour ago; both kinds are otherwise missing from
the sample on most days). State goes to a private backend in the test's temporary folder.

Traffic only goes to addresses inside the namespaces this test creates.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plantctl.lab import standins
from plantctl.model.loader import load
from plantctl.plant import broker_access, segmentation

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SITE = "ridgeway"
TIMINGS = ROOT / ".state" / "lab-timings.json"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    # Only a developer without root skips it; CI runs as root, and there it never skips.
    pytest.mark.skipif(
        os.geteuid() != 0 and not os.environ.get("CI"), reason="the lab needs root; CI has it"
    ),
]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def extra_grants(now: datetime) -> str:
    """Two grants appended to the sample's: an active vendor grant, an ended internal one."""
    return f"""
  - id: g-rw-9001
    person: rkessler
    site: ridgeway
    target: rw-hmi-01
    services: [{{protocol: tcp, port: 443, name: https}}]
    start: {_stamp(now - timedelta(hours=1))}
    end: {_stamp(now + timedelta(hours=3))}
    ticket: CHG-9001
    justification: Lab test of an active vendor grant
    via: rw-bastion
    mfa: true
    session_recording: true
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
  - id: g-rw-9002
    person: kito
    site: ridgeway
    target: gw-rw-01
    services: [{{protocol: tcp, port: 22, name: ssh}}]
    start: {_stamp(now - timedelta(hours=3))}
    end: {_stamp(now - timedelta(hours=1))}
    ticket: CHG-9002
    justification: Lab test of a grant whose window has ended
    via: rw-bastion
    mfa: true
    session_recording: false
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
"""


class Lab:
    """The stack under test and how to reach into it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.prefix = "plci" + secrets.token_hex(3)
        self.stack = f"lab-{self.prefix}"
        self.work = tmp / "project"
        self.state = tmp / "lab-state"
        self.inventory = tmp / "inventory"
        shutil.copytree(ROOT / "inventory", self.inventory)
        grants = self.inventory / "access" / "grants.yaml"
        grants.write_text(grants.read_text().rstrip("\n") + extra_grants(datetime.now(UTC)))
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": (tmp / "backend").as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "lab-test",
            "PYTHONPATH": str(ROOT / "stacks"),  # the runner is the application's (plantstack.run)
        }
        (tmp / "backend").mkdir()
        self.config = {
            "site": SITE,
            "target": "lab",
            "inventory": str(self.inventory),
            "labPrefix": self.prefix,
            "labStateDir": str(self.state),
            "labIncludeEndedGrants": "true",
        }
        self.timings: dict[str, float] = {}
        self.outputs: dict = {}
        self.destroyed = False

    def stackrun(self, action: str, *extra: str, check: bool = True) -> dict:
        args = [PY, "-m", "plantstack.run", action, "--stack", self.stack]
        args += ["--work-dir", str(self.work), "--quiet", *extra]
        for key, value in self.config.items():
            args += ["--set", f"{key}={value}"]
        started = time.monotonic()
        done = subprocess.run(args, capture_output=True, text=True, env=self.env, timeout=600)
        runs = sum(1 for k in self.timings if k.split("-")[0] == action)
        key = action if not runs else f"{action}-{runs + 1}"
        self.timings[key] = round(time.monotonic() - started, 1)
        if check:
            assert done.returncode == 0, f"{action} failed:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout) if done.returncode == 0 else {"stderr": done.stderr}

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def inside(self, name: str, args: list[str], timeout: float = 30, **kw):
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(name), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,
        )


def leftovers(prefix: str) -> list[str]:
    """Anything of the lab still on the machine: namespaces, mounts, processes, route holds."""
    found = []
    netns = Path("/run/netns")
    if netns.exists():
        found += [f"netns {p.name}" for p in netns.iterdir() if p.name.startswith(f"{prefix}-")]
    with open("/proc/self/mountinfo") as fh:
        found += [f"mount {line.split()[4]}" for line in fh if prefix in line.split()[4]]
    for pid in (p for p in Path("/proc").iterdir() if p.name.isdigit()):
        try:
            cmd = (pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if prefix in cmd and "pytest" not in cmd:
            found.append(f"process {pid.name}: {cmd[:120]}")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {line.split(':')[1].strip()}" for line in links.splitlines() if prefix in line]
    routes = Path("/run/plantctl-lab/routes")
    if routes.exists():
        found += [f"route hold {p}" for p in routes.glob(f"*/{prefix}")]
    return found


def sweep_stale_test_labs() -> None:
    """Remove the labs of earlier test runs that were killed before their own teardown."""
    import re

    from plantctl.providers.lab import RUN_ROOT, teardown

    prefixes = set()
    for folder in (Path("/run/netns"), RUN_ROOT):
        if folder.exists():
            for p in folder.iterdir():
                head = p.name.split("-", 1)[0].removesuffix(".owner")
                if re.fullmatch(r"plci[0-9a-f]{6}", head):
                    prefixes.add(head)
    for prefix in prefixes:
        owner = RUN_ROOT / f"{prefix}.owner"
        try:
            pid = int(owner.read_text())
            os.kill(pid, 0)
            continue  # its test run is alive
        except (OSError, ValueError):
            teardown(prefix)
            owner.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from plantctl.providers.lab import RUN_ROOT
    from plantstack.run import environment

    assert shutil.which("pulumi", path=environment()["PATH"]), (
        "the Pulumi CLI is not installed: run `make setup` (tools/install-pulumi.sh)"
    )
    sweep_stale_test_labs()
    lab = Lab(tmp_path_factory.mktemp("stack"))
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    owner = RUN_ROOT / f"{lab.prefix}.owner"
    owner.write_text(str(os.getpid()))
    try:
        yield lab
    finally:
        if not lab.destroyed:
            lab.stackrun("destroy", check=False)
            from plantctl.providers.lab import teardown

            teardown(lab.prefix)
        owner.unlink(missing_ok=True)
        TIMINGS.parent.mkdir(parents=True, exist_ok=True)
        TIMINGS.write_text(json.dumps(lab.timings, indent=1))


@pytest.fixture(scope="module")
def model(lab):
    inv = load(lab.inventory)
    seg = segmentation.build(inv, SITE)
    return inv, seg


def test_preview_then_up_build_the_lab(lab, model):
    preview = lab.stackrun("preview", "--json", str(lab.tmp / "plan.json"))
    assert preview["changes"].get("create", 0) > 20
    up = lab.stackrun("up")
    assert up["changes"].get("create", 0) == preview["changes"]["create"]
    lab.outputs = up["outputs"]
    assert lab.outputs["lab_prefix"] == lab.prefix
    assert lab.outputs["grants"] == ["g-rw-0007", "g-rw-9001", "g-rw-9002"]
    assert lab.timings["up"] < 180, "the whole lab plant must be up within 3 minutes"


def test_the_plan_passes_the_plan_policy(lab, model):
    from plantctl.gate import plan_check

    inv, _ = model
    plan = plan_check.load_plan(lab.tmp / "plan.json")
    decision = plan_check.evaluate(inv, SITE, plan, ROOT / "policies")
    assert decision["violations"] == []
    kinds = {
        s["newState"]["inputs"].get("declares", {}).get("kind")
        for s in plan["steps"]
        if isinstance(s.get("newState", {}).get("inputs", {}).get("declares"), dict)
    }
    assert kinds == {"firewall", "broker", "bastion"}


def _hosts(lab, model) -> list[dict]:
    """Every lab host: stand-ins, the broker and the bastion, with zone, address and ports."""
    inv, seg = model
    hosts = [
        {"name": s.name, "zone": s.zone, "address": s.address, "ports": s.services}
        for s in standins.build(inv, SITE, seg)
    ]
    for name, svc in inv.get("site", SITE).data["services"].items():
        # the services the lab stack boots: the enterprise broker is in no lab stack yet, so it
        # is not probed here (its bridge runs in tests/test_bridge_outage.py's own lab)
        if name not in standins.LAB_MACHINES:
            continue
        port = svc["port"]
        hosts.append(
            {"name": svc["id"], "zone": svc["zone"], "address": svc["address"], "ports": (port,)}
        )
    return hosts


def seg_only(seg, flow):
    """The segmentation with this one flow: what it alone allows."""
    import dataclasses

    return dataclasses.replace(seg, flows=(flow,))


def test_every_declared_conduit_passes_and_everything_else_is_dropped(lab, model):
    _, seg = model
    hosts = _hosts(lab, model)
    targets = [(h, port) for h in hosts for port in h["ports"]]

    def probe(src: dict) -> tuple[str, dict]:
        wanted = [f"{h['address']}:{p}" for h, p in targets if h["name"] != src["name"]]
        done = lab.inside(
            src["name"],
            [PY, "-m", "plantctl.providers.lab_tcp", "probe", "--timeout", "1.5", *wanted],
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return src["name"], json.loads(done.stdout)

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = dict(pool.map(probe, hosts))
    wrong = []
    opened = []
    for src in hosts:
        for dst, port in targets:
            if dst["name"] == src["name"]:
                continue
            got = seen[src["name"]][f"{dst['address']}:{port}"]
            ok = standins.allowed(
                seg, src["zone"], src["address"], dst["zone"], dst["address"], port
            )
            if got != ("open" if ok else "timeout"):
                wrong.append(f"{src['name']} -> {dst['name']} {dst['address']}:{port}: {got}")
            if got == "open":
                opened.append((src, dst, port))
    assert wrong == []
    # every conduit service was seen to pass on its own: a probe that only it allows
    for flow in seg.flows:
        assert any(
            (src["zone"], dst["zone"]) == (flow.source_zone, flow.destination_zone)
            and standins.allowed(
                seg_only(seg, flow), src["zone"], src["address"], dst["zone"], dst["address"], port
            )
            for src, dst, port in opened
        ), f"no probe passed through conduit {flow.name}"
    by_name = {h["name"]: h for h in hosts}
    assert seen["ridgeway-enterprise-client"]["10.20.11.21:4840"] == "timeout"  # enterprise -> PLC
    assert seen["ridgeway-internet"]["10.20.20.21:22"] == "timeout"  # internet -> gateway
    office = by_name["ridgeway-enterprise-client"]["address"]
    assert seen["gw-rw-01"][f"{office}:22"] == "timeout"  # gateway -> enterprise
    assert seen["ridgeway-internet"]["10.20.12.21:502"] == "timeout"  # internet -> PLC
    assert seen["rw-broker"]["10.20.11.21:4840"] == "timeout"  # DMZ -> cell
    counters = lab.inside(f"{SITE}-rt", ["nft", "list", "ruleset"]).stdout
    assert "policy drop" in counters


def _mqtt(lab, host: str, tool: str, account: str | None, *args: str, ca: Path | None = None):
    pki = lab.state / "pki"
    cmd = [tool, "-h", "10.20.35.10", "-p", "8883", "--cafile", str(ca or pki / "ca.crt")]
    if account:
        cmd += ["--cert", str(pki / "clients" / f"{account}.crt")]
        cmd += ["--key", str(pki / "clients" / f"{account}.key")]
    return lab.inside(host, [*cmd, *args], timeout=20)


def _publish(lab, topic: str, value: str | None, *flags: str) -> subprocess.CompletedProcess:
    """gw-rw-01 (the account of its collectors' one process) publishes (QoS 1); value None clears
    a retained message."""
    payload = ["-n"] if value is None else ["-m", value]
    account = "gateway.gw-rw-01"
    return _mqtt(lab, "gw-rw-01", "mosquitto_pub", account, "-t", topic, *payload, *flags)


def _subscribe(lab, host: str, account: str, topic: str, *flags: str) -> subprocess.Popen:
    pki = lab.state / "pki"
    cmd = [
        "ip", "netns", "exec", lab.ns(host), "mosquitto_sub", "-h", "10.20.35.10",
        "-p", "8883", "--cafile", str(pki / "ca.crt"),
        "--cert", str(pki / "clients" / f"{account}.crt"),
        "--key", str(pki / "clients" / f"{account}.key"),
        "-t", topic, "-q", "1", *flags,
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_broker_delivers_only_what_a_role_may_view(lab, model):
    inv, _ = model
    access = broker_access.build(inv, SITE)
    status = "ridgeway/cell-machining/rw-cnc-01/machine-status/status"
    count = "ridgeway/cell-machining/rw-cnc-01/production-counts/part-count"
    reason = "ridgeway/cell-machining/rw-cnc-01/downtime-reasons/downtime-reason"
    assert set(access.account("gateway.gw-rw-01").write) >= {status, count, reason}
    # Retained, so that what a subscriber gets does not depend on when it connects.
    for topic, value in ((status, "1"), (count, "42"), (reason, "7")):
        done = _publish(lab, topic, value, "-q", "1", "-r")
        assert done.returncode == 0, done.stderr
    # a gateway cannot publish on another gateway's collectors' topics (accepted, never delivered)
    other = "ridgeway/cell-molding/rw-press-01/machine-status/status"
    _publish(lab, other, "x", "-q", "1", "-r")
    hosts = {
        "role.network-admin": "ridgeway-enterprise-client",
        "role.operator": "ridgeway-site-ops-client",
        "role.auditor": "ridgeway-enterprise-client",
    }
    subs = {
        role: _subscribe(lab, host, role, "ridgeway/#", "-v", "-W", "5")
        for role, host in hosts.items()
    }
    got = {}
    for role, proc in subs.items():
        out, _ = proc.communicate(timeout=30)
        got[role] = sorted(line.split(" ", 1)[0] for line in out.splitlines() if line)
    for topic in (status, count, reason):
        _publish(lab, topic, None, "-q", "1", "-r")
    assert got["role.network-admin"] == [status]  # views machine status only
    assert got["role.operator"] == sorted([status, count, reason])
    assert got["role.auditor"] == []  # quality records and reports only


def test_broker_refuses_clients_without_a_certificate_or_from_another_ca(lab):
    from cryptography.hazmat.primitives import serialization

    from plantctl.providers import lab_pki

    topic = "ridgeway/cell-machining/rw-cnc-01/machine-status/status"
    anonymous = _mqtt(lab, "gw-rw-01", "mosquitto_pub", None, "-t", topic, "-m", "1")
    assert anonymous.returncode != 0
    foreign = lab.tmp / "foreign"
    foreign.mkdir()
    ca_key, ca_cert = lab_pki.make_ca("someone else's CA")
    key, cert = lab_pki.issue_cert(ca_key, ca_cert, "gateway.gw-rw-01")
    (foreign / "client.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (foreign / "client.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pki = lab.state / "pki"
    done = lab.inside(
        "gw-rw-01",
        [
            "mosquitto_pub",
            "-h",
            "10.20.35.10",
            "-p",
            "8883",
            "--cafile",
            str(pki / "ca.crt"),
            "--cert",
            str(foreign / "client.crt"),
            "--key",
            str(foreign / "client.key"),
            "-t",
            topic,
            "-m",
            "1",
        ],
        timeout=20,
    )
    assert done.returncode != 0
    logs = lab.inside("rw-broker", ["true"])  # the namespace exists; the broker is still up
    assert logs.returncode == 0


_TOTP_USED: dict[str, int] = {}


def _totp(lab, account: str) -> str | None:
    """The next unused TOTP code of an MFA grant's account (None: the grant is key-only). pam_oath
    refuses a code of a step at or before the last one it accepted, and accepts one step ahead:
    two logins per 30 s step, so a third waits for the next step."""
    from plantctl.configs import pam_oath

    users = lab.state / "oath" / "users.oath"
    seed = pam_oath.parse_users(users.read_text()).get(account) if users.exists() else None
    if seed is None:
        return None
    step = max(int(time.time() // 30), _TOTP_USED.get(account, -1) + 1)
    while step > int(time.time() // 30) + 1:
        time.sleep(0.5)
    _TOTP_USED[account] = step
    return pam_oath.totp(seed, step * 30)


def _ssh(lab, src: str, login: str, account: str, target: str) -> subprocess.CompletedProcess:
    """ssh -W through the bastion with the person's key, and for an MFA grant the TOTP code
    (keyboard-interactive, answered by an askpass script)."""
    key = lab.state / "keys" / login
    code = _totp(lab, account)
    askpass = lab.tmp / "askpass"
    if not askpass.exists():
        askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$PLANTCTL_TEST_CODE"\n')
        askpass.chmod(0o755)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
           "PLANTCTL_TEST_CODE": code or ""}  # fmt: skip
    return lab.inside(
        src,
        [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"BatchMode={'no' if code else 'yes'}",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "ControlPath=none",
            "-o",
            "LogLevel=ERROR",
            "-W",
            target,
            f"{account}@10.20.36.10",
        ],
        timeout=90,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_active_vendor_grant_reaches_exactly_its_target_port(lab):
    ok = _ssh(lab, "ridgeway-internet", "rkessler", "g-rw-9001", "10.20.20.10:443")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "plantctl-lab rw-hmi-01 443"
    for other in ("10.20.20.10:22", "10.20.20.21:443", "10.20.11.21:4840"):
        refused = _ssh(lab, "ridgeway-internet", "rkessler", "g-rw-9001", other)
        assert refused.returncode != 0, other
        assert "plantctl-lab" not in refused.stdout
    # from= : the vendor's key is refused from inside the plant
    inside = _ssh(lab, "ridgeway-enterprise-client", "rkessler", "g-rw-9001", "10.20.20.10:443")
    assert inside.returncode != 0
    assert "Permission denied" in inside.stderr


def test_internal_grant_from_the_office_only(lab):
    ok = _ssh(lab, "ridgeway-enterprise-client", "dokafor", "g-rw-0007", "10.20.20.22:22")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "plantctl-lab gw-rw-02 22"
    outside = _ssh(lab, "ridgeway-internet", "dokafor", "g-rw-0007", "10.20.20.22:22")
    assert outside.returncode != 0


def test_a_grant_whose_window_ended_is_refused_by_sshd(lab):
    keys = lab.inside("rw-bastion", ["true"])
    assert keys.returncode == 0
    run_dir = Path("/run/plantctl-stacks") / lab.prefix / "machines" / "rw-bastion" / "root"
    line = (run_dir / "etc/ssh/authorized_keys/g-rw-9002").read_text()
    assert 'expiry-time="' in line  # the key is deployed; sshd itself must refuse it
    refused = _ssh(lab, "ridgeway-enterprise-client", "kito", "g-rw-9002", "10.20.20.21:22")
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr


def test_a_second_up_changes_nothing(lab):
    again = lab.stackrun("up", "--expect-no-changes")
    assert set(again["changes"]) == {"same"}
    # Target: 15 s (about 5 s here when the machine is otherwise idle). On a machine that other
    # jobs load beyond twice its cores the engine gets half the CPU, so twice the time is allowed.
    busy = os.getloadavg()[0] > 2 * (os.cpu_count() or 1)
    budget = 30 if busy else 15
    assert lab.timings["up-2"] < budget, (
        f"a no-op up took {lab.timings['up-2']} s (budget {budget})"
    )


def test_a_changed_inventory_is_applied_in_place(lab):
    """A grant removed and a role that loses its data class: the bastion and the broker are
    updated where they run (no machine is replaced), and the change is in force at once."""
    grants = lab.inventory / "access" / "grants.yaml"
    text = grants.read_text()
    grants.write_text(
        text[: text.index("  - id: g-rw-9001")] + text[text.index("  - id: g-rw-9002") :]
    )
    classes = lab.inventory / "data_classes.yaml"
    classes.write_text(
        classes.read_text().replace(
            "plant-manager, data-analyst, network-admin]", "plant-manager, data-analyst]"
        )
    )
    up = lab.stackrun("up")
    assert set(up["changes"]) == {"same", "update"}, up["changes"]
    assert up["outputs"]["grants"] == ["g-rw-0007", "g-rw-9002"]
    refused = _ssh(lab, "ridgeway-internet", "rkessler", "g-rw-9001", "10.20.20.10:443")
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr
    root = Path("/run/plantctl-stacks") / lab.prefix / "machines" / "rw-broker" / "root"
    acl = (root / "etc/mosquitto/plant/acl").read_text()
    assert "user role.network-admin" not in acl
    assert not (lab.state / "pki" / "clients" / "role.network-admin.crt").exists()
    # the restarted broker serves the others as before
    topic = "ridgeway/cell-machining/rw-cnc-01/machine-status/status"
    pub = _publish(lab, topic, "3", "-q", "1", "-r")
    assert pub.returncode == 0, pub.stderr
    sub = _subscribe(lab, "ridgeway-site-ops-client", "role.operator", topic, "-C", "1", "-W", "10")
    out, _ = sub.communicate(timeout=30)
    _publish(lab, topic, None, "-q", "1", "-r")
    assert out.strip() == "3"


def test_destroy_leaves_no_namespace_link_mount_or_process(lab):
    assert leftovers(lab.prefix) != []  # the lab is there before
    gone = lab.stackrun("destroy")
    lab.destroyed = True
    assert gone["changes"].get("delete", 0) > 20
    assert leftovers(lab.prefix) == []
    assert not (Path("/run/plantctl-stacks") / lab.prefix).exists()
