"""The whole-inventory check: facts to the policy engine in one query, answers back to file:line."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from plantctl.core.problems import bounded
from plantctl.gate import facts, scoped
from plantctl.gate.engine import EngineUnavailable, OpaEndpoint, OpaServer
from plantctl.model.inventory import Inventory


@dataclass(frozen=True)
class Finding:
    """A policy violation or warning, placed where the object is written."""

    rule: str
    severity: str
    message: str
    kind: str
    id: str
    file: str
    line: int
    col: int
    title: str = ""
    controls: tuple[str, ...] = ()
    level: str = "error"  # error (deny) or warning (warn)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["controls"] = list(self.controls)
        return d


@dataclass(frozen=True)
class Waived:
    """A violation that a waiver in force (inventory/waivers.yaml) takes out of the decision."""

    finding: Finding
    waiver: dict  # id, reason, approver, expires, ticket, file, line

    def as_dict(self) -> dict:
        return {**self.finding.as_dict(), "waiver": dict(self.waiver)}


@dataclass
class Report:
    findings: list[Finding]
    warnings: list[Finding]
    source: str
    now: str
    counts: dict = field(default_factory=dict)
    # Pull-request mode (plantctl check --base): what changed and whose approval it needs.
    base: str | None = None
    head: str | None = None
    changes: list = field(default_factory=list)  # changes.Change
    files: list[str] = field(default_factory=list)
    approvals: list[dict] = field(default_factory=list)  # every required team, satisfied or not
    author: str | None = None
    waived: list[Waived] = field(default_factory=list)
    # Attack paths (paths.routes) the pull request opens and closes.
    paths_opened: list[str] = field(default_factory=list)
    paths_closed: list[str] = field(default_factory=list)
    # How a pull request was evaluated (gate/scoped.py): mode, sites read from the cache.
    scoped: dict = field(default_factory=dict)

    @property
    def missing(self) -> list[dict]:
        return [a for a in self.approvals if not a.get("satisfied")]

    @property
    def passed(self) -> bool:
        return not self.findings and not self.missing


@dataclass
class PullRequest:
    """The pull-request side of a check: resolved revisions, changes, reviews, author."""

    base: str
    head: str
    changes: list
    files: list[str]
    reviews: list[dict]
    author: str | None
    # What `plantctl codeowners --check` would say of the head's CODEOWNERS ("" none): GATE-001.
    codeowners_drift: str = ""
    # reviewed.facts: per commit a review names, what in the head changed since (see there).
    commits: dict = field(default_factory=dict)
    # The base's org/ownership.yaml separation_of_duties (None: not set there); a pull request
    # cannot switch separation of duties off for itself.
    base_separation: list | None = None
    paths_opened: list[str] = field(default_factory=list)
    paths_closed: list[str] = field(default_factory=list)


@contextlib.contextmanager
def engine(
    policies: Path, bundle: Path | None = None, verification_key: Path | None = None
) -> Iterator[OpaEndpoint]:
    """OPA_URL when set (a server someone else runs), else our own server for this check: from
    the signed policy bundle when one is configured (arguments, else PLANTCTL_BUNDLE and
    PLANTCTL_VERIFICATION_KEY), verified before anything is evaluated; else from policies."""
    bundle = bundle or _env_path("PLANTCTL_BUNDLE")
    verification_key = verification_key or _env_path("PLANTCTL_VERIFICATION_KEY")
    url = os.environ.get("OPA_URL")
    if url and bundle is None and verification_key is None:
        yield OpaEndpoint.from_url(url)
        return
    with OpaServer(policies, bundle=bundle, verification_key=verification_key) as endpoint:
        yield endpoint


def judged_by(policies: Path, bundle: Path | None = None) -> scoped.Scope | None:
    """The scope of a pull request's evaluation when this process knows what the engine runs
    (its own server, from the policies or a bundle); None with an external OPA_URL server."""
    bundle = bundle or _env_path("PLANTCTL_BUNDLE")
    if os.environ.get("OPA_URL") and bundle is None and not _env_path("PLANTCTL_VERIFICATION_KEY"):
        return None
    return scoped.Scope.open(policies, bundle)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def place(inv: Inventory, v: dict, level: str) -> Finding:
    record = inv.get(v["kind"], v["id"])
    sub = [s for s in v.get("field") or [] if isinstance(s, (str, int))]
    if record is not None:
        file, line, col = record.locate(*sub)
    elif v["kind"] == "file":  # a rule about a repository file (GATE-001: .github/CODEOWNERS)
        file, line, col = str(v["id"]), 1, 1
    else:  # a rule about something not in the inventory (e.g. a missing default)
        file, line, col = (
            inv.ownership.locate() if v["kind"] == "ownership" else ("inventory", 1, 1)
        )
    controls = v.get("iec62443") or v.get("controls") or ()
    return Finding(
        rule=str(v["rule"]),
        severity=str(v.get("severity", "high")),
        message=bounded(str(v["msg"])),
        kind=str(v["kind"]),
        id=str(v["id"]),
        file=file,
        line=line,
        col=col,
        title=str(v.get("title", "")),
        controls=tuple(str(c) for c in controls),
        level=level,
    )


def policy_input(
    inv: Inventory, now: datetime | None = None, pull_request: PullRequest | None = None
) -> dict:
    """The facts, with the pull request's changes, reviews and author when there is one."""
    document = facts.build(inv, now)
    if pull_request is not None:
        document["change"] = {
            "base": pull_request.base,
            "head": pull_request.head,
            "objects": [c.as_fact() for c in pull_request.changes],
            "files": pull_request.files,
            "commits": pull_request.commits,
            "base_separation_of_duties": pull_request.base_separation,
            "codeowners_drift": pull_request.codeowners_drift,
        }
        document["reviews"] = pull_request.reviews
        document["author"] = (pull_request.author or "").lower()
    return document


def evaluate(
    inv: Inventory,
    endpoint: OpaEndpoint,
    now: datetime | None = None,
    *,
    pull_request: PullRequest | None = None,
    scope: scoped.Scope | None = None,
) -> Report:
    """The decision on `inv`: one query of the whole input; for a pull request with a `scope`
    (the judge's policies and the decision cache), what the change can affect (gate/scoped.py)."""
    # The inventory stays as it is until the report is out: the cyclic collector need not walk
    # its millions of objects again on each full collection while the facts are made and sent.
    gc.freeze()
    try:
        document = policy_input(inv, now, pull_request)
        now_text = document["now"]
        if pull_request is not None and scope is not None:
            decision = scoped.decide(inv, endpoint, document, pull_request, scope)
        else:
            decision = endpoint.decide(document)
        del document
    finally:
        gc.unfreeze()
    key = lambda f: (f.file, f.line, f.rule, f.message)  # noqa: E731 - a sort key
    unique = {(v["rule"], v["kind"], v["id"], v["msg"]): v for v in decision["violations"]}
    findings = sorted((place(inv, v, "error") for v in unique.values()), key=key)
    warnings = sorted((place(inv, v, "warning") for v in decision.get("warnings") or []), key=key)
    report = Report(findings, warnings, inv.source_label, now_text, decision.get("counts") or {})
    report.waived = [_waived(inv, v) for v in decision.get("waived") or []]
    if scope is not None:
        report.scoped = dict(scope.stats)
    if pull_request is not None:
        report.base, report.head = pull_request.base, pull_request.head
        report.changes, report.files = pull_request.changes, pull_request.files
        report.author = pull_request.author
        report.paths_opened = pull_request.paths_opened
        report.paths_closed = pull_request.paths_closed
        approvals = (decision.get("approvals") or {}).get("required")
        if not isinstance(approvals, list):
            raise EngineUnavailable("the decision has no list of required approvals")
        report.approvals = sorted(
            approvals, key=lambda a: (bool(a.get("satisfied")), str(a.get("team")))
        )
    return report


def _waived(inv: Inventory, v: dict) -> Waived:
    waiver = dict(v.get("waiver") or {})
    record = inv.get("waiver", str(waiver.get("id")))
    if record is not None:
        waiver["file"], waiver["line"] = record.file, record.line
    return Waived(place(inv, v, "waived"), waiver)
