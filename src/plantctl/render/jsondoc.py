"""The check report as JSON (DESIGN.md's contract: decision, violations with path:line)."""

from __future__ import annotations

import json

from plantctl.check import Report


def render(report: Report) -> str:
    return (
        json.dumps(
            {
                "decision": "pass" if report.passed else "fail",
                "source": report.source,
                "now": report.now,
                "violations": [f.as_dict() for f in report.findings],
                "warnings": [f.as_dict() for f in report.warnings],
                "counts": report.counts,
            },
            indent=2,
        )
        + "\n"
    )
