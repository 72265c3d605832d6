"""The pull-request gate on real commits: each scenario is a base/head pair in a temporary git
repository holding the sample plant and the real policies; `plantctl check --base --head` is run
as the workflow runs it and its decision, exit code, rule ids and required teams are asserted."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from plant_repo import git, sample_repo

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory) -> Path:
    """A repository whose main branch holds the sample plant, the policies and CODEOWNERS."""

    def prepare(repo: Path) -> None:
        (repo / "src").mkdir()
        (repo / "src" / "README").write_text("tool\n")

    return sample_repo(tmp_path_factory.mktemp("gate") / "repo", prepare)


Edit = Callable[[Path], None]


def replace(file: str, old: str, new: str) -> Edit:
    def edit(repo: Path) -> None:
        path = repo / file
        text = path.read_text()
        assert text.count(old) == 1, f"{file}: {old!r} must occur once"
        path.write_text(text.replace(old, new))

    return edit


def append(file: str, text: str) -> Edit:
    def edit(repo: Path) -> None:
        with (repo / file).open("a") as handle:
            handle.write(text)

    return edit


# A review given on the head commit of its scenario (`_run` writes the head's id for HEAD).
def review(login: str, state: str = "APPROVED", at: str = "2026-11-21T10:00:00Z") -> dict:
    return {"user": {"login": login}, "state": state, "submitted_at": at, "commit_id": "HEAD"}


def on_head(reviews: list[dict], head: str) -> list[dict]:
    return [{**r, "commit_id": head} if r.get("commit_id") == "HEAD" else r for r in reviews]


NEW_GATEWAY = append(
    "inventory/sites/ridgeway/gateways.yaml",
    "  - {id: gw-rw-04, zone: supervisory, address: 10.20.20.24, maintenance_window: wed-night}\n",
)
MAINT_AND_NET = [review("kito"), review("dokafor")]


@dataclass
class Scenario:
    name: str
    edits: list[Edit]
    code: int
    reviews: list[dict] | None = field(default_factory=list)
    author: str | None = "abello"
    rules: set[str] = field(default_factory=set)  # rule ids (or prefixes ending in '-') expected
    missing: set[str] = field(default_factory=set)  # teams whose approval is missing
    required: set[str] = field(default_factory=set)  # teams required (satisfied or not)
    env: dict = field(default_factory=dict)


SCENARIOS = [
    Scenario("no change passes", [], 0),
    Scenario(
        "new gateway without approvals", [NEW_GATEWAY], 1, missing={"maint-ridgeway", "it-network"}
    ),
    Scenario(
        "new gateway with maintenance and IT network approvals",
        [NEW_GATEWAY],
        0,
        reviews=MAINT_AND_NET,
        required={"maint-ridgeway", "it-network"},
    ),
    Scenario(
        "the author's own approval is ignored",
        [NEW_GATEWAY],
        1,
        author="kito",
        reviews=MAINT_AND_NET,
        missing={"maint-ridgeway"},
    ),
    Scenario(
        "an approval by a non-member is ignored",
        [NEW_GATEWAY],
        1,
        reviews=[review("gkim"), review("dokafor")],
        missing={"maint-ridgeway"},
    ),
    Scenario(
        "a later request for changes replaces an approval",
        [NEW_GATEWAY],
        1,
        reviews=[*MAINT_AND_NET, review("kito", "CHANGES_REQUESTED", "2026-11-21T11:00:00Z")],
        missing={"maint-ridgeway"},
    ),
    Scenario(
        "a later comment does not replace an approval",
        [NEW_GATEWAY],
        0,
        reviews=[*MAINT_AND_NET, review("kito", "COMMENTED", "2026-11-21T11:00:00Z")],
    ),
    Scenario(
        "a policy edited to allow its own violation is still judged by the base policy",
        [
            replace(
                "inventory/sites/ridgeway/collectors.yaml",
                "{function: 4, address: 12, scale: 0.1}",
                "{function: 6, address: 12, scale: 0.1}",
            ),
            lambda repo: [
                p.write_text("package plant.collectors\n")
                for p in (repo / "policies" / "collectors").glob("*.rego")
                if not p.name.endswith("_test.rego")
            ],
        ],
        1,
        reviews=[review("kito"), review("dokafor"), review("praman"), review("inovak")],
        rules={"COL-001"},
        required={"it-security", "audit"},
    ),
    Scenario(
        "a vendor grant of nine hours",
        [
            replace(
                "inventory/access/grants.yaml",
                "end: 2026-12-03T14:00:00-05:00",
                "end: 2026-12-03T17:00:00-05:00",
            )
        ],
        1,
        reviews=[review("mlopez"), review("praman")],
        rules={"RA-004"},
    ),
    Scenario(
        "a conduit from enterprise (L4) to a cell (L1)",
        [
            append(
                "inventory/sites/ridgeway/conduits.yaml",
                "  - id: erp-to-cell\n    from: enterprise\n    to: cell-machining\n"
                "    services: [{protocol: tcp, port: 4840}]\n    purpose: ERP reads CNC\n",
            )
        ],
        1,
        rules={"SEG-001", "SEG-002"},
        missing={"it-security", "ops-ridgeway"},
    ),
    Scenario(
        "a collector with a write function code",
        [
            replace(
                "inventory/sites/ridgeway/collectors.yaml",
                "{function: 2, address: 0}",
                "{function: 5, address: 0}",
            )
        ],
        1,
        reviews=MAINT_AND_NET,
        rules={"COL-001"},
    ),
    Scenario(
        "a critical machine without a maintenance window",
        [
            replace(
                "inventory/sites/ridgeway/machines.yaml",
                "    maintenance_window: sun-early\n    controller: {protocol: opcua, "
                "address: 10.20.11.21",
                "    controller: {protocol: opcua, address: 10.20.11.21",
            )
        ],
        1,
        reviews=[review("mlopez"), review("kito")],
        rules={"APR-006"},
        required={"ops-ridgeway", "maint-ridgeway"},
    ),
    Scenario(
        "CODEOWNERS edited by hand drifts",
        [append(".github/CODEOWNERS", "/inventory/ @someone/else\n")],
        1,
        reviews=[review("praman"), review("inovak")],
        rules={"GATE-001"},
        required={"it-security", "audit"},
    ),
    Scenario(
        "a data class change needs its data owner",
        [
            replace(
                "inventory/data_classes.yaml", "retention: {days: 1825,", "retention: {days: 2000,"
            )
        ],
        1,
        missing={"ops-ridgeway"},
    ),
    Scenario(
        "a data class change approved by its data owner",
        [
            replace(
                "inventory/data_classes.yaml", "retention: {days: 1825,", "retention: {days: 2000,"
            )
        ],
        0,
        reviews=[review("skowalski")],
        required={"ops-ridgeway"},
    ),
    Scenario(
        "a site phase change needs IT and operations sign-off (and a full survey)",
        [replace("inventory/sites/lakeside/site.yaml", "phase: survey", "phase: pilot")],
        1,
        rules={"PHA-001"},
        missing={"it-network", "ops-lakeside"},
    ),
    Scenario(
        "a new grant needs the target's operations owner and IT security",
        [replace("inventory/access/grants.yaml", "id: g-rw-0008", "id: g-rw-0009")],
        1,
        missing={"ops-ridgeway", "it-security"},
    ),
    Scenario(
        "a change to the tool needs IT security and audit",
        [append("src/README", "more\n")],
        1,
        missing={"it-security", "audit"},
    ),
    Scenario(
        "a change to the tool approved by IT security and audit",
        [append("src/README", "more\n")],
        0,
        reviews=[review("tberg"), review("inovak")],
        required={"it-security", "audit"},
    ),
    Scenario(
        "a machine on the molding line needs the molding operations team",
        [
            append(
                "inventory/sites/ridgeway/machines.yaml",
                "  - id: rw-dryer-01\n    name: Resin dryer\n    zone: cell-molding\n"
                "    kind: compressor\n    criticality: standard\n"
                "    controller: {protocol: modbus-tcp, address: 10.20.12.51, port: 502}\n",
            )
        ],
        1,
        missing={"ops-molding"},
    ),
    Scenario(
        "a collector on a critical machine also needs maintenance",
        [
            replace(
                "inventory/sites/ridgeway/collectors.yaml",
                "interval_s: 5, modbus: {function: 4, address: 20, scale: 0.1}",
                "interval_s: 2, modbus: {function: 4, address: 20, scale: 0.1}",
            )
        ],
        0,
        reviews=MAINT_AND_NET,
        required={"maint-ridgeway", "it-network"},
    ),
    Scenario(
        "invalid YAML in head",
        [append("inventory/sites/ridgeway/machines.yaml", "  - {id: broken\n")],
        2,
    ),
    Scenario(
        "the policy engine is down",
        [NEW_GATEWAY],
        3,
        reviews=MAINT_AND_NET,
        env={"OPA_URL": "closed-port"},
    ),
]


def _run(repo: Path, plantctl, scenario: Scenario, tmp_path: Path, monkeypatch):
    branch = "pr-" + "".join(ch if ch.isalnum() else "-" for ch in scenario.name)[:50]
    git(repo, "checkout", "-q", "-B", branch, "main")
    try:
        for edit in scenario.edits:
            edit(repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", scenario.name)
        head = git(repo, "rev-parse", "HEAD")
    finally:
        git(repo, "checkout", "-q", "main")
    args = ["check", "--base", "main", "--head", head, "--now", NOW, "--format", "json"]
    if scenario.reviews is not None:
        reviews = tmp_path / "reviews.json"
        reviews.write_text(json.dumps(on_head(scenario.reviews, head)))
        args += ["--approvals", str(reviews)]
    if scenario.author:
        args += ["--author", scenario.author]
    for key, value in scenario.env.items():
        if value == "closed-port":
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                value = f"http://127.0.0.1:{s.getsockname()[1]}"
        monkeypatch.setenv(key, value)
    return plantctl(*args, cwd=repo)


def test_at_least_20_scenarios():
    assert len(SCENARIOS) >= 20


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_gate_scenario(scenario: Scenario, base_repo: Path, plantctl, tmp_path, monkeypatch):
    before = git(base_repo, "status", "--porcelain")
    run = _run(base_repo, plantctl, scenario, tmp_path, monkeypatch)
    assert run.code == scenario.code, run.out + run.err
    # The work tree is never touched by the gate.
    assert git(base_repo, "status", "--porcelain") == before
    if scenario.code in (2, 3):
        return
    report = json.loads(run.out)
    assert report["decision"] == ("pass" if scenario.code == 0 else "fail")
    rules = {v["rule"] for v in report["violations"]}
    for expected in scenario.rules:
        if expected.endswith("-"):
            assert any(r.startswith(expected) for r in rules), (expected, rules)
        else:
            assert expected in rules, (expected, rules)
    if not scenario.rules:
        assert not rules, report["violations"]
    missing = set(report["approvals"]["missing"])
    assert missing == scenario.missing or (scenario.missing <= missing and scenario.rules), (
        missing,
        report["approvals"],
    )
    required = {a["team"] for a in report["approvals"]["required"]}
    assert scenario.required <= required, required
    for v in report["violations"]:
        assert v["line"] >= 1 and v["file"]


WRITE_CODE = next(s for s in SCENARIOS if s.name == "a collector with a write function code")


def _line_of(repo: Path, rev: str, file: str, text: str) -> int:
    lines = git(repo, "show", f"{rev}:{file}").splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("fmt", ["sarif", "markdown", "text", "json"])
def test_outputs_point_at_the_line_and_list_missing_approvals_first(
    fmt, base_repo, plantctl, tmp_path, monkeypatch
):
    scenario = Scenario(WRITE_CODE.name + " " + fmt, WRITE_CODE.edits, 1, reviews=[])
    run = _run(base_repo, plantctl, scenario, tmp_path, monkeypatch)
    assert run.code == 1
    head = git(
        base_repo,
        "rev-parse",
        "pr-" + "".join(ch if ch.isalnum() else "-" for ch in scenario.name)[:50],
    )
    file = "inventory/sites/ridgeway/collectors.yaml"
    line = _line_of(base_repo, head, file, "{function: 5, address: 0}")
    out = tmp_path / f"gate.{fmt}"
    args = [
        "check",
        "--base",
        "main",
        "--head",
        head,
        "--now",
        NOW,
        "--format",
        fmt,
        "--output",
        str(out),
        "--author",
        "abello",
    ]
    again = plantctl(*args, cwd=base_repo)
    assert again.code == 1
    text = out.read_text()
    if fmt == "sarif":
        sarif = json.loads(text)
        assert sarif["version"] == "2.1.0"
        results = sarif["runs"][0]["results"]
        ours = [r for r in results if r["ruleId"].startswith("COL-")]
        assert ours, results
        region = ours[0]["locations"][0]["physicalLocation"]
        assert region["artifactLocation"]["uri"] == file
        assert region["region"]["startLine"] == line
        rule_ids = [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
        assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)
        assert any(r["ruleId"] == "GATE-APPROVAL" for r in results)
    elif fmt == "markdown":
        assert text.startswith("## plantctl gate: ❌ **FAIL**")
        assert text.index("### Missing approvals") < text.index("### Policy violations")
        assert text.index("### Policy violations") < text.index("### What changed")
        assert f"`{file}:{line}`" in text
        assert "@harrow-mfg/maint-ridgeway" in text
    elif fmt == "text":
        assert f"{file}:{line}:" in text
        assert "needs approval @harrow-mfg/it-network" in text
        assert "\x1b[" not in text  # no colour codes in a file
    else:
        report = json.loads(text)
        assert any(v["file"] == file and v["line"] == line for v in report["violations"])


def test_output_file_is_not_touched_on_invalid_input(base_repo, plantctl, tmp_path, monkeypatch):
    out = tmp_path / "gate.md"
    out.write_text("previous\n")
    broken = next(s for s in SCENARIOS if s.name == "invalid YAML in head")
    run = _run(base_repo, plantctl, broken, tmp_path, monkeypatch)
    assert run.code == 2
    branch = "pr-" + "".join(ch if ch.isalnum() else "-" for ch in broken.name)[:50]
    again = plantctl(
        "check",
        "--base",
        "main",
        "--head",
        branch,
        "--format",
        "markdown",
        "--output",
        str(out),
        cwd=base_repo,
    )
    assert again.code == 2
    assert out.read_text() == "previous\n"
    assert "inventory/sites/ridgeway/machines.yaml:" in again.err


def test_unknown_base_revision_is_invalid_input(base_repo, plantctl):
    run = plantctl("check", "--base", "no-such-branch", cwd=base_repo)
    assert run.code == 2
    assert "unknown revision" in run.err


def test_reviews_that_are_not_json_are_invalid_input(base_repo, plantctl, tmp_path):
    bad = tmp_path / "reviews.json"
    bad.write_text("{not json")
    run = plantctl("check", "--base", "main", "--approvals", str(bad), cwd=base_repo)
    assert run.code == 2
    assert f"{bad}:1:2: not JSON" in run.err
