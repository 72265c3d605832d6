"""The policy rules, from their METADATA: the one reader of it.

OPA parses the `# METADATA` comment blocks (`opa inspect --annotations --format json`); every
annotation that carries custom.id is a rule, checked against rule_metadata.schema.json beside
this file (the severities, owners and principles are listed there only) and returned as a Rule.
METADATA that breaks the schema, or an id used twice, raises InvalidInput naming the file and
line of each rule (exit 2).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from plantctl.core.problems import InvalidInput, Problem
from plantctl.gate.engine import EngineUnavailable, opa_binary

SCHEMA_PATH = Path(__file__).with_name("rule_metadata.schema.json")
PROBLEM = "POL-META"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str  # on one line
    severity: str
    owner: str
    principle: str  # "<n> <name>" of a principle of docs/architecture.md
    iec62443: tuple[str, ...]  # the IEC 62443-3-3 requirements (controls) it supports
    zcr: tuple[str, ...]  # the IEC 62443-3-2 zone and conduit requirements, if any
    recommended_action: str
    file: str  # relative to cwd when under it, else as OPA names it
    line: int  # the rule's head; its METADATA is the comment block just above
    package: str  # plant.segmentation
    name: str  # deny, warn, needs, problems, ...
    clock: bool = False  # reads input.now (custom.clock): never cached, see gate/scoped.py


class RulesUnreadable(EngineUnavailable):
    """opa inspect could not read the policies (no opa, or a policy that does not parse)."""


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def severities() -> tuple[str, ...]:
    """The severities a rule may have, most severe first."""
    return tuple(schema()["$defs"]["severity"]["enum"])


def principles() -> dict[str, str]:
    """The principles (docs/architecture.md) a rule may serve: number -> name, in order."""
    return dict(p.split(" ", 1) for p in schema()["$defs"]["principle"]["enum"])


@cache
def _validator():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


@cache
def _domain_validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator({**schema()["$defs"]["domain"], "$defs": schema()["$defs"]})


def read_annotations(policies: Path, cwd: Path | None = None) -> list[dict]:
    """Every METADATA annotation under policies, as `opa inspect -a` reports it."""
    args = [opa_binary(), "inspect", "--annotations", "--format", "json", str(policies)]
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RulesUnreadable(f"opa inspect {policies} could not run: {exc}") from None
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        raise RulesUnreadable(
            f"opa inspect {policies} failed ({done.returncode}): {done.stderr.strip()[-1500:]}"
        ) from None
    return doc.get("annotations") or []


def _shown(file: str, cwd: Path | None) -> str:
    path = Path(file)
    base = (cwd or Path.cwd()).resolve()
    full = (path if path.is_absolute() else base / path).resolve()
    return full.relative_to(base).as_posix() if full.is_relative_to(base) else file


def _where(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "METADATA"


def read(policies: Path, cwd: Path | None = None) -> list[Rule]:
    """Every rule under policies, sorted by file and line; InvalidInput when any rule's METADATA
    breaks the schema or two rules share an id."""
    found: list[Rule] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for entry in read_annotations(policies, cwd):
        ann = entry.get("annotations") or {}
        custom = ann.get("custom") or {}
        if not isinstance(custom, dict) or "id" not in custom:
            continue
        file = _shown(entry["location"]["file"], cwd)
        line = int(entry["location"]["row"])
        rid = str(custom["id"])
        errors = sorted(_validator().iter_errors(ann), key=_where)
        for error in errors:
            problems.append(
                Problem(file, line, 1, f"{rid}: {_where(error)}: {error.message}", PROBLEM)
            )
        if rid in seen:
            problems.append(
                Problem(file, line, 1, f"rule id {rid} is also used at {seen[rid]}", PROBLEM)
            )
        seen.setdefault(rid, f"{file}:{line}")
        if errors:
            continue
        path = [p["value"] for p in entry["path"]][1:]
        found.append(
            Rule(
                id=rid,
                title=ann["title"],
                description=" ".join(ann["description"].split()),
                severity=custom["severity"],
                owner=custom["owner"],
                principle=custom["principle"],
                iec62443=tuple(custom["iec62443"]),
                zcr=tuple(custom.get("zcr") or ()),
                recommended_action=custom["recommended_action"],
                file=file,
                line=line,
                package=".".join(path[:-1]),
                name=path[-1],
                clock=bool(custom.get("clock")),
            )
        )
    if problems:
        raise InvalidInput(problems)
    return sorted(found, key=lambda r: (r.file, r.line))


@dataclass(frozen=True)
class Domain:
    """A policy domain (a package of policies/lib/domains.rego) and what its results read."""

    name: str  # collectors (the package plant.collectors)
    scope: str  # site or global
    clock_rules: frozenset[str]  # ids of its rules that read input.now
    clock_input: tuple[str, ...]  # the input tables those rules read
    reads: tuple[str, ...]  # scope global: every input table the package reads
    file: str
    line: int


def domains(policies: Path, names: set[str], cwd: Path | None = None) -> dict[str, Domain]:
    """The scope declaration of every domain in `names`, from its package METADATA
    (custom.scope, custom.clock_input, custom.reads) and its rules' custom.clock; InvalidInput
    when a domain declares none, breaks the schema, or has clock rules without a clock_input."""
    annotations = read_annotations(policies, cwd)
    declared: dict[str, tuple[dict, str, int]] = {}
    clock: dict[str, set[str]] = {}
    for entry in annotations:
        path = [p["value"] for p in entry["path"]][1:]
        ann = entry.get("annotations") or {}
        if len(path) < 2 or path[0] != "plant" or path[1] not in names:
            continue
        where = (_shown(entry["location"]["file"], cwd), int(entry["location"]["row"]))
        custom = ann.get("custom") or {}
        if ann.get("scope") == "package" and len(path) == 2:
            declared[path[1]] = (ann, *where)
        elif isinstance(custom, dict) and custom.get("clock") is True and "id" in custom:
            clock.setdefault(path[1], set()).add(str(custom["id"]))
    problems: list[Problem] = []
    found: dict[str, Domain] = {}
    for name in sorted(names):
        ann, file, line = declared.get(name, ({}, str(policies), 1))
        if "scope" not in (ann.get("custom") or {}):
            problems.append(
                Problem(
                    file,
                    line,
                    1,
                    f"domain {name}: its package METADATA declares no custom.scope; add "
                    "`custom: {scope: site}` (or global) to the METADATA of package "
                    f"plant.{name}",
                    PROBLEM,
                )
            )
            continue
        errors = sorted(_domain_validator().iter_errors(ann), key=_where)
        for error in errors:
            problems.append(
                Problem(file, line, 1, f"domain {name}: {_where(error)}: {error.message}", PROBLEM)
            )
        if errors:
            continue
        custom = ann["custom"]
        rules = frozenset(clock.get(name, set()))
        if rules and custom["scope"] == "site" and not custom.get("clock_input"):
            problems.append(
                Problem(
                    file,
                    line,
                    1,
                    f"domain {name}: rules {', '.join(sorted(rules))} read the clock but the "
                    "package declares no custom.clock_input (the tables they read)",
                    PROBLEM,
                )
            )
            continue
        found[name] = Domain(
            name,
            custom["scope"],
            rules,
            tuple(custom.get("clock_input") or ()),
            tuple(custom.get("reads") or ()),
            file,
            line,
        )
    if problems:
        raise InvalidInput(problems)
    return found
