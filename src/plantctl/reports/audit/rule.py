"""Rules as the evidence pack shows them: read through gate.rules (one reader of METADATA), with
the context they are judged in; OPA runs that fail."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from plantctl.gate import rules as metadata
from plantctl.gate.engine import opa_binary

# Rules judged outside the whole-inventory check: results only exist for a pull request or a plan.
CONTEXT_ONLY = {"approvals": "pull requests only", "plan": "stack plans only"}


@dataclass
class Rule:
    id: str
    title: str
    description: str
    severity: str
    owner: str
    principle: str
    iec62443: list[str]
    recommended_action: str
    file: str
    line: int
    package: str
    name: str  # deny, warn, problems, ...
    fires: list[dict] = field(default_factory=list)  # tests: {name, package, file, line, passed}
    near_misses: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    runtime: dict = field(default_factory=dict)  # lab tests that prove it at run time (runtime)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class OpaFailed(Exception):
    """opa inspect or opa test could not run (not a failing test: a broken tool or policy)."""


def _opa(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [opa_binary(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    try:  # opa test exits non-zero when a test fails; its JSON report is still the answer
        json.loads(done.stdout)
    except ValueError:
        raise OpaFailed(
            f"opa {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-1500:]}"
        ) from None
    return done.stdout


def rules_from_metadata(policies: Path, cwd: Path) -> list[Rule]:
    """Every rule's row of the pack, from the one reader of the METADATA (gate.rules)."""
    return [
        Rule(
            id=r.id,
            title=r.title,
            description=r.description,
            severity=r.severity,
            owner=r.owner,
            principle=r.principle,
            iec62443=list(r.iec62443),
            recommended_action=r.recommended_action,
            file=r.file,
            line=r.line,
            package=r.package,
            name=r.name,
        )
        for r in metadata.read(policies, cwd)
    ]
