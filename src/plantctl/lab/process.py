"""Running host commands for the lab, and stopping the processes it started.

Commands are argument lists, never shell strings: names from the inventory reach them only as
single arguments.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


class CommandError(RuntimeError):
    """A lab command exited non-zero; carries what it printed."""

    def __init__(self, args: Sequence[str], code: int, stdout: str, stderr: str):
        self.cmd = list(args)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout).strip().splitlines()[-5:]
        super().__init__(f"{' '.join(self.cmd)} exited {code}: " + " | ".join(detail))


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run one command, capture its output as text; raise CommandError on failure if check."""
    proc = subprocess.run(
        list(args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandError(args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def terminate(pid: int, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Ask a process to stop, wait for it, kill it if it does not."""
    for attempt in (sig, signal.SIGKILL):
        try:
            os.kill(pid, attempt)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + (timeout if attempt == sig else 5)
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid):
                return
            time.sleep(0.05)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc, all threads)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
