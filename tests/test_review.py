"""plantctl review over a temporary repository with a scripted history: a machine added (judged
by the gate, whose decision record is kept as a git note on the commit), a grant that expires
within 14 days, a training record that expires within 30 days and a new conduit. The review
lists exactly those items, attributed to their commits and to the approvals the gate counted,
whether the period is given as a revision or as a date, with its two charts as PNG files; a
decision record that does not match a recomputation is reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from plantctl.model.loader import load

ROOT = Path(__file__).resolve().parents[1]
# The sample's Lakeside machines; the scripted history adds one (lk-press-07).
LAKESIDE_MACHINES = len(load(ROOT / "inventory").site_objects("machine", "lakeside"))
NOW = "2026-11-22T12:00:00Z"


def _git(repo: Path, *args: str, when: str | None = None) -> str:
    env = dict(os.environ)
    if when:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n" + text)


def _commit(repo: Path, message: str, when: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, when=when)
    return _git(repo, "rev-parse", "HEAD")


def _plantctl(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/plantctl"), *args],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _gate(repo: Path, base: str, head: str, approvers: list[str], out: Path) -> dict:
    """The gate on base..head with these approvals of head, its record kept as a git note."""
    reviews = out.parent / f"{out.name}-reviews.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    reviews.write_text(json.dumps([
        {"id": i + 1, "user": {"login": login}, "state": "APPROVED",
         "submitted_at": "2026-11-05T09:30:00Z", "commit_id": head}
        for i, login in enumerate(approvers)
    ]))  # fmt: skip
    done = _plantctl(
        repo, "check", "--base", base, "--head", head, "--approvals", str(reviews),
        "--author", "dokafor", "--now", NOW, "--output-dir", str(out), "--format", "json",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    added = _plantctl(repo, "record", "add", str(out / "decision.json"))
    assert added.returncode == 0, added.stderr
    return json.loads((out / "decision.json").read_text())


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, str]:
    repo = tmp_path_factory.mktemp("review") / "plant"
    repo.mkdir()
    shutil.copytree(ROOT / "inventory", repo / "inventory")
    shutil.copytree(ROOT / "policies", repo / "policies")
    inv = repo / "inventory"
    (inv / "access" / "grants.yaml").write_text("grants: []\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Dana Okafor")
    _git(repo, "config", "user.email", "dokafor@example.com")
    first = _commit(repo, "the plant as surveyed", "2026-11-01T09:00:00Z")

    _append(
        inv / "sites" / "lakeside" / "machines.yaml",
        "  - id: lk-press-07\n"
        "    name: Transfer press 400 t\n"
        "    zone: cell-stamping\n"
        "    line: stamping\n"
        "    kind: press\n"
        "    vendor: Hollis Presses\n"
        "    criticality: important\n"
        "    controller: {protocol: modbus-tcp, address: 10.30.11.22, port: 502, unit_id: 1}\n",
    )
    # A trailer is only text in a commit message: the review reads the gate's record instead.
    request = _commit(
        repo,
        "lakeside: request press lk-press-07\n\nApproved-by: mallory",
        "2026-11-05T10:00:00Z",
    )
    _gate(repo, first, request, ["jweber", "oadeyemi"], tmp_path_factory.mktemp("gate") / "out")
    (inv / "access" / "grants.yaml").write_text(
        "grants:\n"
        "  - id: g-rw-0100\n"
        "    person: rkessler\n"
        "    site: ridgeway\n"
        "    target: rw-cnc-02\n"
        "    services: [{protocol: tcp, port: 4840, name: opcua}]\n"
        "    start: 2026-11-20T08:00:00Z\n"
        "    end: 2026-11-30T16:00:00Z\n"
        "    ticket: CHG-2400\n"
        "    justification: Spindle diagnostics by the vendor\n"
        "    via: rw-bastion\n"
        "    mfa: true\n"
        "    session_recording: true\n"
        "    approvals:\n"
        "      - {person: mlopez, team: ops-ridgeway, date: 2026-11-10}\n"
        "      - {person: tberg, team: it-security, date: 2026-11-10}\n"
    )
    _commit(repo, "ridgeway: vendor access to rw-cnc-02", "2026-11-10T10:00:00Z")
    _append(
        inv / "org" / "training.yaml",
        "  - {person: oadeyemi, role: operator, course: Machine status and downtime entry,"
        " completed: 2025-12-10, expires: 2026-12-10}\n",
    )
    _commit(repo, "training: oadeyemi operator", "2026-11-12T10:00:00Z")
    _append(
        inv / "sites" / "lakeside" / "conduits.yaml",
        "  - id: supervisory-to-dmz\n"
        "    from: supervisory\n"
        "    to: dmz\n"
        "    services: [{protocol: tcp, port: 8883, name: mqtts}]\n"
        "    purpose: Gateways publish to the site broker\n",
    )
    _commit(repo, "lakeside: conduit to the broker", "2026-11-15T10:00:00Z")
    return repo, first


def _review(repo: Path, since: str, out: Path):
    return subprocess.run(
        [str(ROOT / ".venv/bin/plantctl"), "review", "--since", since, "--now", NOW,
         "--output", str(out)],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_review_lists_exactly_the_scripted_items(history, tmp_path):
    from datetime import datetime

    from plantctl.reports import governance

    repo, first = history
    result = governance.build(repo, first, datetime.fromisoformat(NOW.replace("Z", "+00:00")))
    assert {(c["kind"], c["id"], c["op"]) for c in result.changes} == {
        ("machine", "lk-press-07", "added"),
        ("grant", "g-rw-0100", "added"),
        ("training", "oadeyemi/operator/2025-12-10", "added"),
        ("conduit", "lakeside/supervisory-to-dmz", "added"),
    }
    assert result.devices["lakeside"]["added"] == ["machine lk-press-07"]
    assert result.devices["lakeside"]["count"] == LAKESIDE_MACHINES + 1
    assert all(not d["added"] for site, d in result.devices.items() if site != "lakeside")
    [request] = result.machine_requests
    # From the gate's record (ops-lakeside counted jweber; oadeyemi's approval was needed by no
    # team of this change), never from the commit's "Approved-by: mallory" trailer.
    assert (request["id"], request["requested_by"], request["approved_by"]) == (
        "lk-press-07",
        "Dana Okafor",
        ["jweber"],
    )
    [record] = result.gate_records
    assert record["matches"] and record["differences"] == []
    assert record["approved_by"] == ["jweber (ops-lakeside)"] and record["missing"] == []
    assert result.mismatched == []
    # Changes no pull request was judged for say so.
    [grant] = [c for c in result.changes if c["kind"] == "grant"]
    assert grant["approvers"] == [] and grant["gate"] == "no gate record"
    assert [g["id"] for g in result.grants_active] == ["g-rw-0100"]
    assert [(g["id"], g["days_left"]) for g in result.grants_expiring] == [("g-rw-0100", 8)]
    assert result.training_expiring == [
        {"person": "oadeyemi", "role": "operator", "expires": "2026-12-10"}
    ]
    assert [c["id"] for c in result.new_conduits] == ["lakeside/supervisory-to-dmz"]
    assert result.ownership_gaps == []
    assert result.data_class_changes == result.glossary_changes == []
    assert result.reason_code_changes == [] and result.open_waivers == []
    assert result.policy_changes == []
    assert len(result.commits) == 4 and result.skipped == []
    # devices per site after each commit: lakeside 3 -> 4 at the machine request
    assert [counts["lakeside"] for _, counts in result.series] == [LAKESIDE_MACHINES] + [
        LAKESIDE_MACHINES + 1
    ] * 4


def test_the_command_writes_markdown_html_and_charts(history, tmp_path):
    repo, first = history
    out = tmp_path / "review"
    done = _review(repo, "2026-11-02", out)  # a date: the last commit before it is the base
    assert done.returncode == 0, done.stderr
    assert f"since 2026-11-02 ({first[:12]})" in done.stdout
    markdown = (out / "review.md").read_text()
    for item in (
        f"| lakeside | {LAKESIDE_MACHINES + 1} | machine lk-press-07 |",
        "| lk-press-07 | lakeside | important | Dana Okafor | jweber |",
        "| g-rw-0100 | rkessler | rw-cnc-02 | 2026-11-30T16:00:00Z | 8 |",
        "| oadeyemi | operator | 2026-12-10 |",
        "| added | conduit | lakeside/supervisory-to-dmz |",
        "![Devices per site over time](devices-per-site.png)",
    ):
        assert item in markdown, item
    page = (out / "review.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "lk-press-07" in page and "supervisory-to-dmz" in page
    for name in ("devices-per-site.png", "grant-durations.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_an_unknown_revision_is_refused(history, tmp_path):
    repo, _ = history
    done = _review(repo, "no-such-rev", tmp_path / "r")
    assert done.returncode == 2 and "neither a revision nor a date" in done.stderr


def test_a_record_that_does_not_match_a_recomputation_is_reported(history, tmp_path):
    """A forged record (approvals nobody gave, a pass) on the conduit's commit is recomputed
    at its own revisions and reported; `plantctl record verify` fails on it."""
    from datetime import datetime

    from plantctl.reports import decision_record, governance

    repo, first = history
    copy = tmp_path / "plant"
    shutil.copytree(repo, copy)
    [(commit, [genuine])] = decision_record.notes(copy).items()
    head = _git(copy, "rev-parse", "HEAD")  # the conduit: IT security and ops-lakeside needed
    base = _git(copy, "rev-parse", "HEAD~1")
    honest = _gate(copy, base, head, [], tmp_path / "honest")
    assert honest["decision"] == "fail" and honest["approvals"]["missing"]
    _git(copy, "notes", "--ref", decision_record.NOTES_REF, "remove", head)
    forged = json.loads(json.dumps(honest))
    forged["decision"], forged["exit"] = "pass", 0
    for team in forged["approvals"]["required"]:
        team["satisfied"], team["approved_by"] = True, ["mallory"]
    forged["approvals"]["missing"] = []
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    assert _plantctl(copy, "record", "add", str(path)).returncode == 0

    result = governance.build(copy, first, datetime.fromisoformat(NOW.replace("Z", "+00:00")))
    assert len(result.mismatched) == 1, result.mismatched
    [bad] = result.mismatched
    assert bad["head"] == head and not bad["matches"]
    text = " ".join(bad["differences"])
    assert "decision" in text and "approvals" in text and "mallory" in text
    assert [g["matches"] for g in result.gate_records] == [True, False]
    [conduit] = result.new_conduits
    assert conduit["approvers"] == ["mallory"]  # what the record claims, next to the warning
    markdown = governance.render_markdown(result, {})
    assert "## Security items: gate records that do not match a recomputation" in markdown
    assert f"| {head[:12]} |" in markdown

    verified = _plantctl(copy, "record", "verify", head)
    assert verified.returncode == 1 and "DOES NOT MATCH" in verified.stdout
    genuine_check = _plantctl(copy, "record", "verify", commit)
    assert genuine_check.returncode == 0, genuine_check.stdout + genuine_check.stderr
    assert genuine["head"] == commit


def test_record_add_refuses_what_is_not_a_record(history, tmp_path):
    repo, _ = history
    path = tmp_path / "decision.json"
    path.write_text('{"decision": "pass"}')
    done = _plantctl(repo, "record", "add", str(path))
    assert done.returncode == 2 and "not a decision record" in done.stderr
    assert _plantctl(repo, "record", "verify", "HEAD~2").returncode == 2  # no record there
