"""Network namespaces: one per lab host, router or switch, named `<lab prefix>-<name>`.

A namespace only isolates the network: commands run in it with `ip netns exec` still see the
host's files. Booted machines (machine.py) join a namespace and have their own root.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from plantctl.lab import process

NETNS_DIR = Path("/run/netns")


class Namespace:
    """A named network namespace with its loopback up."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    @classmethod
    def create(cls, name: str) -> Namespace:
        process.run(["ip", "netns", "add", name])
        ns = cls(name)
        ns.ip("link", "set", "lo", "up")
        return ns

    def exists(self) -> bool:
        return self.path.exists()

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`ip -n <ns> ...`"""
        return process.run(["ip", "-n", self.name, *args], check=check)

    def run(self, args: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        """Run a host command with this namespace's network (see process.run for kwargs)."""
        return process.run(["ip", "netns", "exec", self.name, *args], **kwargs)

    def popen(self, args: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start a host command with this namespace's network; the caller stops it."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *args], **kwargs)

    def add_address(self, iface: str, cidr: str) -> None:
        self.ip("addr", "add", cidr, "dev", iface)
        self.ip("link", "set", iface, "up")

    def default_route(self, via: str) -> None:
        self.ip("route", "replace", "default", "via", via)

    def forwarding(self, enabled: bool = True) -> None:
        self.run(["sysctl", "-q", "-w", f"net.ipv4.ip_forward={int(enabled)}"])

    def pids(self) -> list[int]:
        out = process.run(["ip", "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split()]

    def delete(self) -> None:
        """Stop every process still using the namespace, then remove it (idempotent)."""
        if not self.exists():
            return
        for pid in self.pids():
            process.terminate(pid, timeout=5, sig=signal.SIGTERM)
        process.run(["ip", "netns", "del", self.name], check=False)


def veth(a: Namespace, a_iface: str, b: Namespace, b_iface: str) -> None:
    """A virtual cable between two namespaces, created directly inside them (never in the root
    namespace, so concurrent lab runs cannot collide on interface names)."""
    process.run(
        [
            "ip", "link", "add", a_iface, "netns", a.name, "type", "veth",
            "peer", "name", b_iface, "netns", b.name,
        ]
    )  # fmt: skip


def list_names(prefix: str) -> list[str]:
    """Namespaces whose name starts with `<prefix>-`."""
    if not NETNS_DIR.exists():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(f"{prefix}-"))
