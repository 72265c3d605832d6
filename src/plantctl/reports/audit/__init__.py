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

import json
from pathlib import Path

from plantctl.core import atomic
from plantctl.reports.audit.html import render_html
from plantctl.reports.audit.pack import build
from plantctl.reports.audit.rule import OpaFailed
from plantctl.reports.audit.tests import junit

__all__ = ["OpaFailed", "build", "junit", "write"]


def write(pack: dict, results_xml: str, output: Path, inventory=None) -> list[Path]:
    """evidence.json, evidence.html and policy-tests.xml in output (each replaced whole), and
    with the inventory a zone-and-conduit diagram per site (zones-<site>.svg, linked from the
    page; without Graphviz the page says why there is none)."""
    from plantctl.reports import diagrams

    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    notes: list[str] = []
    if inventory is not None:
        written, notes = diagrams.write_svgs(inventory, output)
    for name, text in (
        ("evidence.json", json.dumps(pack, indent=2) + "\n"),
        ("evidence.html", render_html(pack, [p.name for p in written], notes)),
        ("policy-tests.xml", results_xml),
    ):
        written.append(atomic.write_text(output / name, text))
    return written
