"""Gate outputs and decision records.

`plantctl check --output-dir DIR` writes every format of ONE evaluation: gate.txt, gate.md
(the pull-request comment), gate.json, gate.sarif and, in pull-request mode, decision.json: the
decision record an auditor reads later. A record names the base and head, the policies that
judged (the base's policies/ revision and the sha256 of their files, or the bundle's digest),
the decision and exit code, the time it was judged as of, the approvals that counted and those
that did not (with why), and the code host's review answer as it was given, so that the decision
can be recomputed at its own revisions.

Records are kept as git notes on the head commit under refs/notes/plantctl-gate, one compact
JSON document per line (`git notes append`: every decision on a head is kept, the latest last):
`plantctl record add DIR/decision.json`, or `make gate ... NOTE=1`; the gate workflow adds and
pushes them. `plantctl record verify [REV]` recomputes the records on a commit and says whether
they match; `plantctl review` reads approvals from them (plantctl.reports.governance).

The policy checksum is reproducible without plantctl: the sha256 of the `sha256sum`-style
listing (`<digest>  <path>` lines, sorted by path in byte order) of every file under policies/
at the base revision.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from plantctl import __version__
from plantctl.core import atomic

NOTES_REF = "refs/notes/plantctl-gate"
SCHEMA = "plantctl.gate-decision/1"
OUTPUTS = {"text": "gate.txt", "markdown": "gate.md", "json": "gate.json", "sarif": "gate.sarif"}
RECORD = "decision.json"


class RecordError(Exception):
    """A record that cannot be read, written or attached."""


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=data, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RecordError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _toplevel(cwd: Path | None = None) -> Path | None:
    done = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(done.stdout.strip()) if done.returncode == 0 else None


# -- what judged ------------------------------------------------------------------------------


def policy_files(repo: Path, rev: str, subdir: str = "policies") -> dict[str, str]:
    """path -> sha256 of every file under `subdir` as committed at `rev` (read from git)."""
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", rev, "--", subdir)
    blobs = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        _mode, kind, blob = meta.split()
        if kind == b"blob":
            blobs.append((name.decode(), blob.decode()))
    if not blobs:
        return {}
    out = _git(repo, "cat-file", "--batch", data="".join(f"{o}\n" for _, o in blobs).encode())
    digests: dict[str, str] = {}
    pos = 0
    for path, oid in blobs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if header[0].decode() != oid or header[1] != b"blob":
            raise RecordError(f"git cat-file: unexpected answer for {path}")
        size = int(header[2])
        digests[path] = hashlib.sha256(out[end + 1 : end + 1 + size]).hexdigest()
        pos = end + 1 + size + 1
    return dict(sorted(digests.items(), key=lambda kv: kv[0].encode()))


def listing_digest(digests: dict[str, str]) -> str:
    """The sha256 of a `sha256sum` listing of the files (sorted by path, byte order)."""
    lines = "".join(f"{d}  {p}\n" for p, d in sorted(digests.items(), key=lambda i: i[0].encode()))
    return hashlib.sha256(lines.encode()).hexdigest()


def policy_identity(repo: Path, base: str, bundle: Path | None = None) -> dict:
    """Which policies judged: the bundle (its digest), an outside OPA server, or base's files."""
    bundle = bundle or (
        Path(os.environ["PLANTCTL_BUNDLE"]) if os.environ.get("PLANTCTL_BUNDLE") else None
    )
    if bundle is not None:
        return {
            "source": "bundle",
            "bundle": bundle.name,
            "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(),
        }
    if os.environ.get("OPA_URL"):
        return {"source": "opa-url", "url": os.environ["OPA_URL"], "sha256": None}
    files = policy_files(repo, base)
    last = _git(repo, "log", "-1", "--format=%H", base, "--", "policies").decode().strip()
    return {
        "source": "base",
        "revision": base,
        "last_change": last or None,
        "files": len(files),
        "sha256": listing_digest(files),
    }


def tool_identity() -> dict:
    """The plantctl that judged: its version and, when run from a git checkout, its commit."""
    here = Path(__file__).resolve().parent
    top = _toplevel(here)
    revision = dirty = None
    if top is not None:
        with contextlib.suppress(RecordError):
            revision = _git(top, "rev-parse", "HEAD").decode().strip()
            dirty = bool(_git(top, "status", "--porcelain", "--", "src/plantctl").strip())
    return {"name": "plantctl", "version": __version__, "revision": revision, "dirty": dirty}


# -- the record -------------------------------------------------------------------------------


def _reviews_given(path: Path | None, fmt: str) -> dict | None:
    if path is None:
        return None
    data = path.read_bytes()
    return {
        "format": fmt,
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "answer": json.loads(data.decode("utf-8")),
    }


def build(report, code: int, *, repo: Path, args) -> dict:
    """The decision record of a pull-request `report` (plantctl.gate.check.Report) and its exit."""
    required = []
    counted, not_counted = [], []
    for a in report.approvals:
        entry = {
            "team": a.get("team"),
            "rules": a.get("rules", []),
            "objects": a.get("objects", []),
            "satisfied": bool(a.get("satisfied")),
            "approved_by": a.get("approved_by", []),
            "not_counted": a.get("not_counted", []),
        }
        required.append(entry)
        for login in entry["approved_by"]:
            counted.append({"login": login, "team": entry["team"], "objects": entry["objects"]})
        for note in entry["not_counted"]:
            if isinstance(note, dict):
                not_counted.append({"team": entry["team"], **note})
    return {
        "schema": SCHEMA,
        "decided_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "now": report.now,
        "base": report.base,
        "head": report.head,
        "author": report.author,
        "decision": "pass" if report.passed else "fail",
        "exit": code,
        "policy": policy_identity(repo, report.base, getattr(args, "bundle", None)),
        "tool": tool_identity(),
        "violations": [
            {"rule": f.rule, "kind": f.kind, "id": f.id, "file": f.file, "line": f.line}
            for f in report.findings
        ],
        "waived": [
            {
                "rule": w.finding.rule,
                "kind": w.finding.kind,
                "id": w.finding.id,
                "waiver": w.waiver.get("id"),
            }
            for w in report.waived
        ],
        "changes": [{"kind": c.kind, "id": c.id, "op": c.op} for c in report.changes],
        "files": list(report.files),
        "approvals": {
            "required": required,
            "missing": [a["team"] for a in required if not a["satisfied"]],
            "counted": counted,
            "not_counted": not_counted,
        },
        "reviews": _reviews_given(args.approvals, getattr(args, "reviews_format", "auto")),
    }


def write_outputs(report, code: int, args) -> list[Path]:
    """Every format of this one evaluation into args.output_dir (and the decision record)."""
    from plantctl.reports.formats import jsondoc, markdown, sarif, text

    folder: Path = args.output_dir
    texts = {
        "text": text.render(report, colour=False),
        "markdown": markdown.render(report),
        "json": jsondoc.render(report),
        "sarif": sarif.render(report),
    }
    written = [atomic.write_text(folder / OUTPUTS[f], t) for f, t in texts.items()]
    if report.base is not None:
        repo = _toplevel() or Path.cwd()
        record = build(report, code, repo=repo, args=args)
        written.append(atomic.write_text(folder / RECORD, json.dumps(record, indent=2) + "\n"))
    return written


# -- git notes --------------------------------------------------------------------------------


def load_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path}: not a decision record: {exc}") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA or not record.get("head"):
        raise RecordError(f"{path}: not a decision record ({SCHEMA} with a head)")
    return record


def add_note(repo: Path, record: dict) -> str:
    """Append the record (one line) to the notes of its head commit; returns that commit."""
    head = _git(repo, "rev-parse", "--verify", f"{record['head']}^{{commit}}").decode().strip()
    line = json.dumps(record, sort_keys=True, separators=(",", ":"))
    _git(repo, "notes", "--ref", NOTES_REF, "append", "-F", "-", head, data=line.encode())
    return head


def parse_note(text: str) -> list[dict]:
    """The records of one note (one JSON document a line; other lines are not records)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("schema") == SCHEMA:
            out.append(record)
    return out


def notes(repo: Path) -> dict[str, list[dict]]:
    """commit -> its decision records (oldest first); empty when there is no notes ref."""
    try:
        listing = _git(repo, "notes", "--ref", NOTES_REF, "list").decode()
    except RecordError:
        return {}
    pairs = [line.split() for line in listing.splitlines() if line.strip()]
    if not pairs:
        return {}
    blobs = _git(repo, "cat-file", "--batch", data="".join(f"{n}\n" for n, _ in pairs).encode())
    out: dict[str, list[dict]] = {}
    pos = 0
    for _note, commit in pairs:
        end = blobs.index(b"\n", pos)
        size = int(blobs[pos:end].split()[2])
        text = blobs[end + 1 : end + 1 + size].decode("utf-8", errors="replace")
        pos = end + 1 + size + 1
        records = parse_note(text)
        if records:
            out[commit] = records
    return out


# -- recomputation ----------------------------------------------------------------------------


def comparable(record: dict) -> dict:
    """What a recomputation at the record's own revisions must reproduce."""
    approvals = record.get("approvals") or {}
    return {
        "base": record.get("base"),
        "head": record.get("head"),
        "decision": record.get("decision"),
        "exit": record.get("exit"),
        "policy": (record.get("policy") or {}).get("sha256"),
        "violations": sorted(
            (v.get("rule"), v.get("kind"), v.get("id")) for v in record.get("violations") or []
        ),
        "changes": sorted(
            (c.get("kind"), c.get("id"), c.get("op")) for c in record.get("changes") or []
        ),
        "files": sorted(record.get("files") or []),
        "approvals": sorted(
            (
                str(a.get("team")),
                bool(a.get("satisfied")),
                tuple(sorted(a.get("approved_by") or [])),
            )
            for a in approvals.get("required") or []
        ),
    }


def recompute(repo: Path, record: dict) -> dict:
    """The gate run again at the record's base and head, as of its time, on its reviews."""
    with tempfile.TemporaryDirectory(prefix="plantctl-record-") as tmp:
        out = Path(tmp) / "out"
        args = [
            sys.executable, "-m", "plantctl", "check",
            "--base", str(record["base"]), "--head", str(record["head"]),
            "--now", str(record["now"]), "--output-dir", str(out), "--format", "json",
        ]  # fmt: skip
        reviews = record.get("reviews")
        if reviews:
            answer = Path(tmp) / "reviews.json"
            answer.write_text(json.dumps(reviews.get("answer")), encoding="utf-8")
            args += ["--approvals", str(answer)]
            if reviews.get("format", "auto") != "auto":
                args += ["--reviews-format", str(reviews["format"])]
        if record.get("author"):
            args += ["--author", str(record["author"])]
        env = {k: v for k, v in os.environ.items() if k not in ("OPA_URL", "PLANTCTL_BUNDLE")}
        done = subprocess.run(args, cwd=repo, capture_output=True, text=True, check=False, env=env)
        if not (out / RECORD).exists():
            return {"exit": done.returncode, "error": done.stderr.strip()[-400:]}
        return json.loads((out / RECORD).read_text(encoding="utf-8"))


def differences(record: dict, again: dict) -> list[str]:
    """How a recomputation differs from the record (empty: it matches)."""
    if "error" in again:
        return [f"the recomputation did not decide (exit {again['exit']}): {again['error']}"]
    if (record.get("policy") or {}).get("source") not in (None, "base"):
        note = [f"judged by {record['policy'].get('source')}, recomputed with the base's policies"]
    else:
        note = []
    mine, theirs = comparable(record), comparable(again)
    out = []
    for key in mine:
        if mine[key] != theirs[key]:
            out.append(f"{key}: recorded {_short(mine[key])}, recomputed {_short(theirs[key])}")
    return out + note if out else []


def _short(value) -> str:
    text = json.dumps(value, default=list)
    return text if len(text) <= 200 else text[:197] + "..."


def verify(repo: Path, record: dict) -> list[str]:
    return differences(record, recompute(repo, record))


# -- command line -----------------------------------------------------------------------------


def add_parser(sub) -> None:
    p = sub.add_parser(
        "record",
        help="gate decision records: attach one to its head commit as a git note "
        f"({NOTES_REF}), or recompute the records on a commit",
    )
    rsub = p.add_subparsers(dest="record_command", required=True, parser_class=type(p))
    a = rsub.add_parser("add", help="append DIR/decision.json to the notes of its head commit")
    a.add_argument("record", type=Path, help="a decision.json (plantctl check --output-dir)")
    a.set_defaults(func=cmd_add)
    v = rsub.add_parser(
        "verify",
        help="recompute each decision record on a commit at its own revisions "
        "(exit 0 all match, 1 one does not, 2 no record)",
    )
    v.add_argument("rev", nargs="?", default="HEAD")
    v.set_defaults(func=cmd_verify)


def _repo() -> Path:
    top = _toplevel()
    if top is None:
        raise RecordError("not inside a git repository")
    return top


def cmd_add(args) -> int:
    try:
        record = load_record(args.record)
        head = add_note(_repo(), record)
    except RecordError as exc:
        print(f"plantctl record add: {exc}", file=sys.stderr)
        return 2
    print(f"decision {record.get('decision')} on {head[:12]} kept under {NOTES_REF}")
    return 0


def cmd_verify(args) -> int:
    try:
        repo = _repo()
        commit = _git(repo, "rev-parse", "--verify", f"{args.rev}^{{commit}}").decode().strip()
        note = _git(repo, "notes", "--ref", NOTES_REF, "show", commit).decode()
    except RecordError as exc:
        print(f"plantctl record verify: no decision record on {args.rev}: {exc}", file=sys.stderr)
        return 2
    records = parse_note(note)
    if not records:
        print(f"plantctl record verify: no decision record on {args.rev}", file=sys.stderr)
        return 2
    bad = 0
    for record in records:
        found = verify(repo, record)
        label = f"{record.get('decided_at')} {record.get('decision')} (exit {record.get('exit')})"
        if found:
            bad += 1
            print(f"{commit[:12]} {label}: DOES NOT MATCH a recomputation")
            for line in found:
                print(f"  {line}")
        else:
            print(f"{commit[:12]} {label}: matches a recomputation")
    return 1 if bad else 0
