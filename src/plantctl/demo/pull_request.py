"""The demo's pull request: maintenance asks for a new gateway, and the gate judges it as the
workflow does (`plantctl check --base --head`, the base revision's policies, approvals bound to
the commit they were given on): failing with the approvals it lacks, then passing with them.

It runs in a throw-away git repository holding the sample plant and the real policies (as the
gate's scenario tests do, tests/plant_repo.py), so the work tree is never touched.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plantctl.gate import codeowners
from plantctl.model import addressing
from plantctl.model.inventory import Inventory
from plantctl.model.loader import load

from .stack import REPO

AUTHOR = "abello"  # the maintenance planner who opens it (not an approver of her own change)


@dataclass
class Judgement:
    code: int
    text: str
    missing: list[str]  # teams whose approval is missing

    @property
    def decision(self) -> str:
        return {0: "PASS", 1: "FAIL"}.get(self.code, f"exit {self.code}")


@dataclass
class PullRequestRun:
    gateway: str
    address: str
    head: str
    without: Judgement
    with_approvals: Judgement
    approvers: list[str]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _new_gateway(inv: Inventory, site: str) -> tuple[str, str, str, dict]:
    """An id next to the site's gateways, the next free address of their zone (as `plantctl
    allocate` gives it) and the line maintenance adds."""
    gws = sorted(inv.site_objects("gateway", site), key=lambda r: r.key)
    last = gws[-1].data
    stem, num = re.fullmatch(r"(.*?)(\d+)", last["id"]).groups()  # type: ignore[union-attr]
    new_id = f"{stem}{int(num) + 1:0{len(num)}d}"
    address = str(addressing.allocate(inv, site, last["zone"])[0])
    line = (
        f"  - {{id: {new_id}, zone: {last['zone']}, address: {address}, "
        f"maintenance_window: {last['maintenance_window']}}}\n"
    )
    return new_id, address, line, last


def _approvers(inv: Inventory, teams: list[str], author: str) -> list[str]:
    """One member of each team (not the author), as people listed in the team."""
    found = []
    for team in teams:
        rec = inv.get("team", team)
        members = [m for m in (rec.data.get("members") or []) if m != author] if rec else []
        if members:
            found.append(sorted(members)[0])
    return found


def _check(repo: Path, head: str, reviews: Path | None, out: Path) -> Judgement:
    """One evaluation, every format written to `out` (as `make gate` does)."""
    args = [
        sys.executable,
        "-m",
        "plantctl",
        "check",
        "--base",
        "main",
        "--head",
        head,
        "--author",
        AUTHOR,
        "--output-dir",
        str(out),
    ]
    if reviews is not None:
        args += ["--approvals", str(reviews)]
    done = subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=300, check=False)
    try:
        text = (out / "gate.txt").read_text()
        missing = sorted(json.loads((out / "gate.json").read_text())["approvals"]["missing"])
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return Judgement(done.returncode, (done.stderr or done.stdout).strip(), [])
    return Judgement(done.returncode, text, missing)


def run(folder: Path, site: str) -> PullRequestRun:
    if folder.exists():
        shutil.rmtree(folder)
    repo = folder / "repo"
    repo.mkdir(parents=True)
    shutil.copytree(REPO / "inventory", repo / "inventory")
    shutil.copytree(REPO / "policies", repo / "policies")
    inv = load(repo / "inventory")
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text(codeowners.render(inv))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "demo@example.invalid")
    _git(repo, "config", "user.name", "plantctl demo")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "the sample plant")
    gw, address, line, _ = _new_gateway(inv, site)
    _git(repo, "checkout", "-q", "-b", f"maint/{gw}")
    path = repo / "inventory" / "sites" / site / "gateways.yaml"
    path.write_text(path.read_text().rstrip("\n") + "\n" + line)
    _git(repo, "commit", "-qam", f"{site}: a gateway for the new line ({gw})")
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")

    without = _check(repo, head, None, folder / "without-approvals")
    approvers = _approvers(inv, without.missing, AUTHOR)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reviews = folder / "reviews.json"
    reviews.write_text(
        json.dumps(
            [
                {
                    "user": {"login": who},
                    "state": "APPROVED",
                    "submitted_at": now,
                    "commit_id": head,
                }
                for who in approvers
            ],
            indent=1,
        )
    )
    with_approvals = _check(repo, head, reviews, folder / "with-approvals")
    return PullRequestRun(gw, address, head, without, with_approvals, approvers)
