"""What each reviewed commit still matches in the head: the facts that bind approvals to content.

A review names the commit it was given on (`commit_id`). For each distinct commit the gate
states whether this repository has it, whether it is in the head's history, and which of the
pull request's changed objects and files are different in the head from what the reviewer saw
(`changed_since`): an inventory object by its canonical content (the record's data, loaded with
plantctl.model.inventory at that commit, so formatting, comments and moves do not count), any other
file by `git diff <commit> <head>`. policies/approvals/ decides from these facts which approvals
count; nothing here decides.

Cost: one `git cat-file --batch-check` for all commits, then per distinct commit in the head's
history one `git merge-base --is-ancestor`, one `git diff --name-only` and, only when that diff
touches inventory/, one inventory load.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from plantctl.core.problems import InvalidInput
from plantctl.model.inventory import Inventory
from plantctl.model.loader import load
from plantctl.model.sources import GitError, GitSource


def object_key(kind: str, key: str) -> str:
    """How policies/approvals/ names a needed object: `<kind> <id>`, files as `file <path>`."""
    return f"{kind} {key}"


@dataclass
class Commit:
    given: str  # as the review named it
    commit: str = ""  # the full id, "" when unknown
    in_history: bool = False
    changed_since: list[str] = field(default_factory=list)
    note: str = ""

    def as_fact(self) -> dict:
        return {
            "commit": self.commit,
            "short": (self.commit or self.given)[:7],
            "known": bool(self.commit),
            "in_history": self.in_history,
            "changed_since": self.changed_since,
            "note": self.note,
        }


def _run(repo: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(repo), *args], input=data, capture_output=True, check=False
    )


def resolve_all(repo: Path, given: list[str]) -> dict[str, str]:
    """Each given commit id -> its full id, for those this repository has as commits."""
    if not given:
        return {}
    done = _run(
        repo,
        "cat-file",
        "--batch-check",
        data="".join(f"{g}^{{commit}}\n" for g in given).encode(),
    )
    if done.returncode != 0:
        raise GitError(f"git cat-file --batch-check: {done.stderr.decode(errors='replace')}")
    out = {}
    for g, line in zip(given, done.stdout.decode(errors="replace").splitlines(), strict=False):
        parts = line.split()
        if len(parts) == 3 and parts[1] == "commit":
            out[g] = parts[0]
    return out


def is_ancestor(repo: Path, commit: str, head: str) -> bool:
    done = _run(repo, "merge-base", "--is-ancestor", commit, head)
    if done.returncode not in (0, 1):
        raise GitError(f"git merge-base --is-ancestor: {done.stderr.decode(errors='replace')}")
    return done.returncode == 0


def diff_names(repo: Path, commit: str, head: str) -> set[str]:
    done = _run(repo, "diff", "--name-only", "--no-renames", "-z", commit, head, "--")
    if done.returncode != 0:
        raise GitError(f"git diff: {done.stderr.decode(errors='replace')}")
    return {p for p in done.stdout.decode(errors="replace").split("\0") if p}


def facts(
    repo: Path,
    given: list[str],
    *,
    base: str,
    head: str,
    base_inv: Inventory,
    changes: list,
    files: list[str],
    schema_root: Path | None = None,
) -> dict[str, dict]:
    """commit id as the reviews name it -> {commit, short, known, in_history, changed_since,
    note}; `changes` are changes.Change (their `after` is the head's content)."""
    full = resolve_all(repo, given)
    loaded: dict[str, Inventory | None] = {base: base_inv}
    by_commit: dict[str, Commit] = {}
    out = {}
    for g in given:
        commit = full.get(g, "")
        if not commit:
            out[g] = Commit(g, note="not a commit of this repository").as_fact()
            continue
        if commit not in by_commit:
            by_commit[commit] = _bind(repo, g, commit, head, loaded, changes, files, schema_root)
        found = by_commit[commit]
        out[g] = Commit(
            g, found.commit, found.in_history, found.changed_since, found.note
        ).as_fact()
    return out


def _bind(repo, given, commit, head, loaded, changes, files, schema_root) -> Commit:
    if commit == head:
        return Commit(given, commit, True)
    if not is_ancestor(repo, commit, head):
        return Commit(given, commit, False, note="not in the head's history")
    names = diff_names(repo, commit, head)
    stale = [object_key("file", p) for p in files if p in names]
    note = ""
    if any(p.startswith("inventory/") for p in names):
        if commit not in loaded:
            try:
                loaded[commit] = load(GitSource(repo, commit), schema_root=schema_root)
            except (InvalidInput, GitError):
                loaded[commit] = None
        then = loaded[commit]
        if then is None:
            note = "its inventory does not load"
        for c in changes:
            was = then.get(c.kind, c.id) if then is not None else None
            same = then is not None and (was.data if was is not None else None) == c.after
            if not same:
                stale.append(object_key(c.kind, c.id))
    return Commit(given, commit, True, sorted(set(stale)), note)
