"""A lab run: one unique name prefix, one state directory, and everything created under them.

    with Lab() as lab:                      # prefix e.g. plab3fa2c1
        net = lab.site_network(inv, "ridgeway")
        ns = net.host("gw-rw-01", "supervisory", "10.20.20.21")
        gw = lab.machine("gw-rw-01", ns, services=["ssh.service"])
        lab.boot(gw)                        # boots (in parallel when given several), waits
        gw.run(["systemctl", "is-active", "ssh"])
    # leaving the block (also by an exception) stops and removes all of it

Resources are released in reverse order of creation; a final sweep by prefix (cleanup.remove)
catches anything a failed step left half-made. Nothing is added to the root namespace (no link,
address, route, rule, sysctl or ruleset): the lab is cabled only to itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from plantctl.lab import cleanup, process
from plantctl.lab.machine import File, Machine
from plantctl.lab.netns import Namespace
from plantctl.lab.network import SiteNetwork
from plantctl.model.inventory import Inventory

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def new_prefix() -> str:
    return "plab" + secrets.token_hex(3)


class Lab:
    """Owner of one lab run's resources; use as a context manager."""

    def __init__(
        self,
        prefix: str | None = None,
        state_root: Path = cleanup.STATE_ROOT,
        tmpfs_size: str = "4g",
    ):
        self.prefix = prefix or new_prefix()
        if not cleanup.PREFIX_RE.match(self.prefix):
            raise ValueError(f"lab prefix must look like plab + 6 hex digits: {self.prefix!r}")
        self.state_root = state_root
        self.dir = state_root / self.prefix
        self.tmpfs_size = tmpfs_size
        self._stack = contextlib.ExitStack()
        self._open = False

    # -- context -----------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        if os.geteuid() != 0:
            raise PermissionError("the lab needs root (namespaces, mounts, systemd-nspawn)")
        cleanup.claim(self.state_root, self.prefix)
        self._open = True
        try:
            self.dir.mkdir(parents=True, exist_ok=False)
            process.run(
                [
                    "mount",
                    "-t",
                    "tmpfs",
                    "-o",
                    f"size={self.tmpfs_size},mode=0700",
                    f"plantctl-lab-{self.prefix}",
                    str(self.dir),
                ]
            )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release everything (idempotent)."""
        if not self._open:
            return
        try:
            self._stack.close()
        finally:
            cleanup.remove(self.prefix, self.state_root)
            self._open = False

    def defer(self, callback: Callable, *args, **kwargs) -> None:
        """Run `callback` when the lab closes (before what was created earlier)."""
        self._stack.callback(callback, *args, **kwargs)

    # -- resources ---------------------------------------------------------------------------

    def _check(self, name: str) -> str:
        if not self._open:
            raise RuntimeError("use the lab inside its `with` block")
        if not NAME_RE.match(name):
            raise ValueError(f"lab names are lower-case letters, digits and dashes: {name!r}")
        return name

    def full_name(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def namespace(self, name: str) -> Namespace:
        """A new network namespace `<prefix>-<name>`, removed with the lab."""
        ns = Namespace.create(self.full_name(self._check(name)))
        self.defer(ns.delete)
        return ns

    def site_network(self, inv: Inventory, site: str) -> SiteNetwork:
        """Zones of `site` as bridges joined by a router namespace, addressed from the inventory
        (see network.py). Nothing of it is attached to the root namespace."""
        return SiteNetwork.build(inv, self._check(site), self.namespace)

    def machine(
        self,
        name: str,
        netns: Namespace,
        *,
        hostname: str | None = None,
        services: Iterable[str] = (),
        capabilities: Iterable[str] = (),
        files: Mapping[str, File | str] | None = None,
    ) -> Machine:
        """A machine (not yet booted) joined to `netns`; destroyed with the lab.

        services: units to leave unmasked and enabled (e.g. "ssh.service");
        capabilities: extra capabilities (e.g. "CAP_NET_ADMIN" for nftables);
        files: path inside -> File(content, mode, owner) written before boot."""
        self._check(name)
        m = Machine(
            name,
            netns,
            self.dir / "machines" / name,
            machine_name=self.full_name(name),
            hostname=hostname,
            services=services,
            capabilities=capabilities,
            files=files,
        )
        self.defer(m.destroy)
        return m

    def boot(self, *machines: Machine, timeout: float = 180) -> None:
        """Boot machines together and wait until each reports running/degraded."""
        for m in machines:
            m.prepare()
        for m in machines:
            m.boot()
        for m in machines:
            m.wait_running(timeout=timeout)

    def path(self, *parts: str) -> Path:
        """A path in the lab's private state directory (tmpfs, removed with the lab)."""
        p = self.dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p
