"""A shared Pulumi state backend for many site stacks: Debian's PostgreSQL, run for the lab.

A plant group keeps one stack per site in one self-managed backend, so that every site's state
is in one place, backed up once, and locked per stack (two `up` of one stack never interleave).
The Pulumi CLI built here takes `postgres://user:password@host:port/database` as its backend
URL (its diy backend: one table of state blobs, and lock entries per stack). This module starts a
throwaway PostgreSQL cluster for that: its own data folder, loopback only, a password made for
the run (scram-sha-256, never written anywhere but the cluster), stopped and removed at exit.
Production points PULUMI_BACKEND_URL at the group's own server instead (docs/scale.md).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

DATABASE = "pulumi"
USER = "plant"
SERVER_USER = "postgres"  # PostgreSQL refuses to run as root; Debian's package makes this user


class BackendUnavailable(RuntimeError):
    """PostgreSQL is not installed or did not start (its own words are in the message)."""


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in versions:
        if (folder / name).exists():
            return str(folder / name)
    raise BackendUnavailable(f"{name} not found: install Debian's postgresql (make setup)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresState:
    """`with PostgresState(folder) as url:` a running server and the backend URL to log in to."""

    def __init__(self, folder: Path | None = None):
        self._own = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="plantctl-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.password = secrets.token_urlsafe(18)
        self.url = (
            f"postgres://{USER}:{quote(self.password)}@127.0.0.1:{self.port}/{DATABASE}"
            "?sslmode=disable"
        )
        self._as: list[str] = []

    def _run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*self._as, *args], input=stdin, capture_output=True, text=True, timeout=120,
            check=False, cwd=self.folder,
        )  # fmt: skip
        if done.returncode != 0:
            words = (done.stderr or done.stdout).strip()[-400:]
            raise BackendUnavailable(f"{Path(args[0]).name} failed: {words}")
        return done

    def __enter__(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", SERVER_USER, "--"]
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        secret = self.folder / "pw"
        secret.write_text(self.password + "\n")
        secret.chmod(0o600)
        if self._as:
            os.chown(secret, pwd.getpwnam(SERVER_USER).pw_uid, -1)
        try:
            self._run(
                _bin("initdb"), "-D", str(self.data), "-U", USER, "-A", "scram-sha-256",
                f"--pwfile={secret}", "--no-sync",
            )  # fmt: skip
        finally:
            secret.unlink(missing_ok=True)
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.folder / "server.log"), "-w", "start",
        )  # fmt: skip
        env = {**os.environ, "PGPASSWORD": self.password}
        created = subprocess.run(
            [_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        if created.returncode != 0:
            self.__exit__(None, None, None)
            raise BackendUnavailable(f"createdb failed: {created.stderr.strip()[-400:]}")
        return self.url

    def query(self, sql: str) -> list[str]:
        """Rows of one SQL query, one line each (psql -At), as the backend's user."""
        done = subprocess.run(
            [_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", DATABASE,
             "-At", "-c", sql],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PGPASSWORD": self.password},
        )  # fmt: skip
        if done.returncode != 0:
            raise BackendUnavailable(f"psql failed: {done.stderr.strip()[-400:]}")
        return [line for line in done.stdout.splitlines() if line]

    def __exit__(self, *exc: object) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as, _bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=60, check=False, cwd=self.folder,
            )  # fmt: skip
        if self._own:
            shutil.rmtree(self.folder, ignore_errors=True)
