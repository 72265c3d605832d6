"""The governance review (principle 7 of docs/architecture.md) for a period: what changed in the
plant since a revision or a date, and what needs attention now, from the git history and the
inventory.

Each commit of the period that touches inventory/ is loaded with the one loader (GitSource, its
own schemas) and compared with the one before (changes.diff), so every change is attributed to
the commit and author that brought it, and to the approvals the gate counted for it: read from
the gate's decision records (plantctl.reports.decision_record; git notes under
refs/notes/plantctl-gate, fetch them with `git fetch origin
refs/notes/plantctl-gate:refs/notes/plantctl-gate`), not from commit messages. A commit's record
is the latest one whose base..head range holds the commit (or whose head has the commit's tree:
a squash merge). Every record of the period is recomputed at its own revisions; one that does
not match is reported. Charts (devices per site over time, grant durations) are drawn to PNG
with matplotlib (Agg)."""

from __future__ import annotations

import base64
import html
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from plantctl.core import atomic
from plantctl.core.problems import InvalidInput, Problem
from plantctl.gate import changes
from plantctl.model.inventory import Inventory
from plantctl.model.loader import load
from plantctl.model.ownership import RESPONSIBILITIES, resolve
from plantctl.model.sources import GitError, GitSource
from plantctl.reports import decision_record
from plantctl.reports import drift as drift_report

DEVICE_KINDS = ("machine", "gateway", "collector")
GRANT_DAYS = 14
TRAINING_DAYS = 30
SECURITY_PATHS = ("policies/", ".github/", "inventory/schema/", "src/plantctl/gate/engine.py")


@dataclass
class Commit:
    sha: str
    author: str
    when: datetime
    subject: str


@dataclass
class Review:
    since: str
    base: str | None
    head: str
    now: datetime
    commits: list[Commit]
    changes: list[dict]  # {kind, id, op, site, commit, author, when, approvers}
    devices: dict[str, dict]  # site -> {count, added, removed, modified}
    series: list[tuple[datetime, dict[str, int]]]  # devices per site after each commit
    machine_requests: list[dict]
    grants_active: list[dict]
    grants_expiring: list[dict]
    grant_durations: list[tuple[str, float]]
    training_expiring: list[dict]
    ownership_gaps: list[dict]
    reason_code_changes: list[dict]
    data_class_changes: list[dict]
    glossary_changes: list[dict]
    open_waivers: list[dict]
    policy_changes: list[str]
    new_conduits: list[dict]
    skipped: list[str] = field(default_factory=list)  # commits whose inventory did not load
    # The gate's decision records of the period: {head, base, decision, decided_at, approvals,
    # matches, differences}; and those that do not match a recomputation at their revisions.
    gate_records: list[dict] = field(default_factory=list)
    mismatched: list[dict] = field(default_factory=list)
    # plantctl drift of the head's inventory against a monitoring export (--drift-export).
    drift: drift_report.Result | None = None


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def resolve_since(repo: Path, since: str) -> str | None:
    """A revision, or the last commit before a date (None: the history starts after it)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", since):
        found = _git(repo, "rev-list", "-1", f"--before={since}", "HEAD").strip()
        return found or None
    try:
        return changes.resolve(repo, since)
    except GitError:
        raise InvalidInput(
            [Problem(".", 1, 1, f"--since {since!r} is neither a revision nor a date", "REV-GIT")]
        ) from None


def commits(repo: Path, base: str | None, head: str, path: str | None = None) -> list[Commit]:
    fmt = "%H%x1f%an%x1f%aI%x1f%s%x1e"
    rng = f"{base}..{head}" if base else head
    args = ["log", "--reverse", f"--format={fmt}", rng]
    if path:
        args += ["--", path]
    out = []
    for chunk in _git(repo, *args).split("\x1e"):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        sha, author, when, subject = chunk.split("\x1f")
        out.append(Commit(sha, author, datetime.fromisoformat(when), subject))
    return out


class GateRecords:
    """The gate's decision records of a repository, and which of them covers a commit."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.records = [
            {**record, "annotated": commit}
            for commit, records in decision_record.notes(repo).items()
            for record in records
        ]
        self._ranges: dict[tuple[str, str], set[str]] = {}
        self._trees: dict[str, str] = {}

    def _range(self, record: dict) -> set[str]:
        key = (str(record.get("base")), str(record.get("head")))
        if key not in self._ranges:
            try:
                self._ranges[key] = set(_git(self.repo, "rev-list", f"{key[0]}..{key[1]}").split())
            except GitError:  # a revision this clone does not have
                self._ranges[key] = set()
        return self._ranges[key]

    def _tree(self, rev: str) -> str:
        if rev not in self._trees:
            try:
                self._trees[rev] = _git(self.repo, "rev-parse", f"{rev}^{{tree}}").strip()
            except GitError:
                self._trees[rev] = ""
        return self._trees[rev]

    def covering(self, commit: str) -> dict | None:
        """The latest record whose pull request brought `commit` (by range, or by its tree)."""
        found = [
            r
            for r in self.records
            if commit in self._range(r)
            or (self._tree(commit) and self._tree(str(r.get("head"))) == self._tree(commit))
        ]
        return max(found, key=lambda r: str(r.get("decided_at")), default=None)


def approvers_of(record: dict | None, kind: str, object_id: str) -> list[str]:
    """Who the gate counted for the object in its record (every team it was needed by)."""
    if record is None:
        return []
    key = f"{kind} {object_id}"
    required = (record.get("approvals") or {}).get("required") or []
    return sorted(
        {
            lg
            for a in required
            if key in (a.get("objects") or [])
            for lg in a.get("approved_by") or []
        }
    )


def _gate_label(record: dict | None) -> str:
    if record is None:
        return "no gate record"
    return f"gate {record.get('decision')} at {str(record.get('head'))[:12]}"


def _load_at(repo: Path, rev: str) -> Inventory:
    with tempfile.TemporaryDirectory(prefix="plantctl-review-") as tmp:
        schema_root = changes.export_tree(repo, rev, "inventory/schema", Path(tmp))
        return load(GitSource(repo, rev), schema_root=schema_root)


def _devices_per_site(inv: Inventory | None) -> dict[str, int]:
    if inv is None:
        return {}
    counts = {site: 0 for site in inv.sites()}
    for kind in DEVICE_KINDS:
        for rec in inv.of(kind).values():
            site = rec.site or "?"
            counts[site] = counts.get(site, 0) + 1
    return counts


def _day(text) -> datetime:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day, tzinfo=UTC)
    value = str(text)
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build(
    repo: Path,
    since: str,
    now: datetime | None = None,
    until: str = "HEAD",
    drift_export: Path | None = None,
) -> Review:
    now = now or datetime.now(UTC)
    head = changes.resolve(repo, until)
    # Bad input stops the review before anything is read (the export is read at the head).
    drifted = (
        drift_report.run(_load_at(repo, head), drift_export, now=now) if drift_export else None
    )
    base = resolve_since(repo, since)
    base_inv = _load_at(repo, base) if base else None
    history = commits(repo, base, head, "inventory")
    gate = GateRecords(repo)
    skipped: list[str] = []
    found: list[dict] = []
    series = [(base_inv_time(repo, base), _devices_per_site(base_inv))] if base else []
    previous = base_inv
    for commit in history:
        try:
            inv = _load_at(repo, commit.sha)
        except InvalidInput as exc:
            skipped.append(f"{commit.sha[:12]} {commit.subject} ({len(exc.problems)} problem(s))")
            continue
        empty = Inventory("empty", {}, {})
        record = gate.covering(commit.sha)
        for change in changes.diff(previous or empty, inv):
            found.append(
                {
                    "kind": change.kind,
                    "id": change.id,
                    "op": change.op,
                    "site": change.site,
                    "file": change.file,
                    "line": change.line,
                    "commit": commit.sha,
                    "subject": commit.subject,
                    "author": commit.author,
                    "when": commit.when.isoformat(),
                    "approvers": approvers_of(record, change.kind, change.id),
                    "gate": _gate_label(record),
                    "record": record,
                    "after": change.after,
                }
            )
        series.append((commit.when, _devices_per_site(inv)))
        previous = inv
    head_inv = _load_at(repo, head)

    devices: dict[str, dict] = {}
    for site, n in _devices_per_site(head_inv).items():
        devices[site] = {"count": n, "added": [], "removed": [], "modified": []}
    for c in found:
        if c["kind"] in DEVICE_KINDS:
            entry = devices.setdefault(
                c["site"] or "?", {"count": 0, "added": [], "removed": [], "modified": []}
            )
            entry[c["op"]].append(f"{c['kind']} {c['id']}")
    for entry in devices.values():
        for op in ("added", "removed", "modified"):
            entry[op] = sorted(dict.fromkeys(entry[op]))

    machine_requests = [
        {
            "id": c["id"],
            "site": c["site"],
            "name": (c["after"] or {}).get("name", ""),
            "criticality": (c["after"] or {}).get("criticality", ""),
            "requested_by": c["author"],
            "approved_by": c["approvers"],
            "gate": c["gate"],
            "commit": c["commit"][:12],
            "subject": c["subject"],
            "when": c["when"][:10],
        }
        for c in found
        if c["kind"] == "machine" and c["op"] == "added" and head_inv.get("machine", c["id"])
    ]

    grants_active, grants_expiring, durations = [], [], []
    for key, rec in sorted(head_inv.of("grant").items()):
        data = rec.data
        start = _day(data["start"])
        end = _day(data["end"]) if data.get("end") else None
        row = {
            "id": key,
            "person": data["person"],
            "target": data["target"],
            "start": str(data["start"]),
            "end": str(data.get("end")),
        }
        if end is not None:
            durations.append((key, (end - start).total_seconds() / 3600))
        if start <= now and (end is None or now < end):
            grants_active.append(row)
        if end is not None and now <= end < now + timedelta(days=GRANT_DAYS):
            grants_expiring.append({**row, "days_left": (end - now).days})

    training_expiring = []
    records = list(head_inv.of("training").values())
    horizon = now + timedelta(days=TRAINING_DAYS)
    for rec in sorted(records, key=lambda r: r.key):
        data = rec.data
        expires = _day(data["expires"])
        if not now <= expires < horizon:
            continue
        renewed = any(
            other.data["person"] == data["person"]
            and other.data["role"] == data["role"]
            and _day(other.data["expires"]) >= horizon
            for other in records
        )
        if not renewed:
            training_expiring.append(
                {"person": data["person"], "role": data["role"], "expires": str(data["expires"])}
            )

    teams = head_inv.of("team")
    gaps = []
    for site in head_inv.sites():
        places = [(site, None)] + [(site, z.id) for z in head_inv.site_objects("zone", site)]
        for where_site, zone in places:
            owners = resolve(head_inv, where_site, zone)
            for resp in RESPONSIBILITIES:
                value = owners.get(resp)
                values = value.values() if isinstance(value, dict) else [value]
                for team in values:
                    problem = None
                    if not team:
                        problem = "no accountable team"
                    elif team not in teams:
                        problem = f"team {team} does not exist"
                    elif not teams[team].data.get("members"):
                        problem = f"team {team} has no members"
                    if problem:
                        gaps.append(
                            {
                                "site": where_site,
                                "zone": zone,
                                "responsibility": resp,
                                "problem": problem,
                            }
                        )

    def of_kind(*kinds: str) -> list[dict]:
        return [_short(c) for c in found if c["kind"] in kinds]

    reason = [
        _short(c)
        for c in found
        if (c["kind"] == "data_class" and "reason" in c["id"])
        or (c["kind"] == "term" and "reason" in c["id"])
        or (c["kind"] == "ownership" and _touches_reason_codes(c))
    ]
    open_waivers = [
        {
            "id": key,
            "rule": rec.data["rule"],
            "object": f"{rec.data['kind']} {rec.data['object']}",
            "approver": rec.data["approver"],
            "expires": str(rec.data["expires"]),
            "reason": rec.data["reason"],
        }
        for key, rec in sorted(head_inv.of("waiver").items())
        if now < _day(rec.data["expires"])
    ]
    files = (
        _git(repo, "diff", "--name-only", base, head).split()
        if base
        else _git(repo, "ls-tree", "-r", "--name-only", head).split()
    )
    policy_changes = sorted(f for f in files if f.startswith(SECURITY_PATHS))
    new_conduits = [_short(c) for c in found if c["kind"] == "conduit" and c["op"] == "added"]

    # Every record of the period (covering one of its commits, or on one of them), recomputed.
    period = {c.sha for c in commits(repo, base, head)}
    relevant = {id(c["record"]): c["record"] for c in found if c["record"] is not None}
    for r in gate.records:
        if r["annotated"] in period:
            relevant[id(r)] = r
    gate_records = []
    for r in sorted(relevant.values(), key=lambda r: str(r.get("decided_at"))):
        found_differences = decision_record.verify(repo, r)
        gate_records.append(
            {
                "head": str(r.get("head")),
                "base": str(r.get("base")),
                "decision": r.get("decision"),
                "exit": r.get("exit"),
                "decided_at": r.get("decided_at"),
                "policy": (r.get("policy") or {}).get("sha256") or "",
                "approved_by": sorted(
                    {
                        f"{c['login']} ({c['team']})"
                        for c in (r.get("approvals") or {}).get("counted") or []
                    }
                ),
                "missing": (r.get("approvals") or {}).get("missing") or [],
                "matches": not found_differences,
                "differences": found_differences,
            }
        )

    return Review(
        since=since,
        base=base,
        head=head,
        now=now,
        commits=commits(repo, base, head),
        changes=found,
        devices=dict(sorted(devices.items())),
        series=series,
        machine_requests=machine_requests,
        grants_active=grants_active,
        grants_expiring=grants_expiring,
        grant_durations=durations,
        training_expiring=training_expiring,
        ownership_gaps=gaps,
        reason_code_changes=reason,
        data_class_changes=of_kind("data_class"),
        glossary_changes=of_kind("term"),
        open_waivers=open_waivers,
        policy_changes=policy_changes,
        new_conduits=new_conduits,
        skipped=skipped,
        gate_records=gate_records,
        mismatched=[g for g in gate_records if not g["matches"]],
        drift=drifted,
    )


def base_inv_time(repo: Path, base: str) -> datetime:
    return datetime.fromisoformat(_git(repo, "log", "-1", "--format=%aI", base).strip())


def _touches_reason_codes(change: dict) -> bool:
    return "reason-code-updates" in str(change.get("after"))


def _short(c: dict) -> dict:
    return {
        "kind": c["kind"],
        "id": c["id"],
        "op": c["op"],
        "commit": c["commit"][:12],
        "author": c["author"],
        "approvers": c["approvers"],
        "gate": c["gate"],
        "when": c["when"][:10],
    }


# -- charts -----------------------------------------------------------------------------------


def charts(review: Review, folder: Path) -> dict[str, Path]:
    """devices-per-site.png and grant-durations.png in folder (matplotlib, Agg, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    sites = sorted({s for _, counts in review.series for s in counts})
    for site in sites:
        xs = [when for when, _ in review.series]
        ys = [counts.get(site, 0) for _, counts in review.series]
        ax.step(xs, ys, where="post", marker="o", label=site)
    ax.set_title("Devices per site (machines, gateways, collectors)")
    ax.set_ylabel("devices")
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    if sites:
        ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    out["devices"] = folder / "devices-per-site.png"
    fig.savefig(out["devices"])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(review.grant_durations))), dpi=100)
    names = [k for k, _ in review.grant_durations]
    hours = [h for _, h in review.grant_durations]
    ax.barh(names, hours, color="#4c78a8")
    ax.set_xlabel("hours of access")
    ax.set_title("Remote-access grant durations")
    fig.tight_layout()
    out["grants"] = folder / "grant-durations.png"
    fig.savefig(out["grants"])
    plt.close(fig)
    return out


# -- Markdown and HTML ------------------------------------------------------------------------


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
    for title, header, rows in _sections(review):
        out += [f"## {title}", ""]
        if title.startswith("Remote-access grants") and "grants" in images:
            out += [f"![Grant durations]({images['grants'].name})", ""]
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
        return f'<img alt="{alt}" src="data:image/png;base64,{data}">'

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
    for title, header, rows in _sections(review):
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        out.append(f"<h2 id='{slug}'>{e(title)}</h2>")
        if title.startswith("Remote-access grants"):
            out.append(img("grants", "Grant durations"))
        if not rows:
            out.append("<p>None.</p>")
            continue
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write(review: Review, output: Path) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    images = charts(review, output)
    written = list(images.values())
    for name, text in (
        ("review.md", render_markdown(review, images)),
        ("review.html", render_html(review, images)),
    ):
        written.append(atomic.write_text(output / name, text))
    return written
