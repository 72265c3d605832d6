"""Facts written once: where a copy must exist (Rego, the README, a workflow), it is compared with
its one source here, and each comparison is shown to fail on a deliberately drifted copy.

- exit codes: src/plantctl/core/problems.py (EXIT_MEANINGS) -> the CLI's help, the README's
  command table, the gate workflow's commit status;
- the eleven responsibilities: inventory/schema/defs.schema.json ($defs.responsibility) ->
  src/plantctl/model/ownership.py, policies/ownership/ownership.rego (allowed_kinds),
  policies/lib/fixture.rego (responsibilities, defaults).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from plantctl.core import problems
from plantctl.gate.engine import opa_binary

ROOT = Path(__file__).resolve().parents[1]


# -- exit codes --------------------------------------------------------------------------------


def exit_code_drift(root: Path) -> list[str]:
    found = []
    meanings = problems.EXIT_MEANINGS
    readme = (root / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `plantctl ")]
    assert table, "the README has no command table"
    for row in table:
        codes = row.rstrip(" |").rsplit("|", 1)[1]
        for code in re.findall(r"\b(\d+)\b", codes):
            if int(code) not in meanings:
                found.append(f"README: exit {code} is not defined in core/problems.py: {row[:60]}")
    (check_row,) = [row for row in table if row.startswith("| `plantctl check ")]
    stated = check_row.rstrip(" |").rsplit("|", 1)[1]
    for code, meaning in meanings.items():
        if not re.search(rf"\b{code} {re.escape(meaning)}", stated):
            found.append(f"README: plantctl check does not say '{code} {meaning}'")
    workflow = (root / ".github/workflows/gate.yml").read_text()
    statuses = dict(re.findall(r'^\s*(\d)\) state=\w+ description="([^"]+)"', workflow, re.M))
    for code, description in statuses.items():
        if meanings.get(int(code), "\0") not in description:
            found.append(f"gate.yml: exit {code} described as {description!r}")
    if "|| echo 3)" not in workflow or meanings[3] != "policy engine unavailable":
        found.append("gate.yml: no exit code is not read as 'policy engine unavailable' (3)")
    return found


def test_exit_codes_are_defined_once():
    assert exit_code_drift(ROOT) == []


def test_the_cli_help_states_the_exit_codes_of_the_definition(capsys):
    from plantctl.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert problems.exits(0, 1, 2, 3) in out
    assert "exit 0 pass, 1 violations, 2 invalid input, 3 policy engine unavailable" in out


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        (
            "README.md",
            "2 invalid input, 3 policy engine unavailable, 4 policy bundle refused",
            "2 invalid input, 3 engine down, 4 policy bundle refused",
            "does not say '3 policy engine unavailable'",
        ),
        ("README.md", "| 0, 1 drift |", "| 0, 1 drift, 7 |", "exit 7 is not defined"),
        (
            ".github/workflows/gate.yml",
            'description="invalid input"',
            'description="bad data"',
            "exit 2 described as 'bad data'",
        ),
    ],
)
def test_a_drifted_exit_code_copy_is_found(tmp_path, path, old, new, expected):
    for name in ("README.md", ".github/workflows/gate.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    text = (tmp_path / path).read_text()
    assert old in text
    (tmp_path / path).write_text(text.replace(old, new, 1))
    assert any(expected in f for f in exit_code_drift(tmp_path))


# -- the eleven responsibilities ---------------------------------------------------------------


def opa_value(policies: Path, query: str):
    done = subprocess.run(
        [opa_binary(), "eval", "--format", "json", "-d", str(policies), query],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)["result"][0]["expressions"][0]["value"]


def responsibility_drift(root: Path) -> list[str]:
    defs = json.loads((root / "inventory/schema/defs.schema.json").read_text())
    source = defs["$defs"]["responsibility"]["enum"]
    policies = root / "policies"
    copies = {
        "model/ownership.py RESPONSIBILITIES": list(_python_tuple(root)),
        "ownership.rego allowed_kinds": sorted(
            opa_value(policies, "data.plant.ownership.allowed_kinds")
        ),
        "fixture.rego responsibilities": opa_value(
            policies, "data.plant.lib.fixture.responsibilities"
        ),
        "fixture.rego defaults": sorted(opa_value(policies, "data.plant.lib.fixture.defaults")),
    }
    found = []
    for where, value in copies.items():
        want = (
            source
            if "RESPONSIBILITIES" in where or where.endswith("responsibilities")
            else sorted(source)
        )
        if value != want:
            found.append(
                f"{where} differs from defs.schema.json: {sorted(set(value) ^ set(source))}"
            )
    return found


def _python_tuple(root: Path) -> tuple[str, ...]:
    text = (root / "src/plantctl/model/ownership.py").read_text()
    body = text.split("RESPONSIBILITIES = (", 1)[1].split(")", 1)[0]
    return tuple(re.findall(r'"([^"]+)"', body))


def test_the_responsibilities_are_the_schemas():
    from plantctl.model.ownership import RESPONSIBILITIES

    assert _python_tuple(ROOT) == RESPONSIBILITIES
    assert responsibility_drift(ROOT) == []


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("src/plantctl/model/ownership.py", '"data-accuracy",', '"data-quality",'),
        (
            "policies/ownership/ownership.rego",
            '"training": {"management"',
            '"trainings": {"management"',
        ),
        ("policies/lib/fixture.rego", '"training", "data-accuracy",', '"training",'),
        (
            "inventory/schema/defs.schema.json",
            '"change-approvals"\n',
            '"change-approvals",\n"safety"\n',
        ),
    ],
)
def test_a_drifted_responsibility_copy_is_found(tmp_path, path, old, new):
    for name in ("inventory/schema", "policies"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "src/plantctl/model").mkdir(parents=True)
    shutil.copy(ROOT / "src/plantctl/model/ownership.py", tmp_path / "src/plantctl/model")
    target = tmp_path / path
    text = target.read_text()
    assert old in text, (path, old)
    target.write_text(text.replace(old, new, 1))
    assert responsibility_drift(tmp_path) != []
