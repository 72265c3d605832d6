"""The sample plant as a git repository, for tests of the pull-request gate: the inventory, the
real policies and the CODEOWNERS generated from them, committed as `main`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from plantctl.gate import codeowners
from plantctl.model.loader import load

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def sample_repo(repo: Path, prepare: Callable[[Path], None] | None = None) -> Path:
    """`repo` made a git repository holding the sample plant; `prepare` may add to the tree
    before the one commit (CODEOWNERS is generated after it, from the inventory it leaves)."""
    repo.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "inventory", repo / "inventory")
    shutil.copytree(ROOT / "policies", repo / "policies")
    if prepare is not None:
        prepare(repo)
    (repo / ".github").mkdir(exist_ok=True)
    (repo / ".github" / "CODEOWNERS").write_text(codeowners.render(load(repo / "inventory")))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo
