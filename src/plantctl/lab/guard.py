"""Keep lab traffic in the lab: `unreachable` routes for the lab ranges in the root namespace.

Lab hosts live in their own namespaces; a packet for a lab address that is sent from the root
namespace by mistake would otherwise follow the host's default route out of the machine. Several
lab runs may hold the same range at once (each with its own prefix): every holder leaves a marker
file and the route goes away with the last one. A lock file serialises the bookkeeping.
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
    _dir(state_root).mkdir(parents=True, exist_ok=True)
    with open(_dir(state_root) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _key(cidr: str) -> str:
    return str(IPNetwork(cidr).cidr).replace("/", "_")


def hold(state_root: Path, cidr: str, owner: str) -> None:
    """Make `cidr` unreachable from the root namespace for as long as `owner` holds it."""
    net = str(IPNetwork(cidr).cidr)
    with _locked(state_root):
        holders = _dir(state_root) / _key(net)
        holders.mkdir(exist_ok=True)
        (holders / owner).touch()
        process.run(["ip", "route", "replace", "unreachable", net])


def release(state_root: Path, cidr: str, owner: str) -> None:
    """Drop `owner`'s hold; remove the route when nobody holds it any more (idempotent)."""
    net = str(IPNetwork(cidr).cidr)
    with _locked(state_root):
        holders = _dir(state_root) / _key(net)
        (holders / owner).unlink(missing_ok=True)
        if holders.exists() and not any(holders.iterdir()):
            holders.rmdir()
            process.run(["ip", "route", "del", "unreachable", net], check=False)


def held_by(state_root: Path, owner: str) -> list[str]:
    """Ranges `owner` still holds (to release leftovers)."""
    root = _dir(state_root)
    if not root.exists():
        return []
    return sorted(p.parent.name.replace("_", "/") for p in root.glob(f"*/{owner}"))
