"""The review as Markdown and as one HTML page."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from plantctl.reports import drift as drift_report
from plantctl.reports.governance import plant, remote_access
from plantctl.reports.governance.review import GRANT_DAYS, TRAINING_DAYS, Review


def _sections(review: Review) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every section, shared by Markdown and HTML."""

    def approvers(a: list[str], gate: str) -> str:
        if a:
            return ", ".join(a)
        return "(no gate record)" if gate == "no gate record" else f"(none counted; {gate})"

    return [
        (
            "Devices per site",
            ["site", "devices now", "added", "removed", "modified"],
            [
                [
                    site,
                    str(d["count"]),
                    ", ".join(d["added"]),
                    ", ".join(d["removed"]),
                    ", ".join(d["modified"]),
                ]
                for site, d in review.devices.items()
            ],
        ),
        (
            "New machine requests",
            ["machine", "site", "criticality", "requested by", "approved by", "commit", "date"],
            [
                [
                    m["id"],
                    m["site"] or "",
                    m["criticality"],
                    m["requested_by"],
                    approvers(m["approved_by"], m["gate"]),
                    f"{m['commit']} {m['subject']}",
                    m["when"],
                ]
                for m in review.machine_requests
            ],
        ),
        (
            "Remote-access grants active now",
            ["grant", "person", "target", "start", "end"],
            [
                [g["id"], g["person"], g["target"], g["start"], g["end"]]
                for g in review.grants_active
            ],
        ),
        (
            f"Grants expiring within {GRANT_DAYS} days",
            ["grant", "person", "target", "end", "days left"],
            [
                [g["id"], g["person"], g["target"], g["end"], str(g["days_left"])]
                for g in review.grants_expiring
            ],
        ),
        (
            f"Training expiring within {TRAINING_DAYS} days",
            ["person", "role", "expires"],
            [[t["person"], t["role"], t["expires"]] for t in review.training_expiring],
        ),
        (
            "Ownership gaps",
            ["site", "zone", "responsibility", "problem"],
            [
                [g["site"], g["zone"] or "(site)", g["responsibility"], g["problem"]]
                for g in review.ownership_gaps
            ],
        ),
        _changes_section("Reason-code changes", review.reason_code_changes),
        _changes_section("Data-class changes", review.data_class_changes),
        _changes_section("Glossary changes", review.glossary_changes),
        (
            "Open waivers",
            ["waiver", "rule", "object", "approver", "expires", "reason"],
            [
                [w["id"], w["rule"], w["object"], w["approver"], w["expires"], w["reason"]]
                for w in review.open_waivers
            ],
        ),
        (
            "Security items: policy and gate changes",
            ["file"],
            [[f] for f in review.policy_changes],
        ),
        _changes_section("Security items: new conduits", review.new_conduits),
        (
            "Gate decision records",
            ["head", "base", "decision", "decided", "approvals counted", "missing", "recomputed"],
            [
                [
                    g["head"][:12],
                    g["base"][:12],
                    f"{g['decision']} (exit {g['exit']})",
                    str(g["decided_at"]),
                    ", ".join(g["approved_by"]),
                    ", ".join(g["missing"]),
                    "matches" if g["matches"] else "DOES NOT MATCH",
                ]
                for g in review.gate_records
            ],
        ),
        (
            "Security items: gate records that do not match a recomputation",
            ["head", "decided", "what differs"],
            [
                [g["head"][:12], str(g["decided_at"]), "; ".join(g["differences"])]
                for g in review.mismatched
            ],
        ),
        *_drift_section(review),
        *(plant.sections(review.plant) if review.plant is not None else []),
        *remote_access.sections(review.access),
    ]


def _drift_section(review: Review) -> list[tuple[str, list[str], list[list[str]]]]:
    """plantctl drift's findings, when the review was given a monitoring export."""
    if review.drift is None:
        return []
    result = review.drift
    return [
        (
            f"Drift: the inventory against the network ({drift_report.summary(result)})",
            ["site", "finding", "where", "what"],
            [
                [f.site, f.kind, drift_report.location(f, result), f.message]
                for f in result.findings
            ],
        )
    ]


def _changes_section(title: str, items: list[dict]):
    return (
        title,
        ["change", "kind", "id", "commit", "author", "approved by", "date"],
        [
            [
                c["op"],
                c["kind"],
                c["id"],
                c["commit"],
                c["author"],
                ", ".join(c["approvers"]) or f"({c['gate']})",
                c["when"],
            ]
            for c in items
        ],
    )


def _period(review: Review) -> str:
    base = review.base[:12] if review.base else "the first commit"
    return (
        f"since {review.since} ({base}) up to {review.head[:12]}, as of "
        f"{review.now.strftime('%Y-%m-%d %H:%M UTC')}: {len(review.commits)} commit(s), "
        f"{len(review.changes)} inventory change(s)"
    )


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render_markdown(review: Review, images: dict[str, Path]) -> str:
    out = ["# Governance review", "", _period(review), ""]
    if "devices" in images:
        out += [f"![Devices per site over time]({images['devices'].name})", ""]
    zones = sorted(k for k in images if k.startswith("zones-"))
    if zones:
        out += ["## Zones and conduits", ""]
        out += [f"![Zones and conduits of {k[6:]}]({images[k].name})" for k in zones] + [""]
    for title, header, rows in _sections(review):
        out += [f"## {title}", ""]
        if title.startswith("Remote-access grants") and "grants" in images:
            out += [f"![Grant durations]({images['grants'].name})", ""]
        if (
            title.startswith("Goal progress of")
            and not title.endswith(("per machine", "per shift"))
            and "goals" in images
        ):
            out += [f"![Goal progress]({images['goals'].name})", ""]
        if title.startswith("Events of") and "timeline" in images:
            out += [f"![Events of the period]({images['timeline'].name})", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + " --- |" * len(header))
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        out.append("")
    if review.skipped:
        out += ["## Commits whose inventory did not load", ""]
        out += [f"- {_md_cell(s)}" for s in review.skipped] + [""]
    return "\n".join(out)


def render_html(review: Review, images: dict[str, Path]) -> str:
    def img(key: str, alt: str) -> str:
        if key not in images:
            return ""
        data = base64.b64encode(images[key].read_bytes()).decode()
        kind = "svg+xml" if images[key].suffix == ".svg" else "png"
        return f'<img alt="{alt}" src="data:image/{kind};base64,{data}">'

    e = html.escape
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Governance review</title><style>",
        "body{font-family:system-ui,sans-serif;margin:24px;color:#1d232b}"
        "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d0d7de;"
        "padding:4px 6px;text-align:left}th{background:#f1f4f8}h2{font-size:18px}",
        "</style></head><body><h1>Governance review</h1>",
        f"<p>{e(_period(review))}</p>",
        img("devices", "Devices per site over time"),
    ]
    zones = sorted(k for k in images if k.startswith("zones-"))
    if zones:
        out.append("<h2 id='zones-and-conduits'>Zones and conduits</h2>")
        out += [img(k, f"Zones and conduits of {k[6:]}") for k in zones]
    for title, header, rows in _sections(review):
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        out.append(f"<h2 id='{slug}'>{e(title)}</h2>")
        if title.startswith("Remote-access grants"):
            out.append(img("grants", "Grant durations"))
        if title.startswith("Goal progress of") and not title.endswith(
            ("per machine", "per shift")
        ):
            out.append(img("goals", "Goal progress"))
        if title.startswith("Events of"):
            out.append(img("timeline", "Events of the period"))
        if not rows:
            out.append("<p>None.</p>")
            continue
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
