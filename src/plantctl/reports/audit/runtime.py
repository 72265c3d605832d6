"""Run-time evidence: the lab tests that prove the plant enforces what a rule makes the inventory
declare, and their latest results, beside the policy result (issue 14, item 5).

A policy only proves that the inventory asks for MFA, a window or a recording; a lab test
proves that sshd, PAM, nftables or tlog really do it. A lab test names the rules it proves with
`@pytest.mark.enforces("RA-010", ...)`: read here from the test sources (ast, no import), so a
rule that has such a test is known to need one even where the lab never ran. The outcome of
each test is read from the results file the test session writes (tests/lab_results.py,
build/lab-results.json). A rule with run-time tests "holds" only when the inventory holds and
every one of them passed in its latest run; otherwise the pack says what is missing.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from plantctl.reports.audit.rule import Rule

RESULTS = Path("build") / "lab-results.json"
TESTS = Path("tests")


def _enforces(decorator: ast.expr) -> list[str] | None:
    """The rule ids of `@pytest.mark.enforces("A-1", ...)`, else None."""
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    if not (isinstance(func, ast.Attribute) and func.attr == "enforces"):
        return None
    return [
        a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]


def declared(tests: Path, cwd: Path) -> dict[str, list[str]]:
    """rule id -> the node ids (tests/x.py::test_y) of the tests that say they prove it."""
    found: dict[str, list[str]] = {}
    for path in sorted(tests.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        try:
            shown = path.resolve().relative_to(cwd.resolve()).as_posix()
        except ValueError:
            shown = path.as_posix()
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                for rid in _enforces(decorator) or []:
                    found.setdefault(rid, []).append(f"{shown}::{node.name}")
    return found


def load(path: Path) -> dict[str, dict]:
    """node id -> {outcome, finished, duration_s, rules}; {} without a usable file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    tests = doc.get("tests") if isinstance(doc, dict) else None
    return {k: v for k, v in (tests or {}).items() if isinstance(v, dict)}


def attach(rules: list[Rule], tests: dict[str, list[str]], results: dict[str, dict]) -> None:
    """Each rule's run-time evidence (`runtime`), and its result's status where that evidence
    is missing or failed: "holds" becomes "declared only"."""
    for rule in rules:
        names = tests.get(rule.id, [])
        if not names:
            continue
        rows = []
        for name in names:
            # a parametrized test is one result per parameter (node id name[param])
            got = [v for k, v in results.items() if k == name or k.startswith(name + "[")]
            outcomes = {str(v.get("outcome", "unknown")) for v in got} or {"not run"}
            outcome = next((o for o in ("failed", "error", "skipped") if o in outcomes), None)
            finished = [str(v["finished"]) for v in got if v.get("finished")]
            rows.append({
                "test": name,
                "outcome": outcome or (outcomes.pop() if len(outcomes) == 1 else "unknown"),
                "finished": max(finished) if finished else None,
            })  # fmt: skip
        passed = all(r["outcome"] == "passed" for r in rows)
        failed = [r["test"] for r in rows if r["outcome"] in ("failed", "error")]
        not_run = [r["test"] for r in rows if r["outcome"] not in ("passed", "failed", "error")]
        status = "enforced" if passed else "failed" if failed else "not run"
        rule.runtime = {"status": status, "tests": rows}
        if rule.result.get("status") == "holds" and not passed:
            why = "its lab test failed" if failed else "its lab test has no result"
            rule.result = {
                **rule.result,
                "status": "declared only",
                "text": f"holds in the inventory; not proven at run time ({why})",
                "missing": failed or not_run,
            }
        elif rule.result.get("status") == "holds":
            rule.result = {**rule.result, "text": "holds: declared and enforced (lab)"}
