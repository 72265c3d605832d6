"""The one reader of rule METADATA (plantctl.gate.rules) and its schema: it finds every rule of
the policies/README.md table, refuses METADATA that breaks the schema at the rule's file:line
(exit 2), and the copies of the severities that must stay in Rego agree with the schema's enum."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plantctl.core.problems import InvalidInput
from plantctl.gate import rules
from plantctl.gate.engine import opa_binary

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
TABLE_ROW = re.compile(r"^\| ([A-Z]+-\d{3}) \|", re.M)
# A Python list or tuple of two or more severities written out (a copy of the schema's enum).
SEVERITY_LIST = re.compile(
    r"""["'](?:critical|high|medium|low)["']\s*,\s*["'](?:high|medium|low)["']"""
)


@pytest.fixture(scope="module")
def read() -> list[rules.Rule]:
    return rules.read(POLICIES, ROOT)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(POLICIES, tmp_path / "policies")
    return tmp_path / "policies"


def test_the_reader_returns_every_rule_of_the_readme_table(read):
    table = TABLE_ROW.findall((POLICIES / "README.md").read_text())
    assert len(table) == len(set(table)) > 50
    assert {r.id for r in read} == set(table)
    assert len(read) == len(table)  # no id twice
    seg = next(r for r in read if r.id == "SEG-003")
    assert (seg.package, seg.name, seg.file) == (
        "plant.segmentation",
        "deny",
        "policies/segmentation/segmentation.rego",
    )
    # the line is the rule's head, its METADATA the comment block just above
    head = (ROOT / seg.file).read_text().splitlines()[seg.line - 1]
    assert head.startswith("deny contains"), head
    assert seg.severity in rules.severities() and seg.iec62443 and seg.principle[0] in "1234567"


def _break(policies: Path, rule: rules.Rule, key: str, value: str) -> None:
    """Set custom.<key> of the rule's METADATA (the comment block above its head) to value."""
    path = policies.parent / rule.file
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i in range(rule.line - 2, -1, -1) if lines[i].startswith(f"#   {key}:"))
    lines[at] = f"#   {key}: {value}\n"
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("severity", "hihg", "'hihg' is not one of ['critical', 'high', 'medium', 'low']"),
        ("principle", "8 Move fast", "'8 Move fast' is not one of"),
        ("principle", "4 Balance speed", "'4 Balance speed' is not one of"),
        ("iec62443", '["SR5.1"]', "custom.iec62443.0: 'SR5.1' does not match"),
        ("id", "own-1", "custom.id: 'own-1' does not match"),
    ],
)
def test_metadata_that_breaks_the_schema_is_refused_at_its_rule(tmp_path, read, key, value, said):
    rule = next(r for r in read if r.id == "OWN-002")
    _break(_copy(tmp_path), rule, key, value)
    with pytest.raises(InvalidInput) as caught:
        rules.read(tmp_path / "policies", tmp_path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.rule) == (rule.file, rule.line, "POL-META")
    assert said in problem.message, problem.message
    assert str(problem).startswith(f"{rule.file}:{rule.line}:")


def test_an_unknown_custom_key_and_a_second_use_of_an_id_are_refused(tmp_path, read):
    policies = _copy(tmp_path)
    first, second, third = (
        next(r for r in read if r.id == i) for i in ("OWN-001", "OWN-002", "OWN-003")
    )
    assert first.file == second.file == third.file and first.line < second.line < third.line
    _break(policies, first, "severity", "high\n#   severty: high")  # one line more: heads move
    _break(policies, second, "id", "OWN-003")
    with pytest.raises(InvalidInput) as caught:
        rules.read(policies, tmp_path)
    said = [str(p) for p in caught.value.problems]
    assert len(said) == 2, said
    assert said[0].startswith(f"{first.file}:{first.line + 1}:1: OWN-001: custom: ")
    assert "'severty' was unexpected" in said[0]
    assert said[1] == (
        f"{third.file}:{third.line + 1}:1: rule id OWN-003 is also used at "
        f"{second.file}:{second.line + 1} [POL-META]"
    )


def test_policy_table_and_audit_refuse_it_with_exit_2(tmp_path, read):
    rule = next(r for r in read if r.id == "OWN-002")
    policies = _copy(tmp_path)
    _break(policies, rule, "severity", "hihg")
    table = [sys.executable, str(ROOT / "tools/policy_table.py"), "--policies", str(policies)]
    done = subprocess.run(
        [*table, "--check", str(policies / "README.md")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{policies / 'ownership/ownership.rego'}:{rule.line}:" in done.stderr
    assert "'hihg' is not one of" in done.stderr
    out = tmp_path / "audit"
    audit = [str(ROOT / ".venv/bin/plantctl"), "audit", "--policies", str(policies)]
    done = subprocess.run(
        [*audit, "--now", "2026-11-22T12:00:00Z", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"ownership/ownership.rego:{rule.line}:1: OWN-002: custom.severity" in done.stderr
    assert not (out / "evidence.json").exists()


# -- the copies of the severities -------------------------------------------------------------


def _eval(policies: Path, query: str):
    done = subprocess.run(
        [opa_binary(), "eval", "--format", "json", "--data", str(policies), "--stdin-input", query],
        input="{}",
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["result"][0]["expressions"][0]["value"]


def severity_drift(policies: Path) -> list[str]:
    """Where the Rego copies of the severities disagree with the schema's enum. They stay in
    Rego because the policies cannot read the schema: lib/violation.rego ranks results by
    severity; decision.rego and waivers/waivers.rego count violations by severity."""
    enum = list(rules.severities())
    drift = []
    rank = _eval(policies, "data.plant.lib.violation.severity_rank")
    if sorted(rank, key=rank.get) != enum or sorted(rank.values()) != list(range(len(enum))):
        drift.append(f"lib/violation.rego severity_rank {rank} is not the enum in order {enum}")
    # Counted: the severities of the rules the decision gathers (every domain); the severities
    # only the plan checks (policies/plan) use are not, as plans are judged apart.
    found = rules.read(policies, policies.parent)
    plan = {r.severity for r in found if r.package == "plant.plan"}
    domains = {r.severity for r in found if r.package != "plant.plan"}
    counted = [s for s in enum if s not in plan - domains]
    for where, query in (
        ("decision.rego", "data.plant.decision.counts.by_severity"),
        ("waivers/waivers.rego", "data.plant.waivers.counts.by_severity"),
    ):
        keys = sorted(_eval(policies, query))
        if keys != sorted(counted):
            drift.append(f"{where} counts by_severity {keys}, the schema's enum wants {counted}")
    return drift


def test_the_rego_copies_of_the_severities_equal_the_schema_enum():
    assert severity_drift(POLICIES) == []


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("lib/violation.rego", '"low": 3}', '"minor": 3}'),
        ("lib/violation.rego", '"high": 1, "medium": 2', '"high": 2, "medium": 1'),
        ("decision.rego", '["high", "medium", "low"]', '["high", "medium"]'),
        ("waivers/waivers.rego", '["high", "medium", "low"]', '["high", "medium", "lo"]'),
    ],
)
def test_a_drifted_copy_of_the_severities_is_found(tmp_path, file, old, new):
    policies = _copy(tmp_path)
    text = (policies / file).read_text()
    assert text.count(old) == 1
    (policies / file).write_text(text.replace(old, new))
    drift = severity_drift(policies)
    assert len(drift) == 1 and drift[0].startswith(file), drift


def test_the_schema_is_the_only_list_of_severities_in_python():
    """policy_table.py and audit.py read the enum from the schema (rules.severities())."""
    schema = rules.schema()
    assert schema["properties"]["custom"]["properties"]["severity"] == {"$ref": "#/$defs/severity"}
    assert rules.severities() == tuple(schema["$defs"]["severity"]["enum"])
    copies = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("src", "tools")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SEVERITY_LIST.search(line)
    ]
    assert copies == []


def test_the_pack_takes_its_principles_from_the_schema():
    assert list(rules.principles()) == [str(n) for n in range(1, 8)]
    assert rules.principles()["4"] == "Balance speed and security"
