"""The policy tests: run with `opa test`, found in their files, and tied to the rule they prove
(the conventions of the package's docstring); JUnit XML of the run."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from plantctl.reports.audit.rule import Rule, _opa

NAME_ID = re.compile(r"^test_([a-z]+)_(\d{3})(?:_|$)")


HEADER = re.compile(r"^#\s*(?:(?:[A-Z]+-\d{3}[\s,]*)+|--.*)$")


BODY_ID = re.compile(r"\"([A-Z]+-\d{3})\"")


TEST_HEAD = re.compile(r"^(test_[A-Za-z0-9_]+)\b")


NEAR_MISS = re.compile(r"near_miss|_pass(es)?(_|$)|_not_|nothing|_only_|ignored|_no_")


FIRES = re.compile(r"_fires(_|$)")

TEST_TIMEOUT = "60s"


def run_tests(policies: Path, cwd: Path) -> tuple[list[dict], dict]:
    """Every policy test's result, and the coverage report (two runs of opa test)."""
    # OPA's 5 s per test is a deadline for a loaded CI machine, not a benchmark: 60 s.
    timeout = ("--timeout", TEST_TIMEOUT)
    results = json.loads(_opa("test", *timeout, "--format", "json", str(policies), cwd=cwd))
    coverage = json.loads(
        _opa("test", *timeout, "--coverage", "--format", "json", str(policies), cwd=cwd)
    )
    return results, coverage


def test_sources(policies: Path, cwd: Path) -> dict[tuple[str, str], dict]:
    """(file, test name) -> {ids by name, ids by header, ids in the body} from the test files."""
    found = {}
    for path in sorted(policies.rglob("*_test.rego")):
        shown = _shown(path, cwd)
        header: set[str] = set()
        current = None
        for line in path.read_text(encoding="utf-8").splitlines():
            match = HEADER.match(line)
            if match:
                header = set(re.findall(r"[A-Z]+-\d{3}", line))
                current = None
                continue
            head = TEST_HEAD.match(line)
            if head:
                current = {"header": set(header), "body": set()}
                found[(shown, head.group(1))] = current
            elif line and not line[0].isspace() and line[0] not in "}#)]":
                current = None
            if current is not None:
                current["body"].update(BODY_ID.findall(line))
    return found


def rule_of_name(name: str) -> str | None:
    match = NAME_ID.match(name)
    return f"{match.group(1).upper()}-{match.group(2)}" if match else None


def map_tests(rules: list[Rule], results: list[dict], sources: dict, cwd: Path) -> None:
    by_id = {r.id: r for r in rules}
    for test in results:
        file = _shown(Path(test["location"]["file"]), cwd)
        name = test["name"]
        src = sources.get((file, name), {"header": set(), "body": set()})
        named = rule_of_name(name)
        package = test["package"].removeprefix("data.")
        if named:
            ids = {named}
        elif src["header"]:
            ids = src["header"]
        else:  # a mention counts only in the rule's own test package (not a mocked decision)
            ids = {i for i in src["body"] if i in by_id and f"{by_id[i].package}_test" == package}
        entry = {
            "name": name,
            "package": package,
            "file": file,
            "line": test["location"]["row"],
            "passed": _passed(test),
        }
        for rid in sorted(ids):
            rule = by_id.get(rid)
            if rule is None:
                continue
            near = NEAR_MISS.search(name) and not FIRES.search(name)
            (rule.near_misses if near else rule.fires).append(entry)
    for rule in rules:  # in the test files' order, whatever order opa test reported them in
        rule.fires.sort(key=_test_order)
        rule.near_misses.sort(key=_test_order)


def _test_order(test: dict) -> tuple:
    return (test["file"], test["line"], test["name"])


def _passed(test: dict) -> bool:
    return not (test.get("fail") or test.get("error") or test.get("skip"))


def _shown(path: Path, cwd: Path) -> str:
    p = path if path.is_absolute() else cwd / path
    try:
        return p.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def junit(results: list[dict]) -> str:
    """JUnit XML of the policy tests: one testsuite per Rego test package."""
    suites: dict[str, list[dict]] = {}
    for t in results:
        suites.setdefault(t["package"].removeprefix("data."), []).append(t)
    root = ET.Element("testsuites", name="opa test policies")
    total = failures = errors = skipped = 0
    for package in sorted(suites):
        tests = suites[package]
        suite = ET.SubElement(root, "testsuite", name=package)
        counts = {"tests": len(tests), "failures": 0, "errors": 0, "skipped": 0}
        seconds = 0.0
        # by line; a package's tests may sit in several files, so ties go by file, then name
        for t in sorted(
            tests, key=lambda t: (t["location"]["row"], t["location"]["file"], t["name"])
        ):
            took = t.get("duration", 0) / 1e9
            seconds += took
            case = ET.SubElement(
                suite,
                "testcase",
                classname=package,
                name=t["name"],
                file=t["location"]["file"],
                line=str(t["location"]["row"]),
                time=f"{took:.6f}",
            )
            if t.get("error"):
                counts["errors"] += 1
                ET.SubElement(case, "error", message=str(t["error"]))
            elif t.get("fail"):
                counts["failures"] += 1
                ET.SubElement(case, "failure", message="the test's body is not true")
            elif t.get("skip"):
                counts["skipped"] += 1
                ET.SubElement(case, "skipped")
        for k, v in counts.items():
            suite.set(k, str(v))
        suite.set("time", f"{seconds:.6f}")
        total += counts["tests"]
        failures += counts["failures"]
        errors += counts["errors"]
        skipped += counts["skipped"]
    for k, v in (("tests", total), ("failures", failures), ("errors", errors)):
        root.set(k, str(v))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
