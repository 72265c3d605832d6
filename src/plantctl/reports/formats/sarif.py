"""The check report as SARIF 2.1.0, so the code host annotates the diff at path:line."""

from __future__ import annotations

import json
from typing import Any

from plantctl import __version__
from plantctl.gate.check import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning"}


def render(report: Report) -> str:
    findings = [*report.findings, *report.warnings, *(w.finding for w in report.waived)]
    waivers = {id(w.finding): w.waiver for w in report.waived}
    rules: dict[str, dict[str, Any]] = {}
    for f in findings:
        rules.setdefault(
            f.rule,
            {
                "id": f.rule,
                "name": f.rule,
                "shortDescription": {"text": f.title or f.rule},
                "properties": {"severity": f.severity, "controls": list(f.controls)},
            },
        )
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": list(rules).index(f.rule),
            "level": LEVELS.get(f.level, "error"),
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line, "startColumn": f.col},
                    }
                }
            ],
            "partialFingerprints": {"plantctl/v1": f"{f.rule}:{f.kind}:{f.id}"},
            **_suppressions(waivers.get(id(f))),
        }
        for f in findings
    ]
    for a in report.missing:
        results.append(
            {
                "ruleId": "GATE-APPROVAL",
                "level": "error",
                "message": {
                    "text": f"approval needed from {a.get('handle', a['team'])}: "
                    + "; ".join(a.get("reasons", []))
                },
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": _first_file(report),
                                "uriBaseId": "%SRCROOT%",
                            },
                            "region": {"startLine": 1},
                        }
                    }
                ],
            }
        )
    if report.missing:
        rules.setdefault(
            "GATE-APPROVAL",
            {
                "id": "GATE-APPROVAL",
                "name": "GATE-APPROVAL",
                "shortDescription": {"text": "Required approvals are given"},
            },
        )
        for r in results:
            r["ruleIndex"] = list(rules).index(r["ruleId"])
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "plantctl",
                        "version": __version__,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _first_file(report: Report) -> str:
    for c in report.changes:
        return c.file
    return report.files[0] if report.files else "inventory"


def _suppressions(waiver: dict | None) -> dict:
    """A waived violation is a result with an accepted external suppression (SARIF 3.35)."""
    if waiver is None:
        return {}
    return {
        "suppressions": [
            {
                "kind": "external",
                "status": "accepted",
                "justification": str(waiver.get("reason", "")),
                "properties": {
                    k: waiver[k] for k in ("id", "approver", "expires", "ticket") if k in waiver
                },
                **(
                    {
                        "location": {
                            "physicalLocation": {
                                "artifactLocation": {
                                    "uri": waiver["file"],
                                    "uriBaseId": "%SRCROOT%",
                                },
                                "region": {"startLine": waiver.get("line", 1)},
                            }
                        }
                    }
                    if "file" in waiver
                    else {}
                ),
            }
        ]
    }
