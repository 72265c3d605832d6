"""A pull request judged from git: the head read as git objects, the BASE revision's schemas and
policies judging it (docs/architecture.md, the gate's trust root), approvals bound to what each
reviewer saw, CODEOWNERS drift stated as a fact for the policy (GATE-001)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from plantctl.core.problems import InvalidInput, Problem
from plantctl.gate import approvals, changes, check, codeowners, reviews
from plantctl.gate.check import PullRequest, Report
from plantctl.gate.engine import EngineUnavailable
from plantctl.model.loader import load
from plantctl.model.sources import GitError, GitSource
from plantctl.plant import attack_paths


@dataclass(frozen=True)
class Request:
    """What the gate is asked: revisions, the code host's reviews, the author, the judge."""

    base: str
    head: str | None = None
    approvals: Path | None = None
    reviews_format: str = "auto"
    author: str | None = None
    bundle: Path | None = None
    verification_key: Path | None = None


def repository() -> Path:
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    if top.returncode != 0:
        raise InvalidInput(
            [Problem(".", 1, 1, "not inside a git repository; --base needs one", "GATE-GIT")]
        )
    return Path(top.stdout.strip())


def judge(request: Request, now: datetime | None, note: Callable[[str], None]) -> Report:
    """The report of one pull request; `note` hears what the reviews' loader set aside."""
    repo = repository()
    try:
        base = changes.resolve(repo, request.base)
        head = changes.resolve(repo, request.head or "HEAD")
    except GitError:
        raise InvalidInput(
            [
                Problem(
                    ".",
                    1,
                    1,
                    f"unknown revision {request.base!r} or "
                    f"{request.head or 'HEAD'!r}; fetch it or fix the name",
                    "GATE-GIT",
                )
            ]
        ) from None
    pr_reviews = (
        reviews.load(request.approvals, request.reviews_format)
        if request.approvals
        else reviews.Reviews("none")
    )
    for text in pr_reviews.notes[:5]:
        note(text)
    if len(pr_reviews.notes) > 5:
        note(f"and {len(pr_reviews.notes) - 5} more")
    with tempfile.TemporaryDirectory(prefix="plantctl-base-") as tmp:
        try:
            schema_root = changes.export_tree(repo, base, "inventory/schema", Path(tmp))
            policies = changes.export_tree(repo, base, "policies", Path(tmp))
        except GitError as exc:
            raise EngineUnavailable(
                f"the base revision has no policies to judge by: {exc}"
            ) from None
        head_inv = load(GitSource(repo, head), schema_root=schema_root)
        try:
            base_inv = load(GitSource(repo, base), schema_root=schema_root)
        except InvalidInput as exc:
            raise InvalidInput(
                [
                    Problem(p.file, p.line, p.col, f"(in base {request.base}) {p.message}", p.rule)
                    for p in exc.problems
                ]
            ) from None
        actual = GitSource(repo, head, subdir=".github")
        drift = codeowners.drift(
            codeowners.render(head_inv),
            actual.read("CODEOWNERS").decode() if "CODEOWNERS" in actual.files() else None,
        )
        changed = changes.diff(base_inv, head_inv)
        files = changes.changed_files(repo, base, head)
        commits = approvals.facts(
            repo,
            pr_reviews.commits(),
            base=base,
            head=head,
            base_inv=base_inv,
            changes=changed,
            files=files,
            schema_root=schema_root,
        )
        pull_request = PullRequest(
            base=base,
            head=head,
            changes=changed,
            files=files,
            reviews=pr_reviews.facts(),
            author=(request.author or "").lower() or None,
            codeowners_drift=drift or "",
            commits=commits,
            base_separation=base_inv.ownership.data.get("separation_of_duties"),
        )
        pull_request.paths_opened, pull_request.paths_closed = attack_paths.diff(base_inv, head_inv)
        with check.engine(policies, request.bundle, request.verification_key) as endpoint:
            return check.evaluate(
                head_inv,
                endpoint,
                now,
                pull_request=pull_request,
                scope=check.judged_by(policies, request.bundle),
            )
