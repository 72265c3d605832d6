"""The access log (issue 14, item 5): who reached what, when, for how long, from the plant itself.

Three sources, each the runtime's own record (read by `plantctl.lab.journals` in the lab):
- the bastion's sshd (journal, SYSLOG_IDENTIFIER=sshd): every login of a grant account, its
  source and its end; every refused attempt, and why (a certificate outside its window, a
  revoked or expired key, a refused second factor);
- the bastion's forward audit (SYSLOG_IDENTIFIER=plantctl-forward-audit,
  plantctl.configs.forward_logger): one event per forwarded connection with bytes each way;
- each gateway's tlog (SYSLOG_IDENTIFIER=tlog-rec-session): the recorded shell sessions of
  grants with `session_recording: true`.

Accounts are grant ids (plantctl.plant.grants), so every line names its grant; the inventory
adds the person. Pure functions of the journal entries: nothing here reads a machine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from plantctl.model.inventory import Inventory

BASTION_MATCHES = ["SYSLOG_IDENTIFIER=sshd", "+", "SYSLOG_IDENTIFIER=plantctl-forward-audit"]
GATEWAY_MATCHES = ["SYSLOG_IDENTIFIER=tlog-rec-session"]
FORWARD_ID = "plantctl-forward-audit"
OUTPUT_CHARS = 2000  # of a recorded session's output kept in the log (the journal has it all)

ACCEPTED = re.compile(r"^Accepted (\S+) for (\S+) from (\S+) port (\d+)")
PARTIAL = re.compile(r"^Partial (\S+) for (\S+) from (\S+) port (\d+)")
ENDED = re.compile(r"^(?:Disconnected from user|Connection closed by user) (\S+) (\S+) port (\d+)")
CLOSED = re.compile(r"^pam_unix\(sshd:session\): session closed for user (\S+)")
FAILED = re.compile(r"^Failed (\S+) for (?:invalid user )?(\S+) from (\S+) port (\d+)")
GAVE_UP = re.compile(
    r"^(?:Connection closed by|Disconnected from|Received disconnect from)"
    r" (?:authenticating|invalid) user (\S+) (\S+) port (\d+).*\[preauth\]"
)
INVALID = re.compile(r"^Invalid user (\S+) from (\S+) port (\d+)")
# Why sshd refused, from lines of the same connection (process) that name no user
REASONS = (
    (re.compile(r"Certificate invalid: expired"), "outside window: certificate expired"),
    (
        re.compile(r"Certificate invalid: not yet valid"),
        "outside window: certificate not yet valid",
    ),
    # the key line's only time option is expiry-time (a from= mismatch says so first, below)
    (re.compile(r"^error: Refused by key options"), "outside window: key expired"),
    (re.compile(r"not from a permitted host"), "source not permitted"),
    (re.compile(r"revoked", re.I), "revoked"),
    (re.compile(r"^error: PAM: Authentication failure"), "second factor refused"),
)


def _when(entry: Mapping) -> datetime:
    return datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class AccessLog:
    site: str
    since: datetime
    sessions: list[dict] = field(default_factory=list)
    forwards: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    recordings: list[dict] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # machine -> what was read

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "since": _iso(self.since),
            "sources": self.sources,
            "sessions": self.sessions,
            "forwards": self.forwards,
            "refused": self.refused,
            "recordings": self.recordings,
        }


def _people(inv: Inventory, site: str) -> dict[str, dict]:
    """Grant account (the grant id) -> grant, person, target, window."""
    return {
        key: {
            "grant": key,
            "person": rec.data.get("person"),
            "target": rec.data.get("target"),
            "start": rec.data.get("start"),
            "end": rec.data.get("end"),
        }
        for key, rec in inv.of("grant").items()
        if rec.data.get("site") == site
    }


def _grant_fields(grants: Mapping[str, dict], account: str) -> dict:
    g = grants.get(account)
    return {"grant": g["grant"] if g else None, "person": g["person"] if g else None}


def bastion_sessions(
    entries: Iterable[Mapping], grants: Mapping[str, dict], bastion: str
) -> tuple[list[dict], list[dict]]:
    """Sessions (accepted logins and their ends) and refused attempts from sshd's journal; one
    sshd process per connection, so lines are tied by their _PID."""
    sessions: dict[str, dict] = {}
    refused: list[dict] = []
    reasons: dict[str, list[str]] = {}
    partial: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: int(e["__REALTIME_TIMESTAMP"])):
        if entry.get("SYSLOG_IDENTIFIER") != "sshd":
            continue
        msg, pid, at = str(entry.get("MESSAGE", "")), str(entry.get("_PID", "")), _when(entry)
        for pattern, reason in REASONS:
            if pattern.search(msg):
                reasons.setdefault(pid, []).append(reason)
        if m := PARTIAL.match(msg):
            partial[pid] = m[1]
        elif m := ACCEPTED.match(msg):
            methods = [x for x in (partial.pop(pid, None), m[1]) if x]
            sessions[pid] = {
                "account": m[2], **_grant_fields(grants, m[2]), "bastion": bastion,
                "source": f"{m[3]}:{m[4]}", "start": at, "end": None, "methods": methods,
            }  # fmt: skip
        elif ENDED.match(msg) or CLOSED.match(msg):
            if pid in sessions and sessions[pid]["end"] is None:
                sessions[pid]["end"] = at
        elif (m := FAILED.match(msg)) or (m := GAVE_UP.match(msg)) or (m := INVALID.match(msg)):
            if pid in sessions:
                continue  # a failed method before the accepted one
            user = m[2] if msg.startswith("Failed") else m[1]
            source = f"{m[3]}:{m[4]}" if msg.startswith("Failed") else f"{m[2]}:{m[3]}"
            why = reasons.get(pid) or (["second factor not given"] if pid in partial else [])
            if "source not permitted" in why:
                why = ["source not permitted"]
            refused.append({
                "account": user, **_grant_fields(grants, user), "bastion": bastion,
                "source": source, "at": at, "reason": why[0] if why else "refused",
                "outside_window": any(r.startswith("outside window") for r in why),
            })  # fmt: skip
    # one refused entry per connection: sshd logs a failure per method and a final goodbye
    unique: dict[tuple, dict] = {}
    for r in refused:
        key = (r["account"], r["source"])
        if key not in unique or (r["reason"] != "refused" and unique[key]["reason"] == "refused"):
            unique[key] = r
    out = []
    for s in sessions.values():
        seconds = (s["end"] - s["start"]).total_seconds() if s["end"] else None
        out.append({**s, "start": _iso(s["start"]), "end": _iso(s["end"]), "seconds": seconds})
    rows = [{**r, "at": _iso(r["at"])} for r in unique.values()]
    return out, sorted(rows, key=lambda r: r["at"] or "")


def forward_events(entries: Iterable[Mapping], bastion: str) -> list[dict]:
    """The forward audit's events (JSON lines), as they were written."""
    found = []
    for entry in entries:
        if entry.get("SYSLOG_IDENTIFIER") != FORWARD_ID:
            continue
        try:
            event = json.loads(str(entry.get("MESSAGE", "")))
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "forward":
            start, end = _parse_iso(event["start"]), _parse_iso(event["end"])
            found.append({**event, "bastion": bastion, "seconds": (end - start).total_seconds()})
    return sorted(found, key=lambda e: e["start"])


def recordings(entries: Iterable[Mapping], grants: Mapping[str, dict], gateway: str) -> list[dict]:
    """tlog's records on one gateway, one row per recorded session (tlog's `rec` id)."""
    by_rec: dict[str, dict] = {}
    for entry in sorted(entries, key=lambda e: int(e["__REALTIME_TIMESTAMP"])):
        try:
            record = json.loads(str(entry.get("MESSAGE", "")))
        except ValueError:
            continue
        if not isinstance(record, dict) or "rec" not in record:
            continue
        at = _when(entry)
        row = by_rec.setdefault(
            str(record["rec"]),
            {
                "gateway": gateway, "account": record.get("user"),
                **_grant_fields(grants, str(record.get("user"))),
                "recording": str(record["rec"]), "start": at, "end": at, "output": "",
            },
        )  # fmt: skip
        row["end"] = at
        if len(row["output"]) < OUTPUT_CHARS:
            row["output"] = (row["output"] + str(record.get("out_txt", "")))[:OUTPUT_CHARS]
    return [
        {**r, "start": _iso(r["start"]), "end": _iso(r["end"])}
        for r in sorted(by_rec.values(), key=lambda r: r["start"])
    ]


def build(
    inv: Inventory,
    site: str,
    since: datetime,
    bastion: tuple[str, list[dict] | None],
    gateways: Mapping[str, list[dict] | None],
) -> AccessLog:
    """The access log of a site from the journal entries read (None: that machine is not a
    booted machine here, so nothing could be read from it)."""
    grants = _people(inv, site)
    log = AccessLog(site, since)
    name, entries = bastion
    if entries is None:
        log.sources[name] = "not booted: no journal read"
    else:
        log.sources[name] = f"{len(entries)} journal entries (sshd, forward audit)"
        log.sessions, log.refused = bastion_sessions(entries, grants, name)
        log.forwards = forward_events(entries, name)
    for gw, gw_entries in sorted(gateways.items()):
        if gw_entries is None:
            log.sources[gw] = "not a booted machine here (a stand-in): no recordings read"
            continue
        log.sources[gw] = f"{len(gw_entries)} journal entries (tlog)"
        log.recordings += recordings(gw_entries, grants, gw)
    return log


def usage(log: Mapping[str, Any]) -> list[dict]:
    """Per grant: sessions, their total time, forwards, bytes, recorded sessions and the
    attempts refused outside its window (the review's "remote access used")."""
    rows: dict[str, dict] = {}

    def row(grant: str | None, person: str | None) -> dict:
        key = grant or "(no grant)"
        return rows.setdefault(key, {
            "grant": key, "person": person, "sessions": 0, "seconds": 0.0, "forwards": 0,
            "bytes": 0, "recorded": 0, "refused": 0, "refused_outside_window": 0,
        })  # fmt: skip

    for s in log.get("sessions", []):
        r = row(s.get("grant"), s.get("person"))
        r["sessions"] += 1
        r["seconds"] += s.get("seconds") or 0.0
    for f in log.get("forwards", []):
        r = row(f.get("grant"), f.get("person"))
        r["forwards"] += 1
        r["bytes"] += int(f.get("bytes_to_target", 0)) + int(f.get("bytes_from_target", 0))
    for rec in log.get("recordings", []):
        row(rec.get("grant"), rec.get("person"))["recorded"] += 1
    for x in log.get("refused", []):
        r = row(x.get("grant"), x.get("person"))
        r["refused"] += 1
        r["refused_outside_window"] += 1 if x.get("outside_window") else 0
    return [rows[k] for k in sorted(rows)]


def render_text(log: AccessLog) -> str:
    doc = log.as_dict()
    out = [f"access log: site {log.site} since {doc['since']}", ""]
    for machine, what in doc["sources"].items():
        out.append(f"  read {machine}: {what}")
    out.append("")
    out.append(f"sessions at the bastion ({len(log.sessions)}):")
    for s in log.sessions:
        took = f"{s['seconds']:.0f} s" if s["seconds"] is not None else "open"
        out.append(
            f"  {s['start']}  {s['grant'] or s['account']} ({s['person'] or '?'}) from "
            f"{s['source']}, {took}, {'+'.join(s['methods'])}"
        )
    out.append(f"forwards ({len(log.forwards)}):")
    for f in log.forwards:
        out.append(
            f"  {f['start']}  {f['grant']} ({f['person']}) {f['source'] or '?'} -> {f['target']}, "
            f"{f['seconds']:.1f} s, {f['bytes_to_target']} B out, {f['bytes_from_target']} B back"
        )
    out.append(f"recorded shell sessions ({len(log.recordings)}):")
    for r in log.recordings:
        out.append(f"  {r['start']}  {r['grant'] or r['account']} on {r['gateway']} ({r['end']})")
    out.append(f"refused attempts ({len(log.refused)}):")
    for x in log.refused:
        out.append(f"  {x['at']}  {x['grant'] or x['account']} from {x['source']}: {x['reason']}")
    return "\n".join(out) + "\n"


def render_json(log: AccessLog) -> str:
    return json.dumps(log.as_dict(), indent=1, sort_keys=True) + "\n"
