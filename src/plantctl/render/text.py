"""The check report for a person at a terminal (colour only when it is one)."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.markup import escape

from plantctl.check import Finding, Report


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
    for f in report.findings:
        console.print(_line(f))
    for f in report.warnings:
        console.print(_line(f))
    if report.passed:
        console.print(
            f"[green]PASS[/green] {report.source}: no policy violations"
            + (f", {len(report.warnings)} warning(s)" if report.warnings else "")
        )
    else:
        rules = sorted({f.rule for f in report.findings})
        console.print(
            f"[red]FAIL[/red] {report.source}: {len(report.findings)} violation(s) of "
            f"{', '.join(rules)}"
            + (f", {len(report.warnings)} warning(s)" if report.warnings else "")
        )
    return buffer.getvalue()
