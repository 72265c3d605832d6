"""The governance review's content for a period, section by section (see the package)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from plantctl.core.problems import InvalidInput
from plantctl.gate import changes
from plantctl.model.inventory import Inventory
from plantctl.model.ownership import RESPONSIBILITIES, resolve
from plantctl.reports import decision_record
from plantctl.reports import drift as drift_report
from plantctl.reports.governance.history import (
    Commit,
    GateRecords,
    _gate_label,
    _git,
    _load_at,
    approvers_of,
    base_inv_time,
    commits,
    resolve_since,
)

DEVICE_KINDS = ("machine", "gateway", "collector")


GRANT_DAYS = 14


TRAINING_DAYS = 30


SECURITY_PATHS = ("policies/", ".github/", "inventory/schema/", "src/plantctl/gate/engine.py")


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
    # A snapshot of the running plant (plantctl plant snapshot; --plant): its sections
    # (device health, data accuracy, goal progress) are governance/plant.py's.
    plant: dict | None = None
    # An access log (plantctl access log --format json; --access-log): "remote access used".
    access: dict | None = None


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
    plant: dict | None = None,
    access: dict | None = None,
) -> Review:
    now = now or datetime.now(UTC)
    head = changes.resolve(repo, until)
    # Bad input stops the review before anything is read (the export is read at the head).
    drifted = (
        drift_report.run(_load_at(repo, head), drift_export, now=now) if drift_export else None
    )
    base = resolve_since(repo, since)
    gate = GateRecords(repo)
    found, series, skipped = _history(repo, base, head, gate)
    head_inv = _load_at(repo, head)
    grants_active, grants_expiring, durations = _grants(head_inv, now)
    gate_records = _gate_records(repo, gate, base, head, found)
    return Review(
        since=since,
        base=base,
        head=head,
        now=now,
        commits=commits(repo, base, head),
        changes=found,
        devices=_devices(head_inv, found),
        series=series,
        machine_requests=_machine_requests(head_inv, found),
        grants_active=grants_active,
        grants_expiring=grants_expiring,
        grant_durations=durations,
        training_expiring=_training_expiring(head_inv, now),
        ownership_gaps=_ownership_gaps(head_inv),
        reason_code_changes=[
            _short(c)
            for c in found
            if (c["kind"] == "data_class" and "reason" in c["id"])
            or (c["kind"] == "term" and "reason" in c["id"])
            or (c["kind"] == "ownership" and _touches_reason_codes(c))
        ],
        data_class_changes=_of_kind(found, "data_class"),
        glossary_changes=_of_kind(found, "term"),
        open_waivers=_open_waivers(head_inv, now),
        policy_changes=_policy_changes(repo, base, head),
        new_conduits=[_short(c) for c in found if c["kind"] == "conduit" and c["op"] == "added"],
        skipped=skipped,
        gate_records=gate_records,
        mismatched=[g for g in gate_records if not g["matches"]],
        drift=drifted,
        plant=plant,
        access=access,
    )


def _history(repo: Path, base: str | None, head: str, gate: GateRecords):
    """Every change of the period with its commit, approvers and gate record; devices per site
    after each commit; the commits whose inventory did not load."""
    base_inv = _load_at(repo, base) if base else None
    skipped: list[str] = []
    found: list[dict] = []
    series = [(base_inv_time(repo, base), _devices_per_site(base_inv))] if base else []
    previous = base_inv
    for commit in commits(repo, base, head, "inventory"):
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
    return found, series, skipped


def _devices(head_inv: Inventory, found: list[dict]) -> dict[str, dict]:
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
    return dict(sorted(devices.items()))


def _machine_requests(head_inv: Inventory, found: list[dict]) -> list[dict]:
    return [
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


def _grants(head_inv: Inventory, now: datetime):
    """Grants active now, expiring within GRANT_DAYS, and every grant's duration in hours."""
    active, expiring, durations = [], [], []
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
            active.append(row)
        if end is not None and now <= end < now + timedelta(days=GRANT_DAYS):
            expiring.append({**row, "days_left": (end - now).days})
    return active, expiring, durations


def _training_expiring(head_inv: Inventory, now: datetime) -> list[dict]:
    """Training that expires within TRAINING_DAYS and is not renewed by a later record."""
    expiring = []
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
            expiring.append(
                {"person": data["person"], "role": data["role"], "expires": str(data["expires"])}
            )
    return expiring


def _ownership_gaps(head_inv: Inventory) -> list[dict]:
    """Places (site, zone) where a responsibility resolves to no team. That a named team exists
    and has members the loader has already checked (INV-REF): one check per fact."""
    gaps = []
    for site in head_inv.sites():
        places = [(site, None)] + [(site, z.id) for z in head_inv.site_objects("zone", site)]
        for where_site, zone in places:
            owners = resolve(head_inv, where_site, zone)
            for resp in RESPONSIBILITIES:
                value = owners.get(resp)
                values = value.values() if isinstance(value, dict) else [value]
                gaps += [
                    {
                        "site": where_site,
                        "zone": zone,
                        "responsibility": resp,
                        "problem": "no accountable team",
                    }
                    for team in values
                    if not team
                ]
    return gaps


def _of_kind(found: list[dict], *kinds: str) -> list[dict]:
    return [_short(c) for c in found if c["kind"] in kinds]


def _open_waivers(head_inv: Inventory, now: datetime) -> list[dict]:
    return [
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


def _policy_changes(repo: Path, base: str | None, head: str) -> list[str]:
    files = (
        _git(repo, "diff", "--name-only", base, head).split()
        if base
        else _git(repo, "ls-tree", "-r", "--name-only", head).split()
    )
    return sorted(f for f in files if f.startswith(SECURITY_PATHS))


def _gate_records(
    repo: Path, gate: GateRecords, base: str | None, head: str, found: list[dict]
) -> list[dict]:
    """Every record of the period (covering one of its commits, or on one of them),
    recomputed at its own revisions."""
    period = {c.sha for c in commits(repo, base, head)}
    relevant = {id(c["record"]): c["record"] for c in found if c["record"] is not None}
    for r in gate.records:
        if r["annotated"] in period:
            relevant[id(r)] = r
    records = []
    for r in sorted(relevant.values(), key=lambda r: str(r.get("decided_at"))):
        found_differences = decision_record.verify(repo, r)
        records.append(
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
    return records


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
