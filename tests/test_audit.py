"""The evidence pack (plantctl audit, make audit) for the sample plant: every control row points
at a rule written where it says and at tests that exist and pass; the JUnit XML and the
checksums agree with the policies; a rule without a test makes `make audit` fail."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from plantctl.gate.rules import read as read_rules

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("audit")
    done = subprocess.run(
        [str(ROOT / ".venv/bin/plantctl"), "audit", "--now", NOW, "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "evidence.json").read_text()), out


def test_every_control_row_points_at_existing_rules_and_tests(pack):
    doc, _ = pack
    rules = {r["id"]: r for r in doc["rules"]}
    metadata = {r.id: r for r in read_rules(ROOT / "policies", ROOT)}  # what OPA parses
    assert set(rules) == set(metadata)
    rows = [(c["requirement"], rid) for c in doc["controls"] for rid in c["rules"]]
    assert {rid for _, rid in rows} == set(rules)  # every rule serves a control
    for requirement, rid in rows:
        assert re.fullmatch(r"SR \d+\.\d+( RE ?\d+)?", requirement)
        rule = rules[rid]
        assert requirement in rule["iec62443"]
        assert re.match(r"^[1-7] ", rule["principle"])
        # the rule's head, whose METADATA carries the id
        assert (rule["file"], rule["line"]) == (metadata[rid].file, metadata[rid].line), rid
        head = (ROOT / rule["file"]).read_text().splitlines()[rule["line"] - 1]
        assert head.startswith(rule["name"]), (rid, head)
        tests = rule["fires"] + rule["near_misses"]
        assert rule["fires"], rid
        for listed in (rule["fires"], rule["near_misses"]):  # in the test files' order
            assert listed == sorted(listed, key=lambda t: (t["file"], t["line"], t["name"]))
        for t in tests:
            assert t["passed"]
            text = (ROOT / t["file"]).read_text().splitlines()
            assert text[t["line"] - 1].startswith(f"{t['name']} if"), t
    assert doc["gaps"] == []


def test_a_rule_is_fired_and_missed_by_its_named_tests(pack):
    doc, _ = pack
    seg = next(r for r in doc["rules"] if r["id"] == "SEG-003")
    assert {t["name"] for t in seg["fires"]} == {
        "test_seg_003_fires_for_any_protocol",
        "test_seg_003_fires_for_tcp_without_a_port",
        "test_seg_003_fires_for_every_port_as_a_range",
        "test_seg_003_fires_for_a_backwards_range",
    }
    assert sorted(t["name"] for t in seg["near_misses"]) == [
        "test_seg_003_near_miss_a_short_range",
        "test_seg_003_near_miss_icmp_has_no_port",
    ]
    assert seg["result"]["status"] == "holds"
    apr = next(r for r in doc["rules"] if r["id"] == "APR-002")
    assert apr["result"]["status"] == "n/a"


def test_results_coverage_junit_checksums_and_html(pack):
    doc, out = pack
    tests = doc["tests"]
    assert tests["failed"] == 0 and tests["passed"] == tests["total"] > 200
    assert tests["coverage"] >= 95
    assert tests["files"]["policies/waivers/waivers.rego"]["coverage"] == 100
    suites = ET.parse(out / "policy-tests.xml").getroot()  # noqa: S314 - our own file
    assert int(suites.get("tests")) == tests["total"] and suites.get("failures") == "0"
    names = {case.get("name") for case in suites.iter("testcase")}
    assert "test_wai_001_fires_for_an_expired_waiver" in names
    for name, digest in doc["checksums"].items():
        assert hashlib.sha256((ROOT / name).read_bytes()).hexdigest() == digest
    assert "policies/waivers/waivers.rego" in doc["checksums"]
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert doc["revision"]["commit"] == commit
    assert doc["inventory"]["checked"] and doc["inventory"]["violations"] == []
    page = (out / "evidence.html").read_text()
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)  # nothing to fetch
    assert page.count('<tr class="control-row') == sum(len(c["rules"]) for c in doc["controls"])
    assert 'data-rule="WAI-001"' in page


def test_a_rule_without_a_test_makes_make_audit_fail(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    (policies / "extra").mkdir()
    (policies / "extra" / "extra.rego").write_text(
        """# METADATA
# title: Extra
# description: A rule nobody tested.
package plant.extra

# METADATA
# title: Machines have a name
# description: Every machine has a name.
# custom:
#   id: XTR-001
#   severity: low
#   owner: it
#   principle: 2 Common language
#   iec62443: ["SR 7.6"]
#   recommended_action: Name the machine.
deny contains msg if {
\tsome id, machine in input.machines
\tnot machine.name
\tmsg := id
}
"""
    )
    domains = policies / "lib" / "domains.rego"
    domains.write_text(domains.read_text().replace('"collectors",', '"collectors",\n\t"extra",'))
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "audit",
            f"AUDIT_POLICIES={policies}",
            f"AUDIT_DIR={tmp_path / 'out'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "XTR-001 has no test" in done.stderr
    doc = json.loads((tmp_path / "out" / "evidence.json").read_text())
    assert [g for g in doc["gaps"] if "XTR-001" in g]
