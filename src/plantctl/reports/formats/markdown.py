"""The check report as a pull-request comment: decision first, then what is missing, what
changed, and the details."""

from __future__ import annotations

from plantctl.gate.check import Report
from plantctl.reports.diagrams import conduit_changes_flowchart

PATHS_SHOWN = 20  # attack paths listed per direction in the comment


def _cell(text: str) -> str:
    """Inventory text is data: keep it from breaking the table or becoming markup."""
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\n", " ")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("`", "'")
    )


def render(report: Report) -> str:
    out: list[str] = []
    verdict = "✅ **PASS**" if report.passed else "❌ **FAIL**"
    reasons = []
    if report.findings:
        reasons.append(f"{len(report.findings)} policy violation(s)")
    if report.missing:
        reasons.append(f"{len(report.missing)} missing approval(s)")
    out.append(f"## plantctl gate: {verdict}" + (f" ({', '.join(reasons)})" if reasons else ""))
    if report.base:
        out.append(
            f"\nJudged by the policies of base `{report.base[:12]}`; head "
            f"`{(report.head or '')[:12]}`."
        )
    if report.missing:
        out.append("\n### Missing approvals\n")
        out.append("| team | why |\n| --- | --- |")
        for a in report.missing:
            out.append(
                f"| {_cell(a.get('handle', a['team']))} | "
                f"{_cell('; '.join(a.get('reasons', [])))} |"
            )
    if report.findings:
        out.append("\n### Policy violations\n")
        out.append("| where | rule | what to do |\n| --- | --- | --- |")
        for f in report.findings:
            out.append(
                f"| `{_cell(f.file)}:{f.line}` | {_cell(f.rule)} ({_cell(f.severity)}) | "
                f"{_cell(f.message)} |"
            )
    if report.base is not None:
        out.append("\n### What changed\n")
        if report.changes:
            out.append("| change | kind | id | where |\n| --- | --- | --- | --- |")
            for c in report.changes:
                out.append(f"| {c.op} | {c.kind} | {_cell(c.id)} | `{_cell(c.file)}:{c.line}` |")
        else:
            out.append("No inventory objects changed.")
        flowchart = conduit_changes_flowchart(report.changes)
        if flowchart:
            # Labels are escaped (diagrams._mq): no backquote can close the fence.
            out.append("\n**Conduits changed** (the zones they join; dotted: removed):\n")
            out.append("```mermaid\n" + flowchart + "```")
        for title, routes in (
            ("Attack paths opened", report.paths_opened),
            ("Attack paths closed", report.paths_closed),
        ):
            if routes:
                out.append(
                    f"\n**{title}** (plantctl paths; from the internet, enterprise or "
                    "remote access):\n"
                )
                out.extend(f"- {_cell(r)}" for r in routes[:PATHS_SHOWN])
                if len(routes) > PATHS_SHOWN:
                    out.append(f"- and {len(routes) - PATHS_SHOWN} more")
        other = [f for f in report.files if not f.startswith("inventory/")]
        if other:
            out.append("\nOther files: " + ", ".join(f"`{_cell(f)}`" for f in other))
        satisfied = [a for a in report.approvals if a.get("satisfied")]
        if satisfied:
            out.append("\n### Approvals given\n")
            out.append("| team | by |\n| --- | --- |")
            for a in satisfied:
                out.append(
                    f"| {_cell(a.get('handle', a['team']))} | "
                    f"{_cell(', '.join(a.get('approved_by', [])))} |"
                )
    if report.waived:
        out.append("\n### Waived violations\n")
        out.append(
            "| where | rule | violation | waiver | approved by | until | reason |\n"
            "| --- | --- | --- | --- | --- | --- | --- |"
        )
        for w in report.waived:
            f, waiver = w.finding, w.waiver
            out.append(
                f"| `{_cell(f.file)}:{f.line}` | {_cell(f.rule)} | {_cell(f.message)} | "
                f"{_cell(waiver.get('id', ''))} | {_cell(waiver.get('approver', ''))} | "
                f"{_cell(waiver.get('expires', ''))} | {_cell(waiver.get('reason', ''))} |"
            )
    if report.warnings:
        out.append("\n<details><summary>Warnings</summary>\n")
        for f in report.warnings:
            out.append(f"- `{_cell(f.file)}:{f.line}` {_cell(f.rule)}: {_cell(f.message)}")
        out.append("\n</details>")
    return "\n".join(out) + "\n"
