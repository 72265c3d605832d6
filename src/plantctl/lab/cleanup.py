"""Finding and removing what a lab run left behind, by its name prefix.

Everything a run creates carries its prefix (`plab` + 6 hex digits): namespaces
`<prefix>-<name>`, machines `--machine=<prefix>-<name>`, the state directory
`/run/plantctl-lab/<prefix>/` (a tmpfs with the machines' overlays). `remove` takes all of it
away in dependency order and is safe to repeat (it also drops the `unreachable` route holds that
earlier versions of the lab added to the root namespace, see guard.py); `stale_prefixes` finds
runs whose owning process is gone (a crashed or killed test run), so the next run can clear them
first. Only names with the prefix are touched: another run's (or a stack's) lab is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from plantctl.lab import guard, netns, process

STATE_ROOT = Path("/run/plantctl-lab")
PREFIX_RE = re.compile(r"^plab[0-9a-f]{6}$")


def owner_file(state_root: Path, prefix: str) -> Path:
    return state_root / f"{prefix}.owner"


def _starttime(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, IndexError):
        return None


def claim(state_root: Path, prefix: str) -> None:
    """Record this process as the owner of the prefix."""
    state_root.mkdir(parents=True, exist_ok=True)
    owner_file(state_root, prefix).write_text(f"{os.getpid()} {_starttime(os.getpid())}\n")


def owner_alive(state_root: Path, prefix: str) -> bool:
    try:
        pid_text, start = owner_file(state_root, prefix).read_text().split()
    except (FileNotFoundError, ValueError):
        return False
    return process.alive(int(pid_text)) and _starttime(int(pid_text)) == start


def known_prefixes(state_root: Path = STATE_ROOT) -> set[str]:
    found = set()
    if state_root.exists():
        for p in state_root.iterdir():
            name = p.name.removesuffix(".owner")
            if PREFIX_RE.match(name):
                found.add(name)
    if netns.NETNS_DIR.exists():
        for p in netns.NETNS_DIR.iterdir():
            head = p.name.split("-", 1)[0]
            if PREFIX_RE.match(head):
                found.add(head)
    for pid in _nspawn_pids():
        name = _nspawn_machine(pid) or ""
        head = name.split("-", 1)[0]
        if PREFIX_RE.match(head):
            found.add(head)
    return found


def stale_prefixes(state_root: Path = STATE_ROOT) -> list[str]:
    """Prefixes with resources left but no living owner."""
    return sorted(p for p in known_prefixes(state_root) if not owner_alive(state_root, p))


def _nspawn_pids() -> list[int]:
    pids = []
    for pid in process.all_pids():
        args = process.cmdline(pid)
        if args and os.path.basename(args[0]) == "systemd-nspawn":
            pids.append(pid)
    return pids


def _nspawn_machine(pid: int) -> str | None:
    args = process.cmdline(pid)
    for i, arg in enumerate(args):
        if arg.startswith("--machine="):
            return arg.split("=", 1)[1]
        if arg in ("-M", "--machine") and i + 1 < len(args):
            return args[i + 1]
    return None


def _mounts_under(path: Path) -> list[str]:
    base = str(path)
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            target = line.split()[4].replace("\\040", " ")
            if target == base or target.startswith(base + "/"):
                found.append(target)
    return found


def remove(prefix: str, state_root: Path = STATE_ROOT) -> list[str]:
    """Remove everything of one lab run; returns what was found (for a report)."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"not a lab prefix: {prefix!r}")
    removed = []
    for pid in _nspawn_pids():
        name = _nspawn_machine(pid) or ""
        if name.startswith(f"{prefix}-"):
            process.terminate(pid, timeout=20)
            removed.append(f"machine {name}")
    for name in netns.list_names(prefix):
        netns.Namespace(name).delete()
        removed.append(f"namespace {name}")
    run_dir = state_root / prefix
    for target in sorted(_mounts_under(run_dir), key=len, reverse=True):
        if process.run(["umount", target], check=False).returncode != 0:
            process.run(["umount", "-l", target], check=False)
        removed.append(f"mount {target}")
    for cidr in guard.held_by(state_root, prefix):
        guard.release(state_root, cidr, prefix)
        removed.append(f"route hold {cidr} (of an earlier version)")
    if run_dir.exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(f"state {run_dir}")
    owner_file(state_root, prefix).unlink(missing_ok=True)
    return removed


def remove_stale(state_root: Path = STATE_ROOT) -> dict[str, list[str]]:
    return {prefix: remove(prefix, state_root) for prefix in stale_prefixes(state_root)}
