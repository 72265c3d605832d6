"""`plantctl check --output-dir`: every format and the decision record from ONE evaluation; the
record names what judged (the base's policy files by a checksum an auditor reproduces with git,
tar and sha256sum), and `plantctl record` keeps it as a git note on the head and recomputes it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from plant_repo import git, sample_repo

from plantctl.gate import check
from plantctl.reports import decision_record

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"


@pytest.fixture(scope="module")
def pr(tmp_path_factory):
    repo = sample_repo(tmp_path_factory.mktemp("record") / "repo")
    base = git(repo, "rev-parse", "HEAD")
    with (repo / "inventory/sites/ridgeway/gateways.yaml").open("a") as handle:
        handle.write(
            "  - {id: gw-rw-04, zone: supervisory, address: 10.20.20.24, "
            "maintenance_window: wed-night}\n"
        )
    git(repo, "commit", "-qam", "gw-rw-04")
    head = git(repo, "rev-parse", "HEAD")
    reviews = repo.parent / "reviews.json"
    reviews.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "user": {"login": "kito"},
                    "state": "APPROVED",
                    "submitted_at": "2026-11-21T10:00:00Z",
                    "commit_id": head,
                },
                {
                    "id": 2,
                    "user": {"login": "gkim"},
                    "state": "APPROVED",
                    "submitted_at": "2026-11-21T10:05:00Z",
                    "commit_id": head,
                },
            ]
        )
    )
    return repo, base, head, reviews


def test_all_formats_come_from_one_evaluation(pr, plantctl, tmp_path, monkeypatch):
    repo, base, head, reviews = pr
    calls = []
    real = check.evaluate

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(check, "evaluate", counted)
    out = tmp_path / "gate"
    run = plantctl(
        "check", "--base", base, "--head", head, "--approvals", str(reviews), "--author",
        "abello", "--now", NOW, "--output-dir", str(out), cwd=repo,
    )  # fmt: skip
    assert run.code == 1, run.out + run.err
    assert len(calls) == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "decision.json", "gate.json", "gate.md", "gate.sarif", "gate.txt",
    ]  # fmt: skip
    assert run.out == (out / "gate.txt").read_text()  # stdout: the --format (text) of it
    report = json.loads((out / "gate.json").read_text())
    record = json.loads((out / "decision.json").read_text())
    sarif = json.loads((out / "gate.sarif").read_text())
    assert report["approvals"]["missing"] == record["approvals"]["missing"] == ["it-network"]
    assert "@harrow-mfg/it-network" in (out / "gate.md").read_text()
    assert any(r["ruleId"] == "GATE-APPROVAL" for r in sarif["runs"][0]["results"])
    # The record: revisions, what judged, the decision, who counted and who did not, and why.
    assert (record["schema"], record["base"], record["head"]) == (
        decision_record.SCHEMA,
        base,
        head,
    )
    assert (record["decision"], record["exit"], record["now"]) == ("fail", 1, NOW)
    assert record["policy"]["source"] == "base" and record["policy"]["revision"] == base
    assert {"login": "kito", "team": "maint-ridgeway"}.items() <= record["approvals"]["counted"][
        0
    ].items()
    assert any(
        n["login"] == "gkim" and "none of the required teams" in n["why"]
        for n in record["approvals"]["not_counted"]
    ), record["approvals"]["not_counted"]
    assert record["reviews"]["answer"] == json.loads(reviews.read_text())
    assert record["changes"] == [{"kind": "gateway", "id": "gw-rw-04", "op": "added"}]


def test_the_policy_checksum_is_reproducible_with_git_tar_and_sha256sum(pr, tmp_path):
    repo, base, _, _ = pr
    identity = decision_record.policy_identity(repo, base)
    script = (
        f"git -C {repo} archive {base} policies | tar -x -C {tmp_path} && cd {tmp_path} && "
        "find policies -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1"
    )
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert identity["sha256"] == shell.stdout.strip()
    assert identity["files"] == len(list((ROOT / "policies").rglob("*.*")))


def test_the_record_is_a_note_on_the_head_and_recomputes(pr, plantctl, tmp_path):
    repo, base, head, reviews = pr
    out = tmp_path / "gate"
    plantctl(
        "check", "--base", base, "--head", head, "--approvals", str(reviews), "--author",
        "abello", "--now", NOW, "--output-dir", str(out), cwd=repo,
    )  # fmt: skip
    for _ in range(2):  # every decision on a head is kept
        added = plantctl("record", "add", str(out / "decision.json"), cwd=repo)
        assert added.code == 0 and f"on {head[:12]}" in added.out, added.err
    note = git(repo, "notes", "--ref", decision_record.NOTES_REF, "show", head)
    assert len(decision_record.parse_note(note)) == 2
    assert decision_record.notes(repo)[head][0]["head"] == head
    verified = plantctl("record", "verify", head, cwd=repo)
    assert verified.code == 0 and verified.out.count("matches a recomputation") == 2
