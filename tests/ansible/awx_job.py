"""AWX's two steps, as AWX runs them through ansible-runner (awx/README.md):

1. the inventory update of a source "sourced from a project": `ansible-inventory --list --export`
   on the project's `inventory/plantctl.ansible.yml`, run in the project folder (its ansible.cfg
   finds the plugin), its output kept (AWX stores it in its database);
2. a job: a private data directory with `env/` (this repository's awx/env plus the job's
   variables), `inventory/hosts` (the stored inventory as the executable script AWX writes) and
   `project` (the checkout), given to ansible-runner's `run()`.

Beside it, `playbook()` runs the same playbook with ansible-playbook and the plugin directly, so a
test can compare the two engines' results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from plantctl.demo.gateways import play_recap

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"


@dataclass
class Converge:
    engine: str  # ansible-runner | ansible-playbook
    seconds: float
    recap: dict[str, dict[str, int]]  # host -> ok, changed, unreachable, failed
    log: Path
    rc: int


def _clean_env() -> None:
    # AWX sets no ANSIBLE_CONFIG: the project's own ansible.cfg (the job's working directory).
    os.environ.pop("ANSIBLE_CONFIG", None)


def inventory_update(work: Path, inventory_dir: Path, envvars: dict[str, str]) -> dict:
    """AWX's sync of a project-sourced inventory: the plugin's hosts, groups and variables."""
    import ansible_runner

    _clean_env()
    pdd = work / "awx-inventory-update"
    shutil.rmtree(pdd, ignore_errors=True)
    (pdd / "env").mkdir(parents=True)
    output = pdd / "artifacts" / "output.json"
    output.parent.mkdir(parents=True)
    source = inventory_dir / "plantctl.ansible.yml"
    out, err, rc = ansible_runner.run_command(
        executable_cmd="ansible-inventory",
        cmdline_args=[
            "--list",
            "--export",
            "-i",
            str(source),
            "--output",
            str(output),
            "--playbook-dir",
            str(source.parent),
        ],
        private_data_dir=str(pdd),
        host_cwd=str(ROOT),
        envvars={**_awx_envvars(), **envvars},
        quiet=True,
    )
    if rc != 0:
        raise RuntimeError(f"inventory update exited {rc}:\n{out}\n{err}")
    return json.loads(output.read_text())


def _awx_envvars() -> dict[str, str]:
    return yaml.safe_load((AWX / "env" / "envvars").read_text()) or {}


def job_dir(work: Path, name: str, inventory: dict, extravars: dict) -> Path:
    """A job's private data directory as AWX lays it out."""
    pdd = work / name
    shutil.rmtree(pdd, ignore_errors=True)
    shutil.copytree(AWX / "env", pdd / "env")
    (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    (pdd / "inventory").mkdir()
    script = pdd / "inventory" / "hosts"
    # AWX's inventory script: the stored inventory printed as JSON.
    script.write_text(
        f"#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint({json.dumps(inventory)!r})\n"
    )
    script.chmod(0o700)
    (pdd / "project").symlink_to(ROOT)
    return pdd


def job(
    pdd: Path,
    playbook: str,
    *,
    user: str,
    limit: list[str],
    envvars: dict[str, str],
    label: str,
    forks: int = 10,
) -> Converge:
    """A job run through ansible-runner's run(), as AWX's task runs it."""
    import ansible_runner

    _clean_env()
    started = time.monotonic()
    r = ansible_runner.run(
        private_data_dir=str(pdd),
        playbook=f"playbooks/{playbook}",
        limit=",".join(limit),
        forks=forks,
        cmdline=f"-u {user}",
        envvars={**_awx_envvars(), **envvars},
        ident=label,
        quiet=True,
    )
    seconds = time.monotonic() - started
    stats = r.stats or {}
    recap = {
        host: {
            "ok": stats.get("ok", {}).get(host, 0),
            "changed": stats.get("changed", {}).get(host, 0),
            "unreachable": stats.get("dark", {}).get(host, 0),
            "failed": stats.get("failures", {}).get(host, 0),
        }
        for host in limit
        if any(host in stats.get(k, {}) for k in ("ok", "changed", "dark", "failures"))
    }
    return Converge("ansible-runner", seconds, recap, pdd / "artifacts" / label / "stdout", r.rc)


def playbook(
    work: Path,
    inventory_dir: Path,
    name: str,
    *,
    user: str,
    limit: list[str],
    envvars: dict[str, str],
    extravars: dict,
    label: str,
) -> Converge:
    """The same playbook with ansible-playbook, the plugin as its inventory, from the root."""
    vars_file = work / f"{label}-vars.json"
    vars_file.write_text(json.dumps(extravars))
    log = work / f"{label}.log"
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), **envvars}
    args = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(inventory_dir / "plantctl.ansible.yml"),
        str(ROOT / "playbooks" / name),
        "--limit",
        ",".join(limit),
        "-u",
        user,
        "-e",
        f"@{vars_file}",
    ]
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.run(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1200, check=False
        )
    seconds = time.monotonic() - started
    recap = play_recap(log.read_text())
    return Converge("ansible-playbook", seconds, recap, log, proc.returncode)
