"""The whole-inventory check: facts to the policy engine in one query, answers back to file:line."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from plantctl import facts
from plantctl.engine import OpaEndpoint, OpaServer
from plantctl.inventory import Inventory


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


@dataclass
class Report:
    findings: list[Finding]
    warnings: list[Finding]
    source: str
    now: str
    counts: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings


@contextlib.contextmanager
def engine(policies: Path) -> Iterator[OpaEndpoint]:
    """OPA_URL when set (a server someone else runs), else our own server for this check."""
    url = os.environ.get("OPA_URL")
    if url:
        yield OpaEndpoint.from_url(url)
        return
    with OpaServer(policies) as endpoint:
        yield endpoint


def place(inv: Inventory, v: dict, level: str) -> Finding:
    record = inv.get(v["kind"], v["id"])
    sub = [s for s in v.get("field") or [] if isinstance(s, (str, int))]
    if record is not None:
        file, line, col = record.locate(*sub)
    else:  # a rule about something not in the inventory (e.g. a missing default)
        file, line, col = (
            inv.ownership.locate() if v["kind"] == "ownership" else ("inventory", 1, 1)
        )
    controls = v.get("iec62443") or v.get("controls") or ()
    return Finding(
        rule=str(v["rule"]),
        severity=str(v.get("severity", "high")),
        message=str(v["msg"]),
        kind=str(v["kind"]),
        id=str(v["id"]),
        file=file,
        line=line,
        col=col,
        title=str(v.get("title", "")),
        controls=tuple(str(c) for c in controls),
        level=level,
    )


def evaluate(inv: Inventory, endpoint: OpaEndpoint, now: datetime | None = None) -> Report:
    document = facts.build(inv, now)
    decision = endpoint.decide(document)
    key = lambda f: (f.file, f.line, f.rule, f.message)  # noqa: E731 - a sort key
    findings = sorted((place(inv, v, "error") for v in decision["violations"]), key=key)
    warnings = sorted((place(inv, v, "warning") for v in decision.get("warnings") or []), key=key)
    return Report(
        findings, warnings, inv.source_label, document["now"], decision.get("counts") or {}
    )
