"""The auditors' evidence pack for one revision: which rule implements which control, where it
is written, which tests prove that it fires and that it does not over-fire, whether it holds on
the inventory today, and the policy test run (results, line coverage, JUnit XML).

Rules and their controls come from the policies' METADATA, read and checked by gate.rules (a
rule without an IEC 62443-3-3 requirement or a principle is refused there, exit 2); test results
and coverage from `opa test --format json [--coverage]`. A test belongs to a rule by one of three
written conventions, checked in this order:

1. its name starts with the rule id (`test_seg_003_...` belongs to SEG-003);
2. it follows a header comment that names rule ids only (`# SEG-003`, `# APR-005 APR-009`)
   or starts with `# --` (`# -- PLAN-001 ---`; `# -- reviews --` names none), up to the next
   such header;
3. its body names the rule id in a string (`v.rule == "APR-006"`).

A test whose name says `near_miss`, `passes`, `not`, `no`, `nothing`, `only` or `ignored` (and
not `fires`) is a near miss (the rule must stay silent); any other is a firing case. Each
rule's tests are listed in file and line order. The pack fails (`gaps`) when a rule has no test
or when a policy test fails.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plantctl.core import atomic
from plantctl.gate import rules as metadata
from plantctl.gate.engine import opa_binary

NAME_ID = re.compile(r"^test_([a-z]+)_(\d{3})(?:_|$)")
HEADER = re.compile(r"^#\s*(?:(?:[A-Z]+-\d{3}[\s,]*)+|--.*)$")
BODY_ID = re.compile(r"\"([A-Z]+-\d{3})\"")
TEST_HEAD = re.compile(r"^(test_[A-Za-z0-9_]+)\b")
NEAR_MISS = re.compile(r"near_miss|_pass(es)?(_|$)|_not_|nothing|_only_|ignored|_no_")
FIRES = re.compile(r"_fires(_|$)")
# Rules judged outside the whole-inventory check: results only exist for a pull request or a plan.
CONTEXT_ONLY = {"approvals": "pull requests only", "plan": "stack plans only"}


@dataclass
class Rule:
    id: str
    title: str
    description: str
    severity: str
    owner: str
    principle: str
    iec62443: list[str]
    recommended_action: str
    file: str
    line: int
    package: str
    name: str  # deny, warn, problems, ...
    fires: list[dict] = field(default_factory=list)  # tests: {name, package, file, line, passed}
    near_misses: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class OpaFailed(Exception):
    """opa inspect or opa test could not run (not a failing test: a broken tool or policy)."""


def _opa(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [opa_binary(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    try:  # opa test exits non-zero when a test fails; its JSON report is still the answer
        json.loads(done.stdout)
    except ValueError:
        raise OpaFailed(
            f"opa {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-1500:]}"
        ) from None
    return done.stdout


def rules_from_metadata(policies: Path, cwd: Path) -> list[Rule]:
    """Every rule's row of the pack, from the one reader of the METADATA (gate.rules)."""
    return [
        Rule(
            id=r.id,
            title=r.title,
            description=r.description,
            severity=r.severity,
            owner=r.owner,
            principle=r.principle,
            iec62443=list(r.iec62443),
            recommended_action=r.recommended_action,
            file=r.file,
            line=r.line,
            package=r.package,
            name=r.name,
        )
        for r in metadata.read(policies, cwd)
    ]


def run_tests(policies: Path, cwd: Path) -> tuple[list[dict], dict]:
    """Every policy test's result, and the coverage report (two runs of opa test)."""
    results = json.loads(_opa("test", "--format", "json", str(policies), cwd=cwd))
    coverage = json.loads(_opa("test", "--coverage", "--format", "json", str(policies), cwd=cwd))
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


def build(
    policies: Path,
    cwd: Path,
    report=None,
    *,
    now: datetime | None = None,
    waivers: list[dict] | None = None,
) -> tuple[dict, list[dict]]:
    """The whole pack as one JSON-ready document (report: a check.Report of the inventory), and
    the policy test results it was made from."""
    rules = rules_from_metadata(policies, cwd)
    results, coverage = run_tests(policies, cwd)
    map_tests(rules, results, test_sources(policies, cwd), cwd)
    today(rules, report)
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
    found = gaps(rules, results)
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


# -- HTML -------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d232b}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #d0d7de}
.meta{color:#57606a;font-size:13px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f4f8}tr.sr-first td{border-top:2px solid #8c959f}
.holds{background:#dafbe1}.violated{background:#ffd8d3}.warning{background:#fff1c2}
.na,.unknown{background:#eef1f4}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
code{font-size:12px;overflow-wrap:anywhere}ul{margin:0;padding-left:16px}
.small{font-size:12px;color:#57606a;overflow-wrap:anywhere}
#control-matrix{table-layout:fixed}#control-matrix td{overflow-wrap:anywhere}
.c-sr{width:6%}.c-pr{width:10%}.c-rule{width:15%}.c-pol{width:14%}.c-t{width:23%}.c-today{width:9%}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _tests_cell(tests: list[dict]) -> str:
    if not tests:
        return '<span class="small">none</span>'
    items = "".join(
        f'<li><code>{_e(t["name"])}</code> <span class="small">{_e(t["file"])}:{t["line"]}'
        f"</span>{'' if t['passed'] else ' <span class=bad>FAILED</span>'}</li>"
        for t in tests
    )
    return f"<ul>{items}</ul>"


def render_html(pack: dict) -> str:
    rules = {r["id"]: r for r in pack["rules"]}
    rev = pack["revision"]
    tests = pack["tests"]
    verdict = (
        '<span class="ok">no gaps</span>'
        if not pack["gaps"]
        else f'<span class="bad">{len(pack["gaps"])} gap(s)</span>'
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(pack['title'])} {_e((rev['commit'] or 'uncommitted')[:12])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(pack['title'])}</h1>",
        f'<p class="meta">revision <code>{_e(rev["commit"] or "none")}</code>'
        f"{' (with uncommitted changes)' if rev['dirty'] else ''}"
        f" · generated {_e(pack['generated'])}"
        f" · {len(pack['rules'])} rules · {tests['passed']}/{tests['total']} policy tests passed"
        f" · {tests['coverage']}% of policy lines covered · {verdict}</p>",
        '<h2 id="matrix">Control matrix</h2>',
        '<p class="small">IEC 62443-3-3 system requirement and DESIGN.md principle → rule →'
        " where it is written → the tests that make it fire and its near misses → its result"
        " on the inventory today.</p>",
        '<table id="control-matrix"><thead><tr><th class="c-sr">IEC 62443-3-3</th>'
        '<th class="c-pr">Principle</th><th class="c-rule">Rule</th>'
        '<th class="c-pol">Policy</th><th class="c-t">Fires</th><th class="c-t">Near misses</th>'
        '<th class="c-today">Today</th></tr></thead><tbody>',
    ]
    for control in pack["controls"]:
        for i, rid in enumerate(control["rules"]):
            r = rules[rid]
            status = r["result"].get("status", "unknown")
            css = {"n/a": "na"}.get(status, status)
            out.append(
                f'<tr class="control-row{" sr-first" if i == 0 else ""}" '
                f'data-requirement="{_e(control["requirement"])}" data-rule="{_e(rid)}">'
                f"<td>{_e(control['requirement'])}</td><td>{_e(r['principle'])}</td>"
                f"<td><b>{_e(rid)}</b> {_e(r['title'])} <span class=small>({_e(r['severity'])}"
                f", {_e(r['owner'])})</span></td>"
                f"<td><code>{_e(r['file'])}:{r['line']}</code></td>"
                f"<td>{_tests_cell(r['fires'])}</td><td>{_tests_cell(r['near_misses'])}</td>"
                f'<td class="{_e(css)}">{_e(r["result"].get("text", ""))}</td></tr>'
            )
    out.append("</tbody></table>")

    out.append('<h2 id="gaps">Rules without tests or without a control</h2>')
    if pack["gaps"]:
        out.append("<ul>" + "".join(f"<li>{_e(g)}</li>" for g in pack["gaps"]) + "</ul>")
    else:
        out.append(
            "<p>None: every rule has at least one test and names its IEC 62443-3-3 "
            "requirements and its principle; every policy test passed.</p>"
        )

    if pack["without_near_miss"]:
        out.append(
            '<p class="small">Rules with firing tests but no near-miss test by the naming '
            f"convention (not a gap): {_e(', '.join(pack['without_near_miss']))}</p>"
        )
    inv = pack["inventory"]
    out.append('<h2 id="today">Violations and waivers today</h2>')
    if not inv.get("checked"):
        out.append("<p>The inventory was not checked.</p>")
    else:
        out.append(
            f"<p>{_e(inv['source'])} at {_e(inv['now'])}: "
            f"{len(inv['violations'])} violation(s), {len(inv['warnings'])} warning(s), "
            f"{len(inv['waived'])} waived.</p>"
        )
        rows = [("violation", f) for f in inv["violations"]] + [
            ("warning", f) for f in inv["warnings"]
        ]
        if rows:
            out.append(
                "<table id='violations'><tr><th>level</th><th>where</th><th>rule</th>"
                "<th>message</th></tr>"
            )
            for level, f in rows:
                out.append(
                    f"<tr><td>{level}</td><td><code>{_e(f['file'])}:{f['line']}</code></td>"
                    f"<td>{_e(f['rule'])}</td><td>{_e(f['message'])}</td></tr>"
                )
            out.append("</table>")
        if inv["waived"]:
            out.append(
                "<table id='waivers'><tr><th>where</th><th>rule</th><th>waiver</th>"
                "<th>approved by</th><th>until</th><th>reason</th></tr>"
            )
            for w in inv["waived"]:
                waiver = w["waiver"]
                out.append(
                    f"<tr><td><code>{_e(w['file'])}:{w['line']}</code></td><td>{_e(w['rule'])}"
                    f"</td><td>{_e(waiver.get('id'))}</td><td>{_e(waiver.get('approver'))}</td>"
                    f"<td>{_e(waiver.get('expires'))}</td><td>{_e(waiver.get('reason'))}</td>"
                    "</tr>"
                )
            out.append("</table>")
        else:
            out.append("<p>No violation is waived.</p>")
        if inv.get("waivers"):
            out.append(
                "<table id='all-waivers'><tr><th>waiver</th><th>rule</th><th>object</th>"
                "<th>approved by</th><th>expires</th><th>where</th><th>reason</th></tr>"
            )
            for w in inv["waivers"]:
                out.append(
                    f"<tr><td>{_e(w['id'])}</td><td>{_e(w['rule'])}</td><td>{_e(w['kind'])} "
                    f"{_e(w['object'])}</td><td>{_e(w['approver'])}</td><td>{_e(w['expires'])}"
                    f"</td><td><code>{_e(w['file'])}:{w['line']}</code></td>"
                    f"<td>{_e(w['reason'])}</td></tr>"
                )
            out.append("</table>")
        else:
            out.append("<p>inventory/waivers.yaml lists no waiver.</p>")

    out.append('<h2 id="coverage">Policy tests and line coverage per file</h2>')
    out.append(
        "<table id='coverage-table'><tr><th>file</th><th>coverage</th><th>lines covered</th>"
        "<th>lines not covered</th></tr>"
    )
    for name, f in tests["files"].items():
        out.append(
            f"<tr><td><code>{_e(name)}</code></td><td>{f['coverage']}%</td>"
            f"<td>{f['covered_lines']}</td><td>{_e(', '.join(map(str, f['not_covered'])))}"
            "</td></tr>"
        )
    out.append("</table>")

    out.append(
        '<h2 id="rules">Rules</h2><table id="rules-table"><tr><th>rule</th>'
        "<th>description</th><th>recommended action</th></tr>"
    )
    for r in sorted(pack["rules"], key=lambda r: r["id"]):
        out.append(
            f"<tr><td><b>{_e(r['id'])}</b></td><td>{_e(r['description'])}</td>"
            f"<td>{_e(r['recommended_action'])}</td></tr>"
        )
    out.append("</table>")

    out.append('<h2 id="checksums">Policy files (sha256)</h2><table id="checksums-table">')
    for name, digest in pack["checksums"].items():
        out.append(f"<tr><td><code>{_e(name)}</code></td><td><code>{digest}</code></td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"


def write(pack: dict, results_xml: str, output: Path) -> list[Path]:
    """evidence.json, evidence.html and policy-tests.xml in output (each replaced whole)."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("evidence.json", json.dumps(pack, indent=2) + "\n"),
        ("evidence.html", render_html(pack)),
        ("policy-tests.xml", results_xml),
    ):
        written.append(atomic.write_text(output / name, text))
    return written
