"""Hostile edits that got through before (issue 12), one test per numbered finding: each is
refused now, by validation (exit 2 at its line), by a named rule, or by the gate's approvals,
and the renderers refuse what would reach a generated file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from plant_repo import git, sample_repo

from plantctl.collector.config import ConfigError
from plantctl.core.problems import MAX_MESSAGE, InvalidInput
from plantctl.gate import codeowners
from plantctl.model import tokens
from plantctl.model.loader import load
from plantctl.model.sources import GitSource
from plantctl.plant import segmentation
from plantctl.plant.gateway_vars import admins

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"
BIN = Path(sys.executable).parent


def edit(inv: Path, file: str, old: str, new: str) -> None:
    path = inv / file
    text = path.read_text()
    assert text.count(old) == 1, f"{file}: {old!r} must occur once"
    path.write_text(text.replace(old, new))


def line_of(inv: Path, file: str, text: str) -> int:
    lines = (inv / file).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def validate(plantctl, tmp_path: Path):
    run = plantctl("validate", "--inventory", "inventory", "--format", "json", cwd=tmp_path)
    return run, (json.loads(run.out)["problems"] if run.out.strip() else [])


def check(plantctl, tmp_path: Path):
    run = plantctl(
        "check",
        "--inventory",
        "inventory",
        "--policies",
        str(ROOT / "policies"),
        "--now",
        NOW,
        "--format",
        "json",
        cwd=tmp_path,
    )
    return run, json.loads(run.out) if run.out.strip() else {}


# 1. Validation fails open on patterns ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "old", "new", "at"),
    [
        ("access/grants.yaml", "  - id: g-rw-0007\n", '  - id: "g-rw-0007\\n"\n', "g-rw-0007"),
        (
            "org/teams.yaml",
            'handle: "@harrow-mfg/it-network"',
            'handle: "@harrow-mfg/it-network\\n"',
            "@harrow-mfg/it-network",
        ),
        (
            "org/people.yaml",
            "{login: dokafor,",
            '{login: "dokafor\\n",',
            "dokafor",
        ),
    ],
    ids=["grant-id", "team-handle", "login"],
)
def test_a_trailing_newline_in_a_pattern_field_is_invalid(
    sample, tmp_path, plantctl, file, old, new, at
):
    edit(sample, file, old, new)
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2, run.out + run.err
    assert any(
        p["file"] == f"inventory/{file}"
        and p["line"] == line_of(sample, file, at)
        and p["rule"] == "INV-SCHEMA"
        for p in problems
    ), problems


def test_the_fast_validators_refusal_stands_when_the_explainer_finds_nothing(tmp_path):
    """If the two validators ever disagree, the file is invalid: validation fails closed. Draft
    7's `dependencies` is known to fastjsonschema and not to jsonschema's 2020-12 validator."""
    from plantctl.model import schemas
    from plantctl.model.documents import parse

    (tmp_path / "widget.schema.json").write_text(
        json.dumps({"type": "object", "dependencies": {"a": ["b"]}})
    )
    doc = parse("a: 1\n", "widget.yaml")
    [problem] = schemas.validate(doc, "widget", tmp_path)
    assert problem.rule == "INV-SCHEMA" and "dependencies" in problem.message


def test_codeowners_refuses_a_handle_that_is_not_one(sample):
    inv = load(sample)
    team = next(iter(inv.of("team").values()))
    team.data["handle"] = "@harrow-mfg/it-network\n* @evil/owner"
    with pytest.raises(tokens.UnsafeToken):
        codeowners.render(inv)


def test_the_roles_own_assert_refuses_a_login_with_a_newline(tmp_path):
    """The account assert of roles/gateway_base, as Ansible evaluates it."""
    tasks = yaml.safe_load((ROOT / "roles/gateway_base/tasks/validate.yml").read_text())
    expression = tasks[0]["ansible.builtin.assert"]["that"][0]
    assert expression.startswith("item.account is match(")

    def holds(account: str) -> bool:
        proc = subprocess.run(
            [
                str(BIN / "ansible"),
                "localhost",
                "-i",
                "localhost,",
                "-c",
                "local",
                "-m",
                "ansible.builtin.assert",
                "-a",
                json.dumps({"that": [expression]}),
                "-e",
                json.dumps({"item": {"account": account}}),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,  # Ansible's defaults, not the repository's ansible.cfg (Mitogen)
            env={
                **os.environ,
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".ansible"),
                "ANSIBLE_NOCOLOR": "1",
            },
        )
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        return proc.returncode == 0

    assert holds("dokafor")
    assert not holds("dokafor\n")


# 2. Any-port conduits by another spelling -----------------------------------------------------

SERVICE = "services: [{protocol: tcp, port: 8883, name: mqtts}]"


@pytest.mark.parametrize(
    ("spelling", "words"),
    [
        ("{protocol: tcp, port: 1, port_end: 65535, name: mqtts}", "65535 ports, wider than 64"),
        ("{protocol: tcp, port: 443, port_end: 1, name: mqtts}", "runs backwards"),
    ],
    ids=["every-port", "backwards"],
)
def test_a_port_range_that_is_any_port_or_backwards_is_a_violation(
    sample, tmp_path, plantctl, spelling, words
):
    file = "sites/ridgeway/conduits.yaml"
    text = (sample / file).read_text()
    assert SERVICE in text
    (sample / file).write_text(text.replace(SERVICE, f"services: [{spelling}]", 1))
    run, report = check(plantctl, tmp_path)
    assert run.code == 1, run.out + run.err
    found = [f for f in report["violations"] if f["rule"] == "SEG-003"]
    assert found and words in found[0]["message"], report["violations"]
    assert found[0]["line"] == line_of(sample, file, spelling)


def test_the_firewall_renderer_refuses_a_backwards_range(sample):
    inv = load(sample)
    conduit = next(r for r in inv.of("conduit").values() if r.site == "ridgeway")
    conduit.data["services"] = [{"protocol": "tcp", "port": 4840, "port_end": 1}]
    with pytest.raises(tokens.UnsafeToken, match="does not run upwards"):
        segmentation.build(inv, "ridgeway")


def test_port_end_without_port_is_invalid(sample, tmp_path, plantctl):
    file = "sites/ridgeway/conduits.yaml"
    text = (sample / file).read_text()
    (sample / file).write_text(
        text.replace(SERVICE, "services: [{protocol: tcp, port_end: 8883, name: mqtts}]", 1)
    )
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2 and any("port" in p["message"] for p in problems), problems


# 3. Ansible inputs nobody judged --------------------------------------------------------------


def ansible_inventory(inventory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(inventory / "plantctl.ansible.yml"), "--list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_INVENTORY_PLUGINS": str(ROOT / "plugins/inventory"),
            "ANSIBLE_LOCAL_TEMP": str(inventory.parent / ".ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        },
    )


def test_inventory_dir_cannot_point_outside_the_inventory(sample, tmp_path):
    shadow = tmp_path / "shadow"
    shutil.copytree(sample, shadow)
    (sample / "plantctl.ansible.yml").write_text("plugin: plantctl\ninventory_dir: ../shadow\n")
    proc = ansible_inventory(sample)
    assert proc.returncode != 0
    assert "is outside" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def repo(tmp_path) -> Path:
    return sample_repo(tmp_path / "repo")


def gate(plantctl, repo: Path) -> tuple[int, dict]:
    reviews = repo.parent / "reviews.json"
    reviews.write_text("[]")
    run = plantctl(
        "check",
        "--base",
        "main",
        "--head",
        "HEAD",
        "--approvals",
        str(reviews),
        "--author",
        "abello",
        "--now",
        NOW,
        "--format",
        "json",
        cwd=repo,
    )
    return run.code, json.loads(run.out) if run.out.strip() else {"err": run.err}


def commit(repo: Path, message: str) -> None:
    git(repo, "checkout", "-q", "-B", "pr")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def missing_teams(report: dict) -> set[str]:
    return {a["team"] for a in report["approvals"]["required"] if not a["satisfied"]}


def test_repointing_the_ansible_configuration_needs_security_and_audit(repo, plantctl):
    shutil.copytree(repo / "inventory" / "org", repo / "shadow" / "org")
    (repo / "inventory" / "plantctl.ansible.yml").write_text(
        "plugin: plantctl\ninventory_dir: ../shadow\n"
    )
    commit(repo, "re-point ansible")
    code, report = gate(plantctl, repo)
    assert code == 1, report
    assert missing_teams(report) == {"it-security", "audit"}
    needed = {r for a in report["approvals"]["required"] for r in a["rules"]}
    assert needed == {"APR-008"}


def test_weakening_the_schemas_needs_security_and_audit(repo, plantctl):
    path = repo / "inventory" / "schema" / "defs.schema.json"
    schema = json.loads(path.read_text())
    for definition in schema["$defs"].values():
        definition.pop("pattern", None)
    path.write_text(json.dumps(schema, indent=2))
    commit(repo, "drop every pattern")
    code, report = gate(plantctl, repo)
    assert code == 1, report
    assert missing_teams(report) == {"it-security", "audit"}


# 4. Look-alike logins -------------------------------------------------------------------------


def test_a_login_differing_only_in_case_is_a_duplicate(sample, tmp_path, plantctl):
    edit(
        sample,
        "org/people.yaml",
        "  - {login: nfarah,",
        "  - {login: RKessler, name: R Kessler, external: false}\n  - {login: nfarah,",
    )
    edit(sample, "access/grants.yaml", "    person: rkessler\n", "    person: RKessler\n")
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2
    assert any(
        p["rule"] == "INV-DUPID"
        and p["line"] == line_of(sample, "org/people.yaml", "RKessler")
        and "same code-host account as 'rkessler'" in p["message"]
        for p in problems
    ), problems


def test_a_reference_in_another_case_names_the_spelling_to_use(sample, tmp_path, plantctl):
    edit(sample, "access/grants.yaml", "    person: rkessler\n", "    person: RKessler\n")
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2
    assert any(
        p["rule"] == "INV-REF" and "is written 'rkessler'" in p["message"] for p in problems
    ), problems


# 5. Vendors with standing admin ---------------------------------------------------------------


def test_an_external_person_bound_to_an_admin_role_is_a_violation(sample, tmp_path, plantctl):
    # A vendor added to the maintenance team and bound to its admin role, with training.
    edit(sample, "org/teams.yaml", "members: [kito, abello]", "members: [kito, abello, rkessler]")
    edit(
        sample,
        "org/role_bindings.yaml",
        "  - {person: rkessler, role: vendor-technician, site: ridgeway}\n",
        "  - {person: rkessler, role: vendor-technician, site: ridgeway}\n"
        "  - {person: rkessler, role: maintenance-technician, site: ridgeway}\n",
    )
    with (sample / "org/training.yaml").open("a") as out:
        out.write(
            "  - {person: rkessler, role: maintenance-technician, course: Gateway care,"
            " completed: 2026-09-01, expires: 2027-09-01}\n"
        )
    run, report = check(plantctl, tmp_path)
    assert run.code == 1, run.out + run.err
    found = [f for f in report["violations"] if f["rule"] == "RA-014"]
    assert [f["id"] for f in found] == ["rkessler/maintenance-technician/ridgeway"], report
    with pytest.raises(ConfigError, match="external"):
        admins(load(sample), "ridgeway")


# 6. Symlinks followed -------------------------------------------------------------------------


def test_a_symlink_to_a_file_outside_is_refused_and_not_read(sample, tmp_path, plantctl):
    secret = tmp_path / "token.yaml"
    secret.write_text("terms: [{id: x, term: s3cr3t-t0ken, definition: d, agreed_by: [quality]}]\n")
    (sample / "glossary.yaml").unlink()
    (sample / "glossary.yaml").symlink_to(secret)
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2
    assert "s3cr3t" not in run.out + run.err
    assert any(
        p["file"] == "inventory/glossary.yaml" and "symbolic link" in p["message"] for p in problems
    )


def test_a_committed_symlink_is_refused_by_the_git_source(repo):
    (repo / "inventory" / "glossary.yaml").unlink()
    (repo / "inventory" / "glossary.yaml").symlink_to("/etc/passwd")
    commit(repo, "link")
    source = GitSource(repo, "pr")
    assert "glossary.yaml" in source.links() and "glossary.yaml" not in source.files()
    with pytest.raises(InvalidInput) as caught:
        load(source, schema_root=repo / "inventory" / "schema")
    assert "root:" not in str(caught.value)


# 7. Numbers that are not numbers --------------------------------------------------------------


@pytest.mark.parametrize("number", [".nan", ".inf", "1e999"])
def test_a_non_finite_number_is_invalid_at_its_line(sample, tmp_path, plantctl, number):
    file = "sites/ridgeway/collectors.yaml"
    edit(sample, file, "unit: s, interval_s: 10,", f"unit: s, interval_s: {number},")
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2
    assert [p["line"] for p in problems] == [line_of(sample, file, f"interval_s: {number}")]
    facts = plantctl("facts", "--inventory", "inventory", cwd=tmp_path)
    assert facts.code == 2 and facts.out == ""
    checked, _ = check(plantctl, tmp_path)
    assert checked.code == 2


# 8. Messages that echo input ------------------------------------------------------------------


def test_a_huge_value_gives_a_bounded_message(sample, tmp_path, plantctl):
    edit(sample, "access/grants.yaml", "  - id: g-rw-0007\n", f"  - id: {'g' * (5 << 20)}\n")
    run = plantctl("validate", "--inventory", "inventory", cwd=tmp_path)
    assert run.code == 2
    lines = (run.out + run.err).splitlines()
    assert lines and max(map(len, lines)) < MAX_MESSAGE + 200
    assert any("inventory/access/grants.yaml:4:" in line for line in lines)


def test_a_symlinked_schema_is_refused(sample, tmp_path, plantctl):
    weak = tmp_path / "weak.schema.json"
    weak.write_text("{}")
    (sample / "schema" / "people.schema.json").unlink()
    (sample / "schema" / "people.schema.json").symlink_to(weak)
    run, problems = validate(plantctl, tmp_path)
    assert run.code == 2
    assert any("symbolic link" in p["message"] for p in problems), problems
