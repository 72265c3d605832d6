"""Route holds left by earlier versions of the lab, and how to remove them.

The lab no longer changes the root namespace: every lab host, its router and the internet
stand-in are namespaces of their own, nothing of the lab is attached to the root namespace, so
no packet of the host can reach a lab address and no `unreachable` route is needed (such a
route hid the host's real networks, and the package registries, while a lab was up).

Earlier versions added `unreachable <cidr>` routes to the root namespace and left a marker file
`<state root>/routes/<cidr>/<owner>` per holder. `held_by` finds an owner's markers and `release`
drops them, deleting the route with the last holder, so that `cleanup` and `lab-down` still
clear what an old run left behind. Nothing here adds a route.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from netaddr import IPNetwork

from plantctl.lab import process


def _dir(state_root: Path) -> Path:
    return state_root / "routes"


@contextmanager
def _locked(state_root: Path):
    with open(_dir(state_root) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _key(cidr: str) -> str:
    return str(IPNetwork(cidr).cidr).replace("/", "_")


def release(state_root: Path, cidr: str, owner: str) -> None:
    """Drop an old run's hold; remove its route when nobody holds it any more (idempotent)."""
    if not _dir(state_root).exists():
        return
    net = str(IPNetwork(cidr).cidr)
    with _locked(state_root):
        holders = _dir(state_root) / _key(net)
        (holders / owner).unlink(missing_ok=True)
        if holders.exists() and not any(holders.iterdir()):
            holders.rmdir()
            process.run(["ip", "route", "del", "unreachable", net], check=False)


def held_by(state_root: Path, owner: str) -> list[str]:
    """Ranges an old run of `owner` still holds (to release them)."""
    root = _dir(state_root)
    if not root.exists():
        return []
    return sorted(p.parent.name.replace("_", "/") for p in root.glob(f"*/{owner}"))
