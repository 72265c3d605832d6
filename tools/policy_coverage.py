#!/usr/bin/env python3
"""Fail unless `opa test --coverage --format json` reports at least MIN percent of policy lines.

opa test --coverage --format json policies | tools/policy_coverage.py 95
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    minimum = float(argv[1])
    try:
        report = json.load(sys.stdin)
        total = float(report["coverage"])
    except (ValueError, KeyError, TypeError) as exc:
        print(f"policy-coverage: no coverage report on stdin ({exc})", file=sys.stderr)
        return 1
    for name, file in sorted((report.get("files") or {}).items()):
        if file.get("coverage", 100) < 100:
            lines = sorted({r["start"]["row"] for r in file.get("not_covered") or []})
            print(f"policy-coverage: {name} {file['coverage']:.1f}%, lines not covered: {lines}")
    verdict = "ok" if total >= minimum else "FAILED"
    print(f"policy-coverage: {total:.2f}% of lines covered (at least {minimum:g}%): {verdict}")
    return 0 if total >= minimum else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
