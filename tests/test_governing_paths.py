"""The one list of governing paths (APR-008 in policies/approvals/approvals.rego) against this
repository's own tree: every file is inventory data, prose, or governing, so a new top-level
folder needs IT security and audit until it is named; CODEOWNERS asks the same teams."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from plantctl.gate import codeowners
from plantctl.model.loader import load

ROOT = Path(__file__).resolve().parents[1]
NEW_FOLDER = "a-folder-nobody-named-yet/run.sh"


def tracked() -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True
    ).stdout
    return sorted(p for p in out.decode().split("\0") if p)


@pytest.fixture(scope="module")
def governing() -> set[str]:
    """The paths the real policy calls governing, in one `opa eval`."""
    opa = shutil.which("opa") or str(ROOT / ".tools/bin/opa")
    paths = [*tracked(), NEW_FOLDER]
    proc = subprocess.run(
        [
            opa,
            "eval",
            "--format",
            "raw",
            "--data",
            str(ROOT / "policies"),
            "--stdin-input",
            "json.marshal([p | some p in input.paths; data.plant.approvals.governing(p)])",
        ],
        input=json.dumps({"paths": paths}),
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(proc.stdout))


def test_every_file_outside_inventory_data_and_prose_governs(governing):
    data_files = set(load(ROOT / "inventory").documents)
    for path in tracked():
        if path in data_files:
            assert path not in governing, f"{path} is inventory data"
        elif path.startswith("docs/") or path in ("README.md",):
            assert path not in governing, f"{path} is prose"
        else:
            assert path in governing, f"{path} changes without IT security and audit"
    assert NEW_FOLDER in governing


@pytest.mark.parametrize(
    "path",
    [
        "inventory/schema/defs.schema.json",
        "inventory/plantctl.ansible.yml",
        "plugins/inventory/plantctl.py",
        "playbooks/site.yml",
        "ansible.cfg",
        ".github/CODEOWNERS",
        "Makefile",
    ],
)
def test_what_the_hostile_review_found_unguarded_now_governs(governing, path):
    assert path in tracked() and path in governing


def _owners(rows: list[tuple[str, list[str]]], path: str) -> list[str]:
    """The owners of `path` by CODEOWNERS rules: the last matching row wins."""
    found: list[str] = []
    for pattern, owners in rows:
        if (
            pattern == "*"
            or (pattern.endswith("/") and ("/" + path).startswith(pattern))
            or pattern == "/" + path
        ):
            found = owners
    return found


def test_codeowners_asks_security_and_audit_exactly_for_governing_files(governing):
    inv = load(ROOT / "inventory")
    rows = [
        (line.split()[0], line.split()[1:])
        for line in codeowners.render(inv).splitlines()
        if line and not line.startswith("#")
    ]
    gate = {"@harrow-mfg/it-security", "@harrow-mfg/audit"}
    for path in [*tracked(), NEW_FOLDER]:
        owners = set(_owners(rows, path))
        assert (owners == gate) == (path in governing), (path, owners)
