"""The evidence pack's content: per rule its controls, tests and today's result; gaps; policy
checksums and the revision."""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from plantctl.gate import rules as metadata
from plantctl.reports.audit import runtime
from plantctl.reports.audit.rule import CONTEXT_ONLY, Rule, rules_from_metadata
from plantctl.reports.audit.tests import _passed, _shown, map_tests, run_tests, test_sources


def today(rules: list[Rule], report) -> None:
    """Each rule's result on the inventory now, from a gate report (check.Report)."""
    for rule in rules:
        domain = rule.package.split(".")[1] if "." in rule.package else rule.package
        if domain in CONTEXT_ONLY:
            rule.result = {"status": "n/a", "text": f"evaluated on {CONTEXT_ONLY[domain]}"}
            continue
        if report is None:
            rule.result = {"status": "unknown", "text": "the inventory was not checked"}
            continue
        errors = [f for f in report.findings if f.rule == rule.id]
        warnings = [f for f in report.warnings if f.rule == rule.id]
        waived = [w for w in report.waived if w.finding.rule == rule.id]
        if errors:
            status, text = "violated", f"{len(errors)} violation(s)"
        elif warnings:
            status, text = "warning", f"{len(warnings)} warning(s)"
        else:
            status, text = "holds", "holds"
        if waived:
            text += f", {len(waived)} waived"
        rule.result = {
            "status": status,
            "text": text,
            "violations": len(errors),
            "warnings": len(warnings),
            "waived": len(waived),
        }


def gaps(rules: list[Rule], results: list[dict]) -> list[str]:
    found = []
    for r in rules:
        where = f"{r.file}:{r.line}"
        if not r.fires and not r.near_misses:
            found.append(f"{where}: {r.id} has no test (name one test_{_slug(r.id)}_...)")
    for t in results:
        if not _passed(t):
            found.append(
                f"{t['location']['file']}:{t['location']['row']}: test {t['name']} did not pass"
            )
    return found


def _slug(rid: str) -> str:
    return rid.lower().replace("-", "_")


def controls(rules: list[Rule]) -> list[dict]:
    """The control matrix: one entry per IEC 62443-3-3 requirement, its rules in id order."""
    by_sr: dict[str, list[Rule]] = {}
    for r in rules:
        for sr in r.iec62443:
            by_sr.setdefault(sr, []).append(r)

    def sr_key(sr: str):
        return [int(n) for n in re.findall(r"\d+", sr)]

    return [
        {"requirement": sr, "rules": [r.id for r in sorted(by_sr[sr], key=lambda r: r.id)]}
        for sr in sorted(by_sr, key=sr_key)
    ]


def checksums(policies: Path, cwd: Path) -> dict[str, str]:
    return {
        _shown(p, cwd): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(policies.rglob("*"))
        if p.is_file()
    }


def revision(cwd: Path) -> dict:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "policies", "inventory")
    return {
        "commit": commit or None,
        "dirty": bool(dirty),
        "subject": git("log", "-1", "--format=%s"),
    }


def build(
    policies: Path,
    cwd: Path,
    report=None,
    *,
    now: datetime | None = None,
    waivers: list[dict] | None = None,
    lab_results: Path | None = None,
) -> tuple[dict, list[dict]]:
    """The whole pack as one JSON-ready document (report: a check.Report of the inventory), and
    the policy test results it was made from. `lab_results`: the lab tests' latest results
    (default build/lab-results.json under cwd; see reports/audit/runtime.py)."""
    rules = rules_from_metadata(policies, cwd)
    results, coverage = run_tests(policies, cwd)
    map_tests(rules, results, test_sources(policies, cwd), cwd)
    today(rules, report)
    results_file = lab_results or cwd / runtime.RESULTS
    lab = runtime.load(results_file)
    runtime.attach(rules, runtime.declared(cwd / runtime.TESTS, cwd), lab)
    passed = sum(1 for t in results if _passed(t))
    files = {
        _shown(Path(name), cwd): {
            "coverage": round(float(f.get("coverage", 0)), 2),
            "covered_lines": f.get("covered_lines", 0),
            "not_covered_lines": f.get("not_covered_lines", 0),
            "not_covered": sorted({r["start"]["row"] for r in f.get("not_covered") or []}),
        }
        for name, f in sorted((coverage.get("files") or {}).items())
    }
    found = gaps(rules, results) + [
        f"{row['test']}: lab test of {r.id} failed in its latest run ({row['finished']})"
        for r in rules
        for row in r.runtime.get("tests", [])
        if row["outcome"] in ("failed", "error")
    ]
    pack = {
        "title": "plantctl evidence pack",
        "generated": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision": revision(cwd),
        "policies": _shown(policies, cwd),
        "principles": metadata.principles(),
        "controls": controls(rules),
        "rules": [r.as_dict() for r in rules],
        "tests": {
            "total": len(results),
            "passed": passed,
            "failed": len(results) - passed,
            "coverage": round(float(coverage.get("coverage", 0)), 2),
            "files": files,
        },
        "gaps": found,
        "runtime": {
            "results": _shown(results_file, cwd),
            "recorded": len(lab),
            "rules": sorted(r.id for r in rules if r.runtime),
        },
        "without_near_miss": [r.id for r in rules if not r.near_misses],
        "inventory": {**_inventory_part(report), "waivers": waivers or []},
        "checksums": checksums(policies, cwd),
    }
    return pack, results


def _inventory_part(report) -> dict:
    if report is None:
        return {"checked": False}
    return {
        "checked": True,
        "source": report.source,
        "now": report.now,
        "passed": report.passed,
        "violations": [f.as_dict() for f in report.findings],
        "warnings": [f.as_dict() for f in report.warnings],
        "waived": [w.as_dict() for w in report.waived],
    }
