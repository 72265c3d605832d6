"""Booted Debian machines: `systemd-nspawn -b` over an overlay of the host's root.

The machine's root is an overlayfs: the host's `/` read-only below, a private upper directory on
the lab's tmpfs above, so the machine starts as a copy of this host and nothing it writes reaches
the host. It joins a lab network namespace (`--network-namespace-path`), so its only network is
the lab's. Before boot the overlay gets its own machine id, hostname and (when it runs sshd) SSH
host keys, and units the lab does not need (databases and brokers of the base image, gettys,
housekeeping timers) are masked. `wait_running` returns once `systemctl is-system-running`
answers running or degraded. Commands run inside with `nsenter -t <leader> -a`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from plantctl.lab import process
from plantctl.lab.netns import Namespace

# Always masked (besides every service the host itself enables, see _host_enabled_services).
FIXED_MASK = (
    "console-getty.service",
    "getty@tty1.service",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "man-db.timer",
    "dpkg-db-backup.timer",
    "unattended-upgrades.service",
)
# Clean environment for commands inside a machine.
INSIDE_ENV = (
    "env",
    "-i",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "TERM=dumb",
)


class MachineError(RuntimeError):
    pass


@dataclass(frozen=True)
class File:
    """A file to place in the machine's root before boot."""

    content: str | bytes
    mode: int = 0o644
    owner: str | None = None  # a user name of the base image (resolved on the host: same root)


class Machine:
    """One booted machine. Create with Lab.machine(); boot(), wait_running(), run(), stop()."""

    def __init__(
        self,
        name: str,
        netns: Namespace,
        state_dir: Path,
        *,
        machine_name: str,
        hostname: str | None = None,
        services: Iterable[str] = (),
        capabilities: Iterable[str] = (),
        files: Mapping[str, File | str] | None = None,
        lower: Path = Path("/"),
    ):
        self.name = name
        self.netns = netns
        self.machine_name = machine_name
        self.hostname = hostname or name
        self.services = tuple(services)
        self.capabilities = tuple(capabilities)
        self.files = dict(files or {})
        self.lower = Path(lower)
        self.dir = state_dir
        self.root = state_dir / "root"
        self.log_path = state_dir / "console.log"
        self.boot_seconds: float | None = None
        self._proc: subprocess.Popen | None = None
        self._leader: int | None = None
        self._started = 0.0

    def __repr__(self) -> str:
        return f"Machine({self.name!r}, netns={self.netns.name!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Mount the overlay and write the machine's own identity and files (idempotent)."""
        if self._mounted():
            return
        for sub in ("upper", "work", "root"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        process.run([
            "mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={self.lower},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}",
            str(self.root),
        ])  # fmt: skip
        self._identity()
        self._mask_units()
        for path, spec in self.files.items():
            self.write_file(path, spec if isinstance(spec, File) else File(spec))

    def boot(self) -> None:
        """Start booting (returns at once; see wait_running)."""
        if self._proc is not None:
            return
        self.prepare()
        args = [
            "systemd-nspawn", "--quiet", "--boot",
            f"--directory={self.root}",
            f"--machine={self.machine_name}",
            f"--hostname={self.hostname}",
            "--register=no", "--keep-unit",
            f"--network-namespace-path={self.netns.path}",
            "--console=read-only",
            "--tmpfs=/tmp",
            "--link-journal=no",
        ]  # fmt: skip
        if self.capabilities:
            args.append("--capability=" + ",".join(self.capabilities))
        log = open(self.log_path, "ab")  # noqa: SIM115 (handed to the child, closed below)
        self._started = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        (self.dir / "nspawn.pid").write_text(str(self._proc.pid))

    @property
    def leader(self) -> int:
        """The machine's PID 1 as seen from the host."""
        if self._leader is None:
            assert self._proc is not None, "leader of a machine that was never started"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                self._check_alive()
                for child in process.children(self._proc.pid):
                    if process.comm(child) == "systemd":
                        self._leader = child
                        return child
                time.sleep(0.05)
            raise MachineError(f"{self.name}: no init process appeared; {self.console_tail()}")
        return self._leader

    def wait_running(self, timeout: float = 120) -> str:
        """Wait until systemd reports running or degraded; return that state."""
        self.boot()
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            self._check_alive()
            out = self.run(["systemctl", "is-system-running"], check=False, timeout=10)
            state = out.stdout.strip()
            if state in ("running", "degraded"):
                if self.boot_seconds is None:
                    self.boot_seconds = time.monotonic() - self._started
                return state
            if state in ("stopping", "offline") and out.returncode not in (0, 1):
                break
            time.sleep(0.2)
        raise MachineError(
            f"{self.name}: not running after {timeout:.0f} s (state {state!r}); "
            f"{self.console_tail()}"
        )

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """Run a command inside the machine (all its namespaces, a clean environment)."""
        return process.run(
            ["nsenter", "-t", str(self.leader), "-a", *INSIDE_ENV, *args],
            check=check,
            input=input,
            timeout=timeout,
        )

    def stop(self, timeout: float = 30) -> None:
        """Shut the machine down cleanly (SIGTERM to nspawn powers it off), kill it if it hangs."""
        if self._proc is not None:
            process.terminate(self._proc.pid, timeout=timeout)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None
            self._leader = None

    def destroy(self) -> None:
        """Stop, unmount and delete the machine's root (idempotent)."""
        self.stop()
        if self._mounted():
            process.run(["umount", str(self.root)], check=False)
            if self._mounted():
                process.run(["umount", "-l", str(self.root)], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Machine:
        self.wait_running()
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    # -- files -------------------------------------------------------------------------------

    def path(self, inside: str) -> Path:
        """Where a path inside the machine is on the host (through the overlay)."""
        rel = Path(inside)
        if not rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"machine path must be absolute, without '..': {inside!r}")
        return self.root / rel.relative_to("/")

    def write_file(self, inside: str, spec: File) -> None:
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = spec.content.encode() if isinstance(spec.content, str) else spec.content
        target.unlink(missing_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, spec.mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(target, spec.mode)
        if spec.owner:
            import pwd

            user = pwd.getpwnam(spec.owner)
            os.chown(target, user.pw_uid, user.pw_gid)

    def console_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "no console output"
        return "console: " + " | ".join(text.strip().splitlines()[-lines:])

    # -- internals ---------------------------------------------------------------------------

    def _mounted(self) -> bool:
        target = str(self.root)
        with open("/proc/self/mountinfo") as fh:
            return any(line.split()[4] == target for line in fh)

    def _check_alive(self) -> None:
        if self._proc is None:
            raise MachineError(f"{self.name} is not booted")
        if self._proc.poll() is not None:
            raise MachineError(
                f"{self.name}: systemd-nspawn exited {self._proc.returncode}; {self.console_tail()}"
            )

    def _identity(self) -> None:
        self.write_file("/etc/machine-id", File(secrets.token_hex(16) + "\n", 0o444))
        self.write_file("/etc/hostname", File(self.hostname + "\n"))
        self.write_file(
            "/etc/hosts",
            File(
                f"127.0.0.1\tlocalhost\n127.0.1.1\t{self.hostname}\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
            ),
        )
        if "ssh.service" in self.services:
            for key in self.path("/etc/ssh").glob("ssh_host_*"):
                key.unlink()
            process.run(["ssh-keygen", "-q", "-A", "-f", str(self.root)])

    def _mask_units(self) -> None:
        units = (set(FIXED_MASK) | _host_enabled_services(self.lower)) - set(self.services)
        system = self.path("/etc/systemd/system")
        for unit in sorted(units):
            link = system / unit
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to("/dev/null")
        wants = system / "multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        for unit in self.services:
            link = wants / unit
            if not (link.is_symlink() or link.exists()):
                source = next(
                    (
                        d / unit
                        for d in (
                            self.path("/lib/systemd/system"),
                            self.path("/usr/lib/systemd/system"),
                        )
                        if (d / unit).exists()
                    ),
                    None,
                )
                if source is None:
                    raise MachineError(f"{self.name}: no unit {unit} in the base image")
                link.symlink_to(Path("/") / source.relative_to(self.root))


def _host_enabled_services(lower: Path) -> set[str]:
    """Services the base image starts at boot (a database or broker on the image is not part of
    a lab machine unless asked for)."""
    wants = lower / "etc/systemd/system/multi-user.target.wants"
    if not wants.exists():
        return set()
    return {p.name for p in wants.iterdir() if p.name.endswith(".service")}
