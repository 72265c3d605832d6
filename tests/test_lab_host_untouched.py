"""The lab changes nothing of the host's own (root) network namespace (issue 16 item 2).

A whole lab stack of the sample site (zones, router firewall, booted broker and bastion, PLC
simulators and stand-ins) goes up and down for real with the Pulumi engine, under a prefix of its
own and with a private backend, beside whatever other lab is up (the demo's, say). Before it
goes up, while it is up and after it is destroyed, the test records the root namespace's routes
and rules (IPv4 and IPv6, every table), links and addresses, the nftables rule set, the value of
every writable sysctl under /proc/sys/net, and the listening sockets, and asserts they are the
same each time.

Listening sockets are the one record other processes on a shared machine change on their own
(another engineer's test starting a local server). A socket that appears or disappears is
forgiven only when it can be shown not to be the lab's: its process is readable, and neither it
nor any ancestor carries this lab's marker (an environment variable every process the stack run
starts inherits) or its prefix; one that disappears is forgiven only when its process belonged
to another test or make run. Anything else fails the test, so a lab process listening in the
root namespace, or a host service the lab stopped, is caught.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SITE = "ridgeway"
PREFIX_RE = re.compile(r"phst[0-9a-f]{6}")
MARKER = "PLANTCTL_HOST_TEST"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        os.geteuid() != 0 and not os.environ.get("CI"), reason="the lab needs root; CI has it"
    ),
]


# -- what the host's namespace looks like --------------------------------------------------------


def _json(args: list[str]):
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=30)
    return json.loads(done.stdout or "[]")


def _without(items: list[dict], *volatile: str) -> list[dict]:
    """Drop kernel-aged fields (route expiry, address lifetimes), keep everything else."""
    out = []
    for item in items:
        item = {k: v for k, v in item.items() if k not in volatile}
        if "addr_info" in item:
            item["addr_info"] = _without(item["addr_info"], *volatile)
        out.append(item)
    return out


def sysctls() -> dict[str, str]:
    """Every writable entry under /proc/sys/net and its value (settings, not statistics)."""
    found = {}
    for base, _dirs, files in os.walk("/proc/sys/net"):
        for name in files:
            path = os.path.join(base, name)
            try:
                mode = os.stat(path).st_mode
            except OSError:
                continue
            if not mode & stat.S_IWUSR or not mode & stat.S_IRUSR:
                continue
            try:
                with open(path) as fh:
                    found[path] = fh.read().strip()
            except OSError as exc:
                found[path] = f"<unreadable: errno {exc.errno}>"
    return found


def _proc(pid: int, name: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def _ppid(pid: int) -> int | None:
    stat_text = _proc(pid, "stat")
    if stat_text is None:
        return None
    return int(stat_text.rsplit(b")", 1)[1].split()[1])


def _lineage(pid: int) -> list[dict] | None:
    """The process and its ancestors: pid, cmdline and whether it carries `marker`; None when
    the process is gone."""
    chain = []
    while pid and pid > 1:
        cmd = _proc(pid, "cmdline")
        env = _proc(pid, "environ")
        parent = _ppid(pid)
        if cmd is None or env is None or parent is None:
            if not chain:
                return None
            break
        chain.append({"pid": pid, "cmd": cmd.replace(b"\0", b" ").decode(errors="replace"),
                      "env": env.split(b"\0")})  # fmt: skip
        pid = parent
    return chain


def listening() -> dict[str, dict]:
    """`ss -Hltnup` in the root namespace: socket -> owners' lineages (None: not shown)."""
    out = subprocess.run(
        ["ss", "-Hltnup"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        key = f"{fields[0]} {fields[4]}"
        pids = sorted({int(p) for p in re.findall(r"pid=(\d+)", line)})
        names = sorted(set(re.findall(r'\("([^"]+)"', line)))
        key += " " + ",".join(names) if names else ""
        found[key] = {"pids": pids, "lineages": [_lineage(p) for p in pids]}
    return found


def snapshot() -> dict:
    ip4 = ["ip", "-j"]
    ip6 = ["ip", "-6", "-j"]
    return {
        "routes": _without(
            _json([*ip4, "route", "show", "table", "all"])
            + _json([*ip6, "route", "show", "table", "all"]),
            "expires",
        ),
        "rules": _json([*ip4, "rule"]) + _json([*ip6, "rule"]),
        "links": _json(["ip", "-j", "link"]),
        "addresses": _without(
            _json(["ip", "-j", "addr"]), "valid_life_time", "preferred_life_time"
        ),
        "nft": _json(["nft", "-j", "list", "ruleset"]),
        "sysctl": sysctls(),
        "sockets": listening(),
    }


# -- the lab ---------------------------------------------------------------------------------------


class HostLab:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.prefix = "phst" + secrets.token_hex(3)
        self.marker = secrets.token_hex(8)
        self.stack = f"lab-{self.prefix}"
        (tmp / "backend").mkdir()
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": (tmp / "backend").as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "lab-test",
            "PYTHONPATH": str(ROOT / "stacks"),
            MARKER: self.marker,
        }
        self.config = {
            "site": SITE,
            "target": "lab",
            "inventory": str(ROOT / "inventory"),
            "labPrefix": self.prefix,
            "labStateDir": str(tmp / "lab-state"),
        }
        self.seconds: dict[str, float] = {}
        self.up = False

    def stackrun(self, action: str, check: bool = True) -> subprocess.CompletedProcess:
        args = [PY, "-m", "plantstack.run", action, "--stack", self.stack]
        args += ["--work-dir", str(self.tmp / "project"), "--quiet"]
        for key, value in self.config.items():
            args += ["--set", f"{key}={value}"]
        started = time.monotonic()
        done = subprocess.run(args, capture_output=True, text=True, env=self.env, timeout=600)
        self.seconds[action] = round(time.monotonic() - started, 1)
        if check:
            assert done.returncode == 0, f"{action} failed:\n{done.stderr[-4000:]}"
        return done

    def is_ours(self, lineage: list[dict]) -> bool:
        marker = f"{MARKER}={self.marker}".encode()
        return any(marker in p["env"] or self.prefix in p["cmd"] for p in lineage)


def _sweep_stale() -> None:
    """Remove labs of earlier runs of this test that were killed before their teardown."""
    from plantctl.providers.lab import RUN_ROOT, teardown

    for folder in (Path("/run/netns"), RUN_ROOT):
        if not folder.exists():
            continue
        for p in folder.iterdir():
            head = p.name.split("-", 1)[0].removesuffix(".owner")
            owner = RUN_ROOT / f"{head}.owner"
            if not PREFIX_RE.fullmatch(head):
                continue
            try:
                os.kill(int(owner.read_text()), 0)
            except (OSError, ValueError):
                teardown(head)
                owner.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from plantctl.providers.lab import RUN_ROOT, teardown

    assert shutil.which("nft") and shutil.which("ss"), "nftables and iproute2 (make setup)"
    _sweep_stale()
    lab = HostLab(tmp_path_factory.mktemp("host-untouched"))
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    owner = RUN_ROOT / f"{lab.prefix}.owner"
    owner.write_text(str(os.getpid()))
    try:
        yield lab
    finally:
        if lab.up:
            lab.stackrun("destroy", check=False)
        teardown(lab.prefix)
        owner.unlink(missing_ok=True)
        print(f"host-untouched lab {lab.prefix}: seconds {lab.seconds}")


def _other_run(lineage: list[dict] | None) -> bool:
    """A process of another test or make run (its ancestors show pytest or make)."""
    mine = os.getpid()
    return (
        bool(lineage)
        and not any(p["pid"] == mine for p in lineage)
        and any(
            re.search(r"(^|[/ ])(pytest|py\.test|make)( |$)", p["cmd"]) or "-m pytest" in p["cmd"]
            for p in lineage
        )
    )


def differences(lab: HostLab, before: dict, now: dict) -> list[str]:
    """What changed in the root namespace, with the unrelated sockets forgiven (see above)."""
    found = [
        f"{what} changed:\n  before {json.dumps(before[what], sort_keys=True)[:3000]}\n"
        f"  now    {json.dumps(now[what], sort_keys=True)[:3000]}"
        for what in ("routes", "rules", "links", "addresses", "nft")
        if before[what] != now[what]
    ]
    old, new = before["sysctl"], now["sysctl"]
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key):
            found.append(f"sysctl {key}: {old.get(key)!r} -> {new.get(key)!r}")
    for key in sorted(now["sockets"].keys() - before["sockets"].keys()):
        lineages = now["sockets"][key]["lineages"]
        if lineages and all(chain is not None for chain in lineages):
            if not any(lab.is_ours(chain) for chain in lineages):
                continue  # a process of someone else, started meanwhile
            found.append(f"socket {key} opened by the lab: {lineages[0][0]['cmd'][:200]}")
        elif not lineages:
            found.append(f"socket {key} opened, owner not shown")
        # owner gone since: it no longer listens (nothing of a lab that is up)
    for key in sorted(before["sockets"].keys() - now["sockets"].keys()):
        if all(_other_run(chain) for chain in before["sockets"][key]["lineages"] or [None]):
            continue  # another test's server that stopped
        found.append(f"socket {key} that was listening before is gone")
    return found


def test_the_hosts_namespace_is_the_same_before_during_and_after_the_lab(lab):
    before = snapshot()
    assert before["routes"] and before["sysctl"], "nothing recorded: is /proc/sys/net there?"
    lab.stackrun("up")
    lab.up = True
    during = snapshot()
    # The lab is really up: its router namespace has the zone firewall and routes of its own.
    router = f"{lab.prefix}-{SITE}-rt"
    ruleset = subprocess.run(
        ["ip", "netns", "exec", router, "nft", "list", "ruleset"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert "policy drop" in ruleset
    routes = subprocess.run(
        ["ip", "-n", router, "route"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert "10.20.20.0/24" in routes and "203.0.113.0/24" in routes
    assert differences(lab, before, during) == []
    lab.stackrun("destroy")
    lab.up = False
    after = snapshot()
    assert differences(lab, before, after) == []
    assert not [p for p in Path("/run/netns").glob(f"{lab.prefix}-*")]


def test_a_lab_process_listening_in_the_hosts_namespace_is_caught(lab, tmp_path):
    """The socket check itself: a listener started with the lab's marker is reported."""
    before = snapshot()
    proc = subprocess.Popen(
        [PY, "-c", "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 0)); "
         "s.listen(); print('READY', flush=True); time.sleep(60)"],
        env={**os.environ, MARKER: lab.marker},
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "READY"
        found = differences(lab, before, snapshot())
    finally:
        proc.kill()
        proc.wait()
    assert any("opened by the lab" in f for f in found), found
