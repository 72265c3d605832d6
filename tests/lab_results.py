"""The latest result of every lab test that proves a rule at run time, for the evidence pack.

A lab test names the rules whose promise it proves the runtime keeps with
`@pytest.mark.enforces("RA-010", ...)` (the evidence pack reads these marks from the source,
plantctl.reports.audit.runtime). After a session, the outcome of each such test that ran is
merged into build/lab-results.json (tests that did not run keep their earlier entry, with its
time): {"tests": {nodeid: {rules, outcome, phase, duration_s, finished}}}. Hooks of
tests/conftest.py call these.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "build" / "lab-results.json"
MARKER = "enforces(*rules): the lab test proves the runtime enforces these rule ids"
_seen: dict[str, dict] = {}


def record(item, report) -> None:
    """One phase of a test: the first phase that did not pass decides its outcome."""
    mark = item.get_closest_marker("enforces")
    if mark is None:
        return
    entry = _seen.setdefault(
        item.nodeid, {"rules": sorted(set(mark.args)), "outcome": "passed", "phase": "call"}
    )
    entry["duration_s"] = round(entry.get("duration_s", 0.0) + report.duration, 2)
    if entry["outcome"] == "passed" and not report.passed:
        entry["outcome"], entry["phase"] = report.outcome, report.when
    entry["finished"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(path: Path, seen: dict[str, dict]) -> dict:
    """The results file with `seen` replacing the entries of the tests that ran."""
    try:
        doc = json.loads(path.read_text())
        tests = doc.get("tests", {}) if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        tests = {}
    return {"tests": {**tests, **seen}}


def write(path: Path = RESULTS) -> None:
    if not _seen:
        return
    doc = merge(path, _seen)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)  # whole or not at all
