"""The check report for a person at a terminal (colour only when it is one)."""

from __future__ import annotations

from io import StringIO
from typing import cast

from rich.console import Console
from rich.markup import escape

from plantctl.gate.check import Finding, Report


def _line(f: Finding) -> str:
    colour = "red" if f.level == "error" else "yellow"
    return (
        f"{escape(f.file)}:{f.line}:{f.col}: [{colour}]{escape(f.rule)}[/{colour}] "
        f"{escape(f.message)} ({f.severity})"
    )


def render(report: Report, colour: bool | None = None) -> str:
    buffer = StringIO()
    console = Console(
        file=buffer,
        force_terminal=colour,
        no_color=colour is False,
        width=200,
        highlight=False,
        soft_wrap=True,
    )
    if report.base is not None:
        console.print(
            f"base {report.base[:12]} (its policies judge) -> head {cast(str, report.head)[:12]}: "
            f"{len(report.changes)} inventory change(s), {len(report.files)} file(s)"
        )
        for c in report.changes:
            console.print(f"  {c.op:<8} {c.kind} {escape(c.id)} ({escape(c.file)}:{c.line})")
        for a in report.approvals:
            if a.get("satisfied"):
                console.print(
                    f"  [green]approved[/green] {escape(a.get('handle', a['team']))} "
                    f"by {escape(', '.join(a.get('approved_by', [])))}"
                )
            else:
                console.print(
                    f"  [red]needs approval[/red] {escape(a.get('handle', a['team']))}:"
                    f" {escape('; '.join(a.get('reasons', [])))}"
                )
    for f in report.findings:
        console.print(_line(f))
    for f in report.warnings:
        console.print(_line(f))
    for w in report.waived:
        f, waiver = w.finding, w.waiver
        console.print(
            f"{escape(f.file)}:{f.line}:{f.col}: [cyan]waived[/cyan] {escape(f.rule)} "
            f"{escape(f.message)} (waiver {escape(str(waiver.get('id')))} approved by "
            f"{escape(str(waiver.get('approver')))} until {waiver.get('expires')}: "
            f"{escape(str(waiver.get('reason')))})"
        )
    if report.passed:
        console.print(
            f"[green]PASS[/green] {report.source}: no policy violations"
            + (f", {len(report.warnings)} warning(s)" if report.warnings else "")
            + (f", {len(report.waived)} waived" if report.waived else "")
        )
    else:
        rules = sorted({f.rule for f in report.findings})
        parts = []
        if report.findings:
            parts.append(f"{len(report.findings)} violation(s) of {', '.join(rules)}")
        if report.missing:
            parts.append(f"{len(report.missing)} missing approval(s)")
        if report.warnings:
            parts.append(f"{len(report.warnings)} warning(s)")
        if report.waived:
            parts.append(f"{len(report.waived)} waived")
        console.print(f"[red]FAIL[/red] {report.source}: " + ", ".join(parts))
    return buffer.getvalue()
