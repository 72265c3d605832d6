"""plantctl review over a temporary repository with a scripted history: a machine added (with an
Approved-by trailer), a grant that expires within 14 days, a training record that expires within
30 days and a new conduit. The review lists exactly those items, attributed to their commits,
whether the period is given as a revision or as a date, with its two charts as PNG files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, str]:
    repo = tmp_path_factory.mktemp("review") / "plant"
    repo.mkdir()
    shutil.copytree(ROOT / "inventory", repo / "inventory")
    inv = repo / "inventory"
    (inv / "access" / "grants.yaml").write_text("grants: []\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Dana Okafor")
    _git(repo, "config", "user.email", "dokafor@example.com")
    first = _commit(repo, "the plant as surveyed", "2026-11-01T09:00:00Z")

    _append(
        inv / "sites" / "lakeside" / "machines.yaml",
        "  - id: lk-press-02\n"
        "    name: Transfer press 400 t\n"
        "    zone: cell-stamping\n"
        "    line: stamping\n"
        "    kind: press\n"
        "    vendor: Hollis Presses\n"
        "    criticality: important\n"
        "    controller: {protocol: modbus-tcp, address: 10.30.11.22, port: 502, unit_id: 1}\n",
    )
    _commit(
        repo,
        "lakeside: request press lk-press-02\n\nApproved-by: jweber\nApproved-by: lwei",
        "2026-11-05T10:00:00Z",
    )
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

    from plantctl import review

    repo, first = history
    result = review.build(repo, first, datetime.fromisoformat(NOW.replace("Z", "+00:00")))
    assert {(c["kind"], c["id"], c["op"]) for c in result.changes} == {
        ("machine", "lk-press-02", "added"),
        ("grant", "g-rw-0100", "added"),
        ("training", "oadeyemi/operator/2025-12-10", "added"),
        ("conduit", "lakeside/supervisory-to-dmz", "added"),
    }
    assert result.devices["lakeside"]["added"] == ["machine lk-press-02"]
    assert result.devices["lakeside"]["count"] == 4
    assert all(not d["added"] for site, d in result.devices.items() if site != "lakeside")
    [request] = result.machine_requests
    assert (request["id"], request["requested_by"], request["approved_by"]) == (
        "lk-press-02",
        "Dana Okafor",
        ["jweber", "lwei"],
    )
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
    assert [counts["lakeside"] for _, counts in result.series] == [3, 4, 4, 4, 4]


def test_the_command_writes_markdown_html_and_charts(history, tmp_path):
    repo, first = history
    out = tmp_path / "review"
    done = _review(repo, "2026-11-02", out)  # a date: the last commit before it is the base
    assert done.returncode == 0, done.stderr
    assert f"since 2026-11-02 ({first[:12]})" in done.stdout
    markdown = (out / "review.md").read_text()
    for item in (
        "| lakeside | 4 | machine lk-press-02 |",
        "| lk-press-02 | lakeside | important | Dana Okafor | jweber, lwei |",
        "| g-rw-0100 | rkessler | rw-cnc-02 | 2026-11-30T16:00:00Z | 8 |",
        "| oadeyemi | operator | 2026-12-10 |",
        "| added | conduit | lakeside/supervisory-to-dmz |",
        "![Devices per site over time](devices-per-site.png)",
    ):
        assert item in markdown, item
    page = (out / "review.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "lk-press-02" in page and "supervisory-to-dmz" in page
    for name in ("devices-per-site.png", "grant-durations.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_an_unknown_revision_is_refused(history, tmp_path):
    repo, _ = history
    done = _review(repo, "no-such-rev", tmp_path / "r")
    assert done.returncode == 2 and "neither a revision nor a date" in done.stderr
