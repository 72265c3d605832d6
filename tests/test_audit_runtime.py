"""The evidence pack's run-time column (issue 14, item 5): which lab test proves that the runtime
enforces a rule, its latest result, and "holds" only when both the inventory and the lab do."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import lab_results
import pytest

from plantctl.reports import audit
from plantctl.reports.audit import runtime
from plantctl.reports.audit.html import render_html
from plantctl.reports.audit.rule import Rule

ROOT = Path(__file__).resolve().parents[1]
MARKED = """
import pytest

@pytest.mark.enforces("RA-010", "RA-020")
def test_recorded(lab):
    pass

@pytest.mark.slow
@pytest.mark.enforces("RA-010")
def test_mfa(lab):
    pass

def test_unmarked():
    pass
"""


def _rule(rid: str, status: str = "holds") -> Rule:
    return Rule(rid, "t", "d", "high", "it", "4", ["SR 1.1"], "a", "f.rego", 1, "plant.x", "deny",
                result={"status": status, "text": status})  # fmt: skip


def test_the_marks_are_read_from_the_source(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(MARKED)
    assert runtime.declared(tmp_path / "tests", tmp_path) == {
        "RA-010": ["tests/test_x.py::test_recorded", "tests/test_x.py::test_mfa"],
        "RA-020": ["tests/test_x.py::test_recorded"],
    }


def test_the_repository_declares_the_remote_access_proofs():
    found = runtime.declared(ROOT / "tests", ROOT)
    assert "tests/test_bastion_mfa.py::test_key_without_a_code_is_refused" in found["RA-010"]
    assert any("test_session_recording_lab.py" in t for t in found["RA-020"])
    assert any("test_bastion_recording.py" in t for t in found["RA-020"])


def test_holds_only_when_the_lab_test_passed_too():
    tests = {"RA-010": ["t.py::a", "t.py::b"], "RA-020": ["t.py::c"], "RA-012": ["t.py::d"]}
    results = {
        "t.py::a": {"outcome": "passed", "finished": "2026-12-02T07:00:00Z"},
        "t.py::b[gw-1]": {"outcome": "passed", "finished": "2026-12-02T07:01:00Z"},
        "t.py::b[gw-2]": {"outcome": "passed", "finished": "2026-12-02T07:02:00Z"},
        "t.py::c": {"outcome": "failed", "finished": "2026-12-02T07:03:00Z"},
    }
    rules = [_rule("RA-010"), _rule("RA-020"), _rule("RA-012"), _rule("RA-001"),
             _rule("RA-011", "violated")]  # fmt: skip
    runtime.attach(rules, tests, results)
    by = {r.id: r for r in rules}
    assert by["RA-010"].result["text"] == "holds: declared and enforced (lab)"
    assert by["RA-010"].runtime["tests"][1] == {
        "test": "t.py::b", "outcome": "passed", "finished": "2026-12-02T07:02:00Z"
    }  # fmt: skip
    assert by["RA-020"].result["status"] == "declared only"
    assert "its lab test failed" in by["RA-020"].result["text"]
    assert by["RA-020"].runtime["status"] == "failed"
    assert by["RA-012"].result["status"] == "declared only"
    assert by["RA-012"].runtime["tests"][0]["outcome"] == "not run"
    assert by["RA-001"].runtime == {} and by["RA-001"].result["status"] == "holds"
    assert by["RA-011"].result["status"] == "violated"  # the inventory's verdict stands
    pack = {"title": "t", "generated": "g", "revision": {"commit": None, "dirty": False},
            "tests": {"passed": 1, "total": 1, "coverage": 100, "files": {}}, "gaps": [],
            "without_near_miss": [], "inventory": {"checked": False}, "checksums": {},
            "rules": [r.as_dict() for r in rules],
            "controls": [{"requirement": "SR 1.1", "rules": [r.id for r in rules]}]}  # fmt: skip
    html = render_html(pack)
    assert "<b>enforced</b>" in html and "<b>failed</b>" in html and "<b>not run</b>" in html
    assert "policy only: no run-time promise tested" in html


def test_the_session_writes_the_latest_result_per_test(tmp_path, monkeypatch):
    path = tmp_path / "lab-results.json"
    path.write_text(json.dumps({"tests": {"old.py::kept": {"outcome": "passed"}}}))
    monkeypatch.setattr(lab_results, "_seen", {})
    item = SimpleNamespace(
        nodeid="t.py::x", get_closest_marker=lambda name: SimpleNamespace(args=("RA-010",))
    )
    for when, outcome in (("setup", "passed"), ("call", "failed"), ("teardown", "passed")):
        report = SimpleNamespace(when=when, outcome=outcome, passed=outcome == "passed",
                                 duration=0.5)  # fmt: skip
        lab_results.record(item, report)
    lab_results.write(path)
    doc = json.loads(path.read_text())["tests"]
    assert doc["old.py::kept"] == {"outcome": "passed"}
    assert doc["t.py::x"]["outcome"] == "failed" and doc["t.py::x"]["phase"] == "call"
    assert doc["t.py::x"]["rules"] == ["RA-010"] and doc["t.py::x"]["duration_s"] == 1.5


@pytest.mark.slow
def test_the_pack_says_declared_only_without_results_and_a_failure_is_a_gap(tmp_path):
    failed = tmp_path / "lab-results.json"
    name = "tests/test_bastion_mfa.py::test_key_without_a_code_is_refused"
    failed.write_text(json.dumps({"tests": {name: {"outcome": "failed", "finished": "T"}}}))
    pack, _ = audit.build(ROOT / "policies", ROOT, None, lab_results=failed)
    rules = {r["id"]: r for r in pack["rules"]}
    assert rules["RA-010"]["runtime"]["status"] == "failed"
    assert f"{name}: lab test of RA-010 failed in its latest run (T)" in pack["gaps"]
    # no result at all for RA-012's lab test: not run (the inventory was not checked here)
    assert rules["RA-012"]["runtime"]["status"] == "not run"
    assert {"RA-010", "RA-012", "RA-020"} <= set(pack["runtime"]["rules"])
    assert pack["runtime"]["recorded"] == 1
