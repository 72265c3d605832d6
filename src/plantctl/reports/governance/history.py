"""The period's git history: commits, the inventory at a revision (its own schemas), and the gate's
decision records (git notes under refs/notes/plantctl-gate) covering each commit."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from plantctl.core.problems import InvalidInput, Problem
from plantctl.gate import changes
from plantctl.model.inventory import Inventory
from plantctl.model.loader import load
from plantctl.model.sources import GitError, GitSource
from plantctl.reports import decision_record


@dataclass
class Commit:
    sha: str
    author: str
    when: datetime
    subject: str


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


def base_inv_time(repo: Path, base: str) -> datetime:
    return datetime.fromisoformat(_git(repo, "log", "-1", "--format=%aI", base).strip())
