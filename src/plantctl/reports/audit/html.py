"""The evidence pack as one offline HTML page."""

from __future__ import annotations

import html

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d232b}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #d0d7de}
.meta{color:#57606a;font-size:13px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f4f8}tr.sr-first td{border-top:2px solid #8c959f}
.holds{background:#dafbe1}.proven{background:#e3efff}.violated{background:#ffd8d3}.warning{background:#fff1c2}
.na,.unknown{background:#eef1f4}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
code{font-size:12px;overflow-wrap:anywhere}ul{margin:0;padding-left:16px}
.small{font-size:12px;color:#57606a;overflow-wrap:anywhere}
#control-matrix{table-layout:fixed}#control-matrix td{overflow-wrap:anywhere}
.c-sr{width:6%}.c-pr{width:10%}.c-rule{width:13%}.c-pol{width:12%}.c-t{width:17%}.c-today{width:9%}
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


def _runtime_cell(runtime: dict) -> str:
    if not runtime:
        return '<td class="small">policy only: no run-time promise tested</td>'
    css = {"enforced": "proven", "failed": "violated"}.get(runtime["status"], "warning")
    items = "".join(
        f"<li><code>{_e(t['test'])}</code>: {_e(t['outcome'])}"
        f"{' at ' + _e(t['finished']) if t.get('finished') else ''}</li>"
        for t in runtime["tests"]
    )
    # A count in the cell, the tests folded: a rule proven by eight lab tests keeps a short row.
    counts: dict[str, int] = {}
    for t in runtime["tests"]:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    said = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    return (
        f'<td class="{css}"><b>{_e(runtime["status"])}</b><details><summary>'
        f"{len(runtime['tests'])} lab test{'s' if len(runtime['tests']) != 1 else ''}: "
        f'{_e(said)}</summary><ul class="tests">{items}</ul></details></td>'
    )


def _diagrams(files: list[str], notes: list[str]) -> list[str]:
    """The zone-and-conduit diagrams beside the page, linked (and shown)."""
    if not files and not notes:
        return []
    out = ['<h2 id="zones">Zones and conduits</h2>']
    out += [f'<p class="small">{_e(n)}</p>' for n in notes]
    for name in files:
        out.append(
            f'<p><a href="{_e(name)}">{_e(name)}</a></p>'
            f'<p><a href="{_e(name)}"><img alt="{_e(name)}" src="{_e(name)}" '
            'style="max-width:100%"></a></p>'
        )
    return out


def render_html(
    pack: dict, diagrams: list[str] | None = None, diagram_notes: list[str] | None = None
) -> str:
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
        '<p class="small">IEC 62443-3-3 system requirement and principle (docs/architecture.md)'
        " → rule → where it is written → the tests that make it fire and its near misses → the"
        " lab tests that prove the runtime enforces it (sshd, PAM, nftables, tlog) and their"
        " latest results → its result on the inventory today: a rule with lab tests holds only"
        " when both do.</p>",
        '<table id="control-matrix"><thead><tr><th class="c-sr">IEC 62443-3-3</th>'
        '<th class="c-pr">Principle</th><th class="c-rule">Rule</th>'
        '<th class="c-pol">Policy</th><th class="c-t">Fires</th><th class="c-t">Near misses</th>'
        '<th class="c-t">Run time (lab)</th><th class="c-today">Today</th></tr></thead><tbody>',
    ]
    for control in pack["controls"]:
        for i, rid in enumerate(control["rules"]):
            r = rules[rid]
            status = r["result"].get("status", "unknown")
            css = {"n/a": "na", "declared only": "warning"}.get(status, status)
            out.append(
                f'<tr class="control-row{" sr-first" if i == 0 else ""}" '
                f'data-requirement="{_e(control["requirement"])}" data-rule="{_e(rid)}">'
                f"<td>{_e(control['requirement'])}</td><td>{_e(r['principle'])}</td>"
                f"<td><b>{_e(rid)}</b> {_e(r['title'])} <span class=small>({_e(r['severity'])}"
                f", {_e(r['owner'])})</span></td>"
                f"<td><code>{_e(r['file'])}:{r['line']}</code></td>"
                f"<td>{_tests_cell(r['fires'])}</td><td>{_tests_cell(r['near_misses'])}</td>"
                f"{_runtime_cell(r.get('runtime') or {})}"
                f'<td class="{_e(css)}">{_e(r["result"].get("text", ""))}</td></tr>'
            )
    out.append("</tbody></table>")

    out += _diagrams(diagrams or [], diagram_notes or [])
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
