"""The execution environment (ansible-builder version 3) that AWX or AAP runs the playbooks in,
written from the project's own lists, never by hand:

- Python packages: what the controller side imports (plantctl's runtime dependencies, for the
  inventory plugin's loader; mitogen, for ansible.cfg's strategy; ansible-core, ansible-runner)
  and everything they require, each at the version of requirements.lock;
- collections: every FQCN namespace the roles and playbooks use besides ansible.builtin (none
  today; Galaxy is not reachable here, so a new one is refused with where it is used);
- system packages: the programs the controller runs for the roles (ssh, the connection; every
  `pipe` lookup's command), by their RPM (the base image) and Debian names;
- plantctl itself, from this tree's source, installed without dependencies in the last stage.

    python tools/execution_environment.py --write    # execution-environment.yml
    python tools/execution_environment.py --check    # exit 1 when it is not what --write writes

Exit 2 (with the file:line) when the roles need something the definition cannot provide.
"""

from __future__ import annotations

import argparse
import configparser
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = "execution-environment.yml"
BASE_IMAGE = "quay.io/centos/centos:stream9"
# The lock is resolved for Python 3.11 (make setup's venv): the image's interpreter is the same.
PYTHON = ("python3.11", "/usr/bin/python3.11")
ENGINE = ("ansible-core", "ansible-runner")  # their own keys in the definition
# Programs the controller runs for the roles -> (RPM package, Debian package).
PROGRAM_PACKAGES = {
    "ssh": ("openssh-clients", "openssh-client"),
    "openssl": ("openssl", "openssl"),
}
BUILTIN_COLLECTIONS = {"ansible.builtin", "ansible.legacy"}
FQCN_KEY = re.compile(r"^\s*(?:-\s+)?([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*:", re.M)
FQCN_CALL = re.compile(r"(?:lookup|query)\(\s*['\"]([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z0-9_]+")
FQCN_FILTER = re.compile(r"\|\s*([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z0-9_]+")
PIPE = re.compile(r"lookup\(\s*['\"](?:ansible\.builtin\.)?pipe['\"]\s*,\s*['\"]\s*([^\s'\"]+)")


class Refused(Exception):
    """The roles need something the definition cannot provide (message says where and why)."""


@dataclass
class Needs:
    collections: dict[str, str] = field(default_factory=dict)  # name -> first file:line
    programs: dict[str, str] = field(default_factory=dict)  # program -> why (file:line)


def read_lock(root: Path) -> dict[str, tuple[str, str]]:
    """canonical name -> (name as locked, version)."""
    pins = {}
    for line in (root / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (part.strip() for part in line.split("==", 1))
            pins[canonicalize_name(name)] = (name, version.split(";", 1)[0].strip())
    return pins


def strategy_packages(root: Path) -> list[str]:
    """mitogen when ansible.cfg's strategy is one of Mitogen's (plugins/strategy)."""
    cfg = configparser.ConfigParser()
    cfg.read(root / "ansible.cfg")
    return ["mitogen"] if cfg.get("defaults", "strategy", fallback="").startswith("mitogen") else []


def python_roots(root: Path) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *strategy_packages(root), *ENGINE]


def closure(roots: list[str], pins: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Every package the roots require (markers evaluated as on the image: Linux, Python 3.11),
    canonical name -> locked version; their metadata comes from the venv made from the lock."""
    env = {
        "python_version": "3.11",
        "python_full_version": "3.11.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_machine": "x86_64",
    }
    found: dict[str, str] = {}
    todo = [(Requirement(r), frozenset()) for r in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(req.extras)) in seen:
            continue
        seen.add((name, frozenset(req.extras)))
        if name not in pins:
            raise Refused(
                f"requirements.lock: {req.name} (required for the execution "
                "environment) is not locked; add it to the lock"
            )
        found[name] = pins[name][1]
        try:
            requires = importlib.metadata.distribution(req.name).requires or []
        except importlib.metadata.PackageNotFoundError:
            raise Refused(
                f"{req.name} {pins[name][1]} is locked but not installed in this Python "
                f"({sys.prefix}); its requirements come from its metadata: run make setup"
            ) from None
        for text in requires:
            sub = Requirement(text)
            extras = ["", *sorted(req.extras)]
            if sub.marker and not any(sub.marker.evaluate({**env, "extra": e}) for e in extras):
                continue
            todo.append((sub, frozenset(sub.extras)))
    return found


def role_needs(root: Path) -> Needs:
    needs = Needs(programs={"ssh": "ansible.cfg: the ssh connection (through the bastion)"})
    files = sorted((root / "roles").rglob("*.yml")) + sorted((root / "playbooks").glob("*.yml"))
    for path in files:
        text = path.read_text()
        for pattern in (FQCN_KEY, FQCN_CALL, FQCN_FILTER):
            for m in pattern.finditer(text):
                where = f"{path.relative_to(root)}:{text.count(chr(10), 0, m.start(1)) + 1}"
                if m[1] not in BUILTIN_COLLECTIONS:
                    needs.collections.setdefault(m[1], where)
        for m in PIPE.finditer(text):
            where = f"{path.relative_to(root)}:{text.count(chr(10), 0, m.start(1)) + 1}"
            needs.programs.setdefault(m[1], f"{where}: a pipe lookup runs it on the controller")
    for name, where in needs.collections.items():
        raise Refused(
            f"{where}: collection {name} is not in ansible-core and Ansible Galaxy is "
            "not reachable here; use ansible.builtin, or vendor the collection and "
            "list it in tools/execution_environment.py"
        )
    for program, why in needs.programs.items():
        if program not in PROGRAM_PACKAGES:
            raise Refused(
                f"{why.split(': ')[0]}: the controller runs {program!r}; name its "
                "packages in PROGRAM_PACKAGES of tools/execution_environment.py"
            )
    return needs


def render(root: Path) -> str:
    pins = read_lock(root)
    packages = closure(python_roots(root), pins)
    needs = role_needs(root)
    python = "\n".join(
        f"    - {pins[name][0]}=={version}"
        for name, version in sorted(packages.items())
        if name not in ENGINE
    )
    system = "\n".join(
        f"    - {rpm} [platform:rpm]  # {why}\n    - {deb} [platform:dpkg]"
        for program, why in sorted(needs.programs.items())
        for rpm, deb in [PROGRAM_PACKAGES[program]]
    )
    return f"""\
# The execution environment AWX / Ansible Automation Platform runs the playbooks in.
# Generated by tools/execution_environment.py from requirements.lock, pyproject.toml, ansible.cfg
# and the roles: edit those and run `python tools/execution_environment.py --write`; `make lint`
# checks it and runs `ansible-builder create` on it.
# Collections: none besides ansible.builtin (ansible-core): the roles use no other.
version: 3
images:
  base_image:
    name: {BASE_IMAGE}
dependencies:
  python_interpreter:
    package_system: {PYTHON[0]}
    python_path: {PYTHON[1]}
  ansible_core:
    package_pip: ansible-core=={packages["ansible-core"]}
  ansible_runner:
    package_pip: ansible-runner=={packages["ansible-runner"]}
  # plantctl's runtime dependencies (the inventory plugin loads the inventory with plantctl),
  # mitogen (ansible.cfg's strategy) and all they require, at the lock's versions.
  python:
{python}
  system:
{system}
# plantctl from this tree's source, for the inventory plugin (plugins/inventory/plantctl.py).
additional_build_files:
  - src: pyproject.toml
    dest: plantctl
  - src: README.md
    dest: plantctl
  - src: src/plantctl
    dest: plantctl/src/plantctl
additional_build_steps:
  append_final:
    - COPY _build/plantctl /tmp/plantctl
    - RUN $PYCMD -m pip install --no-deps --no-cache-dir /tmp/plantctl && rm -rf /tmp/plantctl
options:
  package_manager_path: /usr/bin/dnf
  tags:
    - plantctl-ee:latest
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"write {OUTPUT}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 if {OUTPUT} is stale")
    ap.add_argument("--root", type=Path, default=ROOT, help="the project (default this one)")
    args = ap.parse_args(argv)
    try:
        text = render(args.root)
    except Refused as exc:
        print(f"execution environment: {exc}", file=sys.stderr)
        return 2
    path = args.root / OUTPUT
    if args.write:
        path.write_text(text)
        return 0
    if not path.exists() or path.read_text() != text:
        print(
            f"{OUTPUT} is not what the project's lists give: run "
            "`python tools/execution_environment.py --write`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
