"""A real code host for the gate's end-to-end tests: Gitea (built by tools/install-gitea.sh), on a
free 127.0.0.1 port in a temporary work path, with SQLite, run as a non-root user (nobody when
the tests run as root), stopped and removed at the end of the session.

`gitea` gives the server: its URL, `user(login)` (made with `gitea admin user create` before the
server starts; every person of the sample plant, some with code-host spelling in mixed case),
and `api(user, method, path, json)` (basic auth, as that user)."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITEA = ROOT / ".tools" / "bin" / "gitea"
SHARE = ROOT / ".tools" / "share" / "gitea"
PASSWORD = "Plantctl-e2e-" + secrets.token_hex(6)
ADMIN = "plant-admin"
# How the code host spells some logins (it compares them without case; so must the gate).
SPELLING = {"dokafor": "DOkafor"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app_ini(work: Path, port: int, run_user: str) -> str:
    return f"""APP_NAME = plantctl e2e
RUN_USER = {run_user}
RUN_MODE = prod
WORK_PATH = {work}

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {port}
ROOT_URL = http://127.0.0.1:{port}/
OFFLINE_MODE = true
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
APP_DATA_PATH = {work}/data

[database]
DB_TYPE = sqlite3
PATH = {work}/data/gitea.db

[security]
INSTALL_LOCK = true
SECRET_KEY = {secrets.token_hex(24)}
INTERNAL_TOKEN = {secrets.token_hex(32)}

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true

[repository]
ROOT = {work}/repos

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = {work}/log

[mailer]
ENABLED = false

[cron]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false
"""


@dataclass
class Gitea:
    url: str
    work: Path
    prefix: list[str]
    env: dict
    users: dict[str, str] = field(default_factory=dict)  # inventory login -> code-host login

    def command(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.prefix, str(GITEA), *args, "--config", str(self.work / "custom/conf/app.ini")],
            cwd=self.work, env=self.env, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip

    def create_user(self, login: str, admin: bool = False) -> None:
        email = f"{login.lower()}@example.invalid"
        args = ["admin", "user", "create", "--username", login, "--password", PASSWORD,
                "--email", email, "--must-change-password=false"]  # fmt: skip
        done = self.command(*args, *(["--admin"] if admin else []))
        assert done.returncode == 0, done.stdout + done.stderr
        self.users[login.lower()] = login

    def login(self, person: str) -> str:
        return self.users[person.lower()]

    def api(self, user: str, method: str, path: str, json=None, ok=(200, 201, 204)):
        answer = requests.request(
            method,
            f"{self.url}/api/v1{path}",
            json=json,
            auth=(self.login(user), PASSWORD),
            timeout=60,
        )
        if ok is not None:
            assert answer.status_code in ok, (method, path, answer.status_code, answer.text)
        return answer

    def git_url(self, user: str, repo: str) -> str:
        host = self.url.removeprefix("http://")
        return f"http://{self.login(user)}:{PASSWORD}@{host}/{repo}.git"


def _people() -> list[str]:
    data = yaml.safe_load((ROOT / "inventory/org/people.yaml").read_text())
    return [p["login"] for p in data["people"]]


@pytest.fixture(scope="session")
def gitea():
    assert GITEA.exists() and (SHARE / ".version").exists(), (
        "no Gitea: make setup builds it (tools/install-gitea.sh)"
    )
    work = Path(tempfile.mkdtemp(prefix="plantctl-gitea-"))
    proc = None
    try:
        # Without the bindata tag Gitea reads its options and templates from its work path.
        for folder in ("options", "templates", "public"):
            shutil.copytree(SHARE / folder, work / folder)
        for folder in ("custom/conf", "data", "log", "home", "repos"):
            (work / folder).mkdir(parents=True)
        port = _free_port()
        if os.geteuid() == 0:  # Gitea refuses root: run it as nobody
            nobody = pwd.getpwnam("nobody")
            prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                      "--clear-groups"]  # fmt: skip
            run_user = nobody.pw_name
        else:
            prefix, run_user = [], pwd.getpwuid(os.geteuid()).pw_name
        (work / "custom/conf/app.ini").write_text(_app_ini(work, port, run_user))
        if prefix:
            subprocess.run(["chown", "-R", f"{run_user}:", str(work)], check=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work / "home"),
            "USER": run_user,
            "GITEA_WORK_DIR": str(work),
        }
        server = Gitea(f"http://127.0.0.1:{port}", work, prefix, env)
        done = server.command("migrate")
        assert done.returncode == 0, done.stdout + done.stderr
        server.create_user(ADMIN, admin=True)
        for login in _people():
            server.create_user(SPELLING.get(login, login))
        log = (work / "log" / "web.out").open("w")
        proc = subprocess.Popen(
            [*prefix, str(GITEA), "web", "--config", str(work / "custom/conf/app.ini")],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (work / "log" / "web.out").read_text()[-3000:]
            try:
                if requests.get(f"{server.url}/api/v1/version", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "Gitea did not answer within 90 s"
            time.sleep(0.2)
        yield server
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)
