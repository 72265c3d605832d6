"""The execution environment (execution-environment.yml, ansible-builder version 3) is the one the
project's lists give (tools/execution_environment.py), `ansible-builder create` turns it into a
build context, and that context holds what the roles and plugins need on the controller; the
AWX project layout (awx/) and inventory source work as AWX uses them."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "execution_environment.py"


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line:
            name, version = line.strip().split("==", 1)
            pins[canonicalize_name(name)] = version
    return pins


def pinned(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", line
        out[canonicalize_name(req.name)] = spec.version
    return out


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    """`ansible-builder create` of the repository's definition (no container engine needed)."""
    out = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ansible_builder",
            "create",
            "-f",
            "execution-environment.yml",
            "-c",
            str(out),
            "--output-filename",
            "Containerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_the_definition_is_the_one_the_project_lists_give():
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_a_stale_definition_is_reported(tmp_path):
    for name in ("requirements.lock", "pyproject.toml", "ansible.cfg", "execution-environment.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("roles", "playbooks"):
        shutil.copytree(ROOT / name, tmp_path / name)
    lock_text = (tmp_path / "requirements.lock").read_text()
    (tmp_path / "requirements.lock").write_text(
        re.sub(r"(?m)^mitogen==.*$", "mitogen==0.3.53", lock_text)
    )
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--check", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "--write" in proc.stderr


def test_a_collection_galaxy_cannot_give_is_refused_with_where_it_is_used(tmp_path):
    for name in ("requirements.lock", "pyproject.toml", "ansible.cfg"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("roles", "playbooks"):
        shutil.copytree(ROOT / name, tmp_path / name)
    tasks = tmp_path / "roles/gateway_firewall/tasks/main.yml"
    tasks.write_text(
        tasks.read_text() + "\n- name: A firewall rule\n  community.general.ufw:\n    rule: allow\n"
    )
    line = tasks.read_text().splitlines().index("  community.general.ufw:") + 1
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--write", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"roles/gateway_firewall/tasks/main.yml:{line}" in proc.stderr
    assert "community.general" in proc.stderr and "Galaxy" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "execution-environment.yml").exists()


def test_the_context_installs_the_engine_at_the_locked_versions(context):
    pins = lock()
    containerfile = (context / "Containerfile").read_text()
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M)[1].split()
    assert pinned(refs) == {
        "ansible-core": pins["ansible-core"],
        "ansible-runner": pins["ansible-runner"],
    }
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile  # the lock's Python


def test_the_context_holds_the_python_packages_the_controller_imports(context):
    pins = lock()
    lines = [
        line.split("#")[0].strip()
        for line in (context / "_build/requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    wanted = pinned(lines)
    # every one at the lock's version
    assert {name: pins.get(name) for name in wanted} == wanted
    # ansible.cfg's strategy is Mitogen's: plugins/strategy/mitogen_linear.py imports it
    assert "mitogen" in wanted
    assert "import ansible_mitogen" in (ROOT / "plugins/strategy/mitogen_linear.py").read_text()
    # the inventory plugin loads the inventory with plantctl: its runtime dependencies
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        assert canonicalize_name(Requirement(dep).name) in wanted, dep
    # closed: whatever a listed package requires (on Linux, Python 3.11) is listed too, so pip
    # in the image picks no version by itself
    engine = {"ansible-core", "ansible-runner"}
    env = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
    for name in sorted(wanted.keys() | engine):
        for text in importlib.metadata.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({**env, "extra": ""}):
                continue
            assert canonicalize_name(req.name) in wanted.keys() | engine, f"{name} -> {req}"


def test_the_context_installs_plantctl_for_the_inventory_plugin(context):
    build = context / "_build/plantctl"
    assert (build / "pyproject.toml").read_text() == (ROOT / "pyproject.toml").read_text()
    assert (build / "README.md").exists()
    assert (build / "src/plantctl/model/loader.py").read_text() == (
        ROOT / "src/plantctl/model/loader.py"
    ).read_text()
    containerfile = (context / "Containerfile").read_text()
    final = containerfile[containerfile.index("FROM base AS final") :]
    assert "COPY _build/plantctl /tmp/plantctl" in final
    assert "$PYCMD -m pip install --no-deps --no-cache-dir /tmp/plantctl" in final
    assert "from plantctl" in (ROOT / "plugins/inventory/plantctl.py").read_text()


def test_the_context_holds_the_system_packages_of_the_controller(context):
    bindep = (context / "_build/bindep.txt").read_text().splitlines()
    # ssh: the connection through the bastion; openssl: the collector role's pipe lookup
    assert "openssh-clients [platform:rpm]" in bindep
    assert "openssl [platform:rpm]" in bindep
    collector_vars = (ROOT / "roles/collector/vars/main.yml").read_text()
    pipes = re.findall(r"lookup\('ansible\.builtin\.pipe', '(\S+)", collector_vars)
    assert pipes == ["openssl"]
    # the Debian names are real packages: bindep finds them all installed on this host
    proc = subprocess.run(
        [sys.executable, "-m", "bindep", "-f", str(context / "_build/bindep.txt"), "-b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"missing here: {proc.stdout}"


def test_the_roles_need_no_collection_beyond_ansible_builtin(context):
    used = set()
    for path in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/*.yml")]:
        used |= set(re.findall(r"\b([a-z_]+\.[a-z_]+)\.[a-z_]+:", path.read_text()))
    assert used == {"ansible.builtin"}
    assert not (context / "_build/requirements.yml").exists()
    assert "ansible-galaxy collection install" not in (context / "Containerfile").read_text()


def ansible_inventory(args: list[str], env: dict[str, str], cwd: Path) -> dict:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_inventory_source_syncs_and_feeds_a_job_as_in_awx(tmp_path):
    """AWX's inventory update (ansible-inventory --export through ansible-runner, in the
    project folder) and the job's inventory script it writes from it list the same hosts,
    groups and variables as the plugin itself, inventory text still marked unsafe."""
    sys.path.insert(0, str(Path(__file__).parent))
    import awx_job

    env = {"ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_NOCOLOR": "1"}
    synced = awx_job.inventory_update(tmp_path, ROOT / "inventory", env)
    pdd = awx_job.job_dir(tmp_path, "job", synced, extravars={})
    run_env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"} | env
    # the job: run in the project (its ansible.cfg), the inventory folder AWX wrote
    via_job = ansible_inventory(["-i", str(pdd / "inventory"), "--list"], run_env, pdd / "project")
    direct = ansible_inventory(["-i", "inventory/plantctl.ansible.yml", "--list"], run_env, ROOT)
    assert via_job == direct
    assert via_job["_meta"]["hostvars"]["gw-rw-01"]["ansible_host"] == {
        "__ansible_unsafe": "10.20.20.21"
    }
    assert set(via_job["collector_hosts"]["hosts"]) == {"gw-rw-01", "gw-rw-02", "gw-rw-03"}
