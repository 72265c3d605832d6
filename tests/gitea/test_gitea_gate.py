"""The gate on a real code host. The sample repository (this repository's committed tree) is
pushed to a Gitea server; the people of the sample plant are its users; each scenario opens a
pull request as its author, submits reviews through Gitea's API as different users, fetches the
review list from the API and runs the gate on it the way the workflow does:
`plantctl check --base <base sha> --head <head sha> --approvals <the API's reviews> --author
<the pull request's poster>`.

A new Ridgeway gateway needs the Ridgeway maintenance team (kito, abello) and IT network
(dokafor, lwei; dokafor is spelled DOkafor on the code host)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-22T12:00:00Z"
REPO = "plant-admin/plant"
GATEWAYS = "inventory/sites/ridgeway/gateways.yaml"

pytestmark = pytest.mark.slow


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()


@dataclass
class Plant:
    """The local clone of the sample repository on the Gitea server."""

    gitea: object
    clone: Path
    base: str
    free: list[str]  # addresses of the supervisory zone that no device uses at base

    def address(self) -> str:
        return self.free.pop(0)

    def open_pull_request(self, author: str, branch: str, gateway: str) -> dict:
        address = self.address()
        _git(self.clone, "checkout", "-q", "-B", branch, self.base)
        with (self.clone / GATEWAYS).open("a") as handle:
            handle.write(
                f"  - {{id: {gateway}, zone: supervisory, address: {address}, "
                "maintenance_window: wed-night}\n"
            )
        self.commit(author, f"ridgeway: request gateway {gateway}")
        self.push(author, branch)
        pr = self.gitea.api(
            author,
            "POST",
            f"/repos/{REPO}/pulls",
            {"head": branch, "base": "main", "title": f"ridgeway: {gateway}"},
        ).json()
        return self.wait_for_head(pr["number"], _git(self.clone, "rev-parse", "HEAD"))

    def commit(self, author: str, message: str) -> str:
        login = self.gitea.login(author)
        _git(self.clone, "add", "-A")
        email = f"{login.lower()}@example.invalid"
        _git(self.clone, "-c", f"user.name={login}", "-c", f"user.email={email}",
             "commit", "-qm", message)  # fmt: skip
        return _git(self.clone, "rev-parse", "HEAD")

    def push(self, author: str, branch: str) -> None:
        url = self.gitea.git_url(author, REPO)
        _git(self.clone, "push", "-q", url, f"HEAD:refs/heads/{branch}")

    def push_more(self, author: str, number: int, branch: str, edit) -> dict:
        _git(self.clone, "checkout", "-q", branch)
        edit(self.clone)
        sha = self.commit(author, "follow-up")
        self.push(author, branch)
        return self.wait_for_head(number, sha)

    def wait_for_head(self, number: int, sha: str) -> dict:
        """The pull request once the code host has seen `sha` as its head (pushes are async)."""
        deadline = time.monotonic() + 60
        while True:
            pr = self.gitea.api("plant-admin", "GET", f"/repos/{REPO}/pulls/{number}").json()
            if pr["head"]["sha"] == sha:
                return pr
            assert time.monotonic() < deadline, f"pull request {number} head is not {sha}"
            time.sleep(0.3)

    def review(self, user: str, number: int, event: str, commit: str, ok=(200,)):
        return self.gitea.api(
            user,
            "POST",
            f"/repos/{REPO}/pulls/{number}/reviews",
            {"event": event, "body": f"{event.lower()} by {user}", "commit_id": commit},
            ok=ok,
        )

    def gate(self, plantctl, number: int, tmp: Path, author: str | None = None):
        """The gate on the pull request as the code host reports it now."""
        pr = self.gitea.api("plant-admin", "GET", f"/repos/{REPO}/pulls/{number}").json()
        reviews = self.gitea.api(
            "plant-admin", "GET", f"/repos/{REPO}/pulls/{number}/reviews?limit=50"
        ).json()
        answer = tmp / f"reviews-{number}.json"
        answer.write_text(json.dumps(reviews))
        head = pr["head"]["sha"]
        # The head as git objects, from the code host (as the workflow fetches it).
        _git(self.clone, "fetch", "-q", "--no-tags", self.gitea.git_url("plant-admin", REPO),
             f"refs/pull/{number}/head")  # fmt: skip
        assert _git(self.clone, "rev-parse", "FETCH_HEAD") == head
        out = tmp / f"gate-{number}-{head[:8]}"
        run = plantctl(
            "check", "--base", pr["base"]["sha"], "--head", head, "--approvals", str(answer),
            "--author", author or pr["user"]["login"], "--now", NOW, "--format", "json",
            "--output-dir", str(out),
            cwd=self.clone,
        )  # fmt: skip
        assert run.code in (0, 1), run.out + run.err
        report = json.loads(run.out)
        record = json.loads((out / "decision.json").read_text())
        return run.code, report, record, reviews


@pytest.fixture(scope="module")
def plant(gitea, tmp_path_factory) -> Plant:
    gitea.api("plant-admin", "POST", "/user/repos", {"name": "plant", "default_branch": "main"})
    for person in gitea.users:
        if person != "plant-admin":
            gitea.api(
                "plant-admin",
                "PUT",
                f"/repos/{REPO}/collaborators/{gitea.login(person)}",
                {"permission": "write"},
            )
    clone = tmp_path_factory.mktemp("gitea-plant") / "plant"
    clone.mkdir()
    # The repository as it is on disk (tracked and new files), matching the plantctl under test.
    listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in sorted(set(listed.split("\0")) - {""}):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    _git(clone, "init", "-q", "-b", "main")
    _git(clone, "config", "user.name", "plant-admin")
    _git(clone, "config", "user.email", "plant-admin@example.invalid")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "the sample plant")
    _git(clone, "push", "-q", gitea.git_url("plant-admin", REPO), "main")
    free = allocate("--inventory", str(clone / "inventory"), "--site", "ridgeway",
                    "--zone", "supervisory", "--count", "12")  # fmt: skip
    return Plant(gitea, clone, _git(clone, "rev-parse", "HEAD"), free)


def allocate(*args: str) -> list[str]:
    from plantctl.cli import main

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["allocate", *args]) == 0
    return out.getvalue().split()


def _team(report: dict, team: str) -> dict:
    return next(a for a in report["approvals"]["required"] if a["team"] == team)


def _whys(report: dict, team: str) -> list[str]:
    return [n["why"] for n in _team(report, team).get("not_counted", [])]


def test_the_review_list_is_gitea_shaped(plant, plantctl, tmp_path):
    pr = plant.open_pull_request("abello", "shape", "gw-rw-04")
    head = pr["head"]["sha"]
    plant.review("kito", pr["number"], "APPROVED", head)
    plant.review("dokafor", pr["number"], "APPROVED", head)
    code, report, record, reviews = plant.gate(plantctl, pr["number"], tmp_path)
    assert {r["state"] for r in reviews} == {"APPROVED"}
    assert {r["user"]["login"] for r in reviews} == {"kito", "DOkafor"}
    assert all(r["commit_id"] == head for r in reviews)
    assert code == 0, report["approvals"]
    assert _team(report, "it-network")["approved_by"] == ["dokafor"]
    assert record["decision"] == "pass" and record["head"] == head


def test_approve_then_request_changes_is_not_approved(plant, plantctl, tmp_path):
    pr = plant.open_pull_request("abello", "request-changes", "gw-rw-05")
    number, head = pr["number"], pr["head"]["sha"]
    plant.review("kito", number, "APPROVED", head)
    plant.review("dokafor", number, "APPROVED", head)
    code, report, _, _ = plant.gate(plantctl, number, tmp_path)
    assert code == 0, report["approvals"]
    plant.review("kito", number, "REQUEST_CHANGES", head)
    code, report, record, reviews = plant.gate(plantctl, number, tmp_path)
    assert [r["state"] for r in reviews if r["user"]["login"] == "kito"] == [
        "APPROVED",
        "REQUEST_CHANGES",
    ]
    assert code == 1
    assert report["approvals"]["missing"] == ["maint-ridgeway"]
    whys = _whys(report, "maint-ridgeway")
    assert any("kito" in why and "not an approval" in why for why in whys), whys
    assert record["approvals"]["missing"] == ["maint-ridgeway"]
    assert {"login": "dokafor", "team": "it-network"}.items() <= next(
        c for c in record["approvals"]["counted"] if c["team"] == "it-network"
    ).items()


def test_a_push_touching_the_approved_object_makes_the_approvals_stale(plant, plantctl, tmp_path):
    pr = plant.open_pull_request("abello", "stale", "gw-rw-06")
    number, approved = pr["number"], pr["head"]["sha"]
    plant.review("kito", number, "APPROVED", approved)
    plant.review("dokafor", number, "APPROVED", approved)
    assert plant.gate(plantctl, number, tmp_path)[0] == 0
    moved = plant.address()

    def move_the_gateway(clone: Path) -> None:
        path = clone / GATEWAYS
        lines = path.read_text().splitlines(keepends=True)
        [i] = [i for i, line in enumerate(lines) if "id: gw-rw-06," in line]
        lines[i] = re.sub(r"address: [0-9.]+,", f"address: {moved},", lines[i])
        path.write_text("".join(lines))

    pr = plant.push_more("abello", number, "stale", move_the_gateway)
    code, report, record, reviews = plant.gate(plantctl, number, tmp_path)
    assert {r["commit_id"] for r in reviews} == {approved}
    assert code == 1
    assert set(report["approvals"]["missing"]) == {"maint-ridgeway", "it-network"}
    for team, login in (("maint-ridgeway", "kito"), ("it-network", "dokafor")):
        assert any(
            login in why and approved[:7] in why and "changed since" in why and "gw-rw-06" in why
            for why in _whys(report, team)
        ), _whys(report, team)
    assert any(n.get("login") == "kito" for n in record["approvals"]["not_counted"])


def test_an_unrelated_push_keeps_the_approvals(plant, plantctl, tmp_path):
    pr = plant.open_pull_request("abello", "unrelated", "gw-rw-07")
    number, approved = pr["number"], pr["head"]["sha"]
    plant.review("kito", number, "APPROVED", approved)
    plant.review("dokafor", number, "APPROVED", approved)

    def add_a_note(clone: Path) -> None:
        with (clone / "docs" / "maintenance.md").open("a") as handle:
            handle.write("\nGateways are requested one pull request each.\n")

    pr = plant.push_more("abello", number, "unrelated", add_a_note)
    assert pr["head"]["sha"] != approved
    code, report, record, reviews = plant.gate(plantctl, number, tmp_path)
    assert {r["commit_id"] for r in reviews} == {approved}
    assert code == 0, report["approvals"]
    assert _team(report, "maint-ridgeway")["approved_by"] == ["kito"]
    assert _team(report, "it-network")["approved_by"] == ["dokafor"]
    assert record["decision"] == "pass" and record["head"] == pr["head"]["sha"]


def test_the_authors_own_approval_never_counts(plant, plantctl, tmp_path):
    pr = plant.open_pull_request("abello", "author", "gw-rw-08")
    number, head = pr["number"], pr["head"]["sha"]
    assert pr["user"]["login"] == "abello"
    # The code host refuses a poster's approval; their comment review lands.
    refused = plant.review("abello", number, "APPROVED", head, ok=(422,))
    assert "own pull" in refused.text
    plant.review("abello", number, "COMMENT", head)
    plant.review("dokafor", number, "APPROVED", head)
    code, report, _, _ = plant.gate(plantctl, number, tmp_path)
    assert code == 1 and report["approvals"]["missing"] == ["maint-ridgeway"]
    # kito approves: maintenance is satisfied by kito, never by the author abello.
    plant.review("kito", number, "APPROVED", head)
    code, report, _, _ = plant.gate(plantctl, number, tmp_path)
    assert code == 0 and _team(report, "maint-ridgeway")["approved_by"] == ["kito"]
    # The same review list, with kito named as the author (spelled as a code host may): kito's
    # approval no longer counts, and the gate says why.
    code, report, record, _ = plant.gate(plantctl, number, tmp_path, author="KIto")
    assert code == 1 and report["approvals"]["missing"] == ["maint-ridgeway"]
    assert any("kito is the author" in why for why in _whys(report, "maint-ridgeway"))
    assert record["author"] == "kito"


def test_the_decision_record_travels_with_the_repository(plant, plantctl, tmp_path):
    """The workflow's publish job: the record appended as a git note on the head and pushed;
    a fresh clone fetches the notes and recomputes the decision at its own revisions."""
    pr = plant.open_pull_request("abello", "record", "gw-rw-09")
    number, head = pr["number"], pr["head"]["sha"]
    plant.review("kito", number, "APPROVED", head)
    plant.review("dokafor", number, "APPROVED", head)
    code, _, _, _ = plant.gate(plantctl, number, tmp_path)
    assert code == 0
    out = tmp_path / f"gate-{number}-{head[:8]}"
    added = plantctl("record", "add", str(out / "decision.json"), cwd=plant.clone)
    assert added.code == 0, added.err
    _git(plant.clone, "push", "-q", plant.gitea.git_url("plant-admin", REPO),
         "refs/notes/plantctl-gate")  # fmt: skip
    auditor = tmp_path / "auditor"
    _git(tmp_path, "clone", "-q", plant.gitea.git_url("plant-admin", REPO), str(auditor))
    _git(auditor, "fetch", "-q", "origin", "refs/notes/plantctl-gate:refs/notes/plantctl-gate",
         f"refs/pull/{number}/head")  # fmt: skip
    verified = plantctl("record", "verify", head, cwd=auditor)
    assert verified.code == 0, verified.out + verified.err
    assert "matches a recomputation" in verified.out
