"""The check report as JSON (the contract of docs/architecture.md: decision, violations with
path:line, and in pull-request mode what changed and which approvals are required or missing)."""

from __future__ import annotations

import json

from plantctl.gate.check import Report


def render(report: Report) -> str:
    doc = {
        "decision": "pass" if report.passed else "fail",
        "source": report.source,
        "now": report.now,
        "violations": [f.as_dict() for f in report.findings],
        "warnings": [f.as_dict() for f in report.warnings],
        "waived": [w.as_dict() for w in report.waived],
        "counts": report.counts,
        "base": report.base,
        "head": report.head,
        "changes": [c.as_dict() for c in report.changes],
        "files": report.files,
        "approvals": {
            "required": report.approvals,
            "missing": [a["team"] for a in report.missing],
        },
    }
    return json.dumps(doc, indent=2) + "\n"
