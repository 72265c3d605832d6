"""What a pull request changes: inventory objects added, removed or modified (by kind and id,
placed at path:line), and every changed file, read from git without touching the work tree."""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from plantctl.model.inventory import Inventory, Record
from plantctl.model.sources import GitError


@dataclass(frozen=True)
class Change:
    kind: str
    id: str
    op: str  # added, removed, modified
    site: str | None
    zones: tuple[str, ...]
    file: str
    line: int
    before: dict | None
    after: dict | None

    def as_fact(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "op": self.op,
            "site": self.site,
            "zones": list(self.zones),
            "before": self.before,
            "after": self.after,
        }

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "op": self.op,
            "site": self.site,
            "file": self.file,
            "line": self.line,
        }


def zones_of(inv: Inventory, rec: Record) -> tuple[str, ...]:
    """The zones ('<site>/<zone>') an object lives in or joins: whose owners must hear of it."""
    data = rec.data
    found: list[str] = []
    if rec.kind in ("machine", "gateway", "device"):
        found.append(f"{rec.site}/{data['zone']}")
    elif rec.kind == "zone":
        found.append(rec.key)
    elif rec.kind == "conduit":
        found += [f"{rec.site}/{data[end]}" for end in ("from", "to") if data[end] != "internet"]
    elif rec.kind == "collector":
        for kind, ref in (("gateway", data["gateway"]), ("machine", data["machine"])):
            other = inv.get(kind, ref)
            if other is not None:
                found.append(f"{other.site}/{other.data['zone']}")
    elif rec.kind == "grant":
        target = inv.get("machine", data["target"]) or inv.get("gateway", data["target"])
        if target is not None:
            found.append(f"{target.site}/{target.data['zone']}")
    return tuple(dict.fromkeys(found))


def diff(base: Inventory, head: Inventory) -> list[Change]:
    changes = []
    for kind in head.records.keys() | base.records.keys():
        before, after = base.of(kind), head.of(kind)
        for key in sorted(before.keys() | after.keys()):
            old, new = before.get(key), after.get(key)
            if old is not None and new is not None and old.data == new.data:
                continue
            op = "added" if old is None else "removed" if new is None else "modified"
            # The key is in before or after: where is the record as it is, or as it was.
            where, inv = (new, head) if new is not None else (cast(Record, old), base)
            changes.append(
                Change(
                    kind=kind,
                    id=key,
                    op=op,
                    site=where.site,
                    zones=zones_of(inv, where),
                    file=where.file,
                    line=where.line,
                    before=old.data if old is not None else None,
                    after=new.data if new is not None else None,
                )
            )
    return sorted(changes, key=lambda c: (c.file, c.line, c.kind, c.id))


def _git(repo: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def resolve(repo: Path, rev: str) -> str:
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()


def changed_files(repo: Path, base: str, head: str) -> list[str]:
    out = _git(repo, "diff", "--name-only", "--no-renames", "-z", base, head)
    return sorted(p for p in out.decode().split("\0") if p)


def export_tree(repo: Path, rev: str, subdir: str, target: Path) -> Path:
    """Write `subdir` as committed at `rev` into target/subdir (used for the BASE policies)."""
    data = _git(repo, "archive", "--format=tar", rev, subdir)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:  # Python before 3.11.4 (Debian 12 ships 3.11.2): files and folders inside only
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if (
                    not (member.isfile() or member.isdir())
                    or member.name.startswith("/")
                    or (".." in parts)
                ):
                    raise GitError(f"git archive {rev} {subdir}: refused {member.name!r}")
            tar.extractall(target)  # noqa: S202 - every member checked above
    return target / subdir
