"""Approvals on real commits: bound to what the reviewer saw, given by real code-host answers,
each team by a different person where the rule separates duties. `plantctl check --base --head
--approvals` runs as the workflow runs it, in a temporary repository holding the sample plant
and the real policies (praman is in IT security and in audit there)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from plant_repo import git, sample_repo

from plantctl.gate import approvals, codeowners
from plantctl.gate.engine import OpaServer
from plantctl.model.loader import load

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "code_hosts"
RECORDED_COMMIT = "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091"  # in the recorded answers
NOW = "2026-11-22T12:00:00Z"
GATEWAYS = "inventory/sites/ridgeway/gateways.yaml"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    def prepare(repo: Path) -> None:
        teams = repo / "inventory" / "org" / "teams.yaml"
        text = teams.read_text()
        assert text.count("members: [inovak]") == 1
        teams.write_text(text.replace("members: [inovak]", "members: [inovak, praman]"))
        (repo / "src").mkdir()
        (repo / "src" / "README").write_text("tool\n")
        (repo / "docs").mkdir()
        (repo / "docs" / "notes.md").write_text("notes\n")

    return sample_repo(tmp_path_factory.mktemp("approvals") / "repo", prepare)


Edit = Callable[[Path], None]


def append(file: str, text: str) -> Edit:
    def edit(repo: Path) -> None:
        with (repo / file).open("a") as handle:
            handle.write(text)

    return edit


def replace(file: str, old: str, new: str) -> Edit:
    def edit(repo: Path) -> None:
        path = repo / file
        text = path.read_text()
        assert text.count(old) == 1, (file, old)
        path.write_text(text.replace(old, new))

    return edit


def gateway(n: int) -> Edit:
    return append(
        GATEWAYS,
        f"  - {{id: gw-rw-{n:02d}, zone: supervisory, address: 10.20.20.{20 + n}, "
        "maintenance_window: wed-night}\n",
    )


def commits(repo: Path, name: str, *steps: list[Edit], start: str = "main") -> list[str]:
    """One commit per step on branch `name` from `start`; their ids, oldest first."""
    git(repo, "checkout", "-q", "-B", name, start)
    out = []
    try:
        for step in steps:
            for edit in step:
                edit(repo)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "--allow-empty", "-m", f"{name} {len(out)}")
            out.append(git(repo, "rev-parse", "HEAD"))
    finally:
        git(repo, "checkout", "-q", "main")
    return out


def gh(login: str | None, state: str, commit: str, at: str, review_id: int = 0) -> dict:
    return {
        "id": review_id,
        "user": None if login is None else {"login": login},
        "state": state,
        "submitted_at": at,
        "commit_id": commit,
    }


T1, T2, T3 = "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z", "2026-11-21T12:00:00Z"


def gate(plantctl, repo, tmp_path, head, reviews, *, author="abello", fmt="json", extra=()):
    path = tmp_path / "reviews.json"
    path.write_text(reviews if isinstance(reviews, str) else json.dumps(reviews))
    args = ["check", "--base", "main", "--head", head, "--now", NOW, "--format", fmt]
    args += ["--approvals", str(path), "--author", author, *extra]
    return plantctl(*args, cwd=repo)


def decided(run) -> dict:
    assert run.code in (0, 1), run.out + run.err
    return json.loads(run.out)


def team(report: dict, name: str) -> dict:
    return next(a for a in report["approvals"]["required"] if a["team"] == name)


def whys(report: dict, name: str) -> list[str]:
    return [n["why"] for n in team(report, name)["not_counted"]]


# -- approvals bound to content --


def test_a_push_touching_another_object_makes_the_approvals_for_it_stale(repo, plantctl, tmp_path):
    a, b = commits(repo, "stale-b", [gateway(4)], [gateway(5)])
    at_a = [gh("kito", "APPROVED", a, T1, 1), gh("dokafor", "APPROVED", a, T1, 2)]
    assert decided(gate(plantctl, repo, tmp_path, a, at_a))["decision"] == "pass"
    report = decided(gate(plantctl, repo, tmp_path, b, at_a))
    assert report["decision"] == "fail"
    assert set(report["approvals"]["missing"]) == {"maint-ridgeway", "it-network"}
    assert f"kito approved at {a[:7]}, changed since: gateway gw-rw-05" in whys(
        report, "maint-ridgeway"
    )
    # approved at A, they still count for gw-rw-04, which is as it was at A
    assert team(report, "maint-ridgeway")["approved_by"] == ["kito"]
    markdown = gate(plantctl, repo, tmp_path, b, at_a, fmt="markdown")
    assert markdown.code == 1
    assert (
        f"approval not counted: dokafor approved at {a[:7]}, changed since: gateway gw-rw-05"
        in markdown.out
    )
    at_b = [*at_a, gh("kito", "APPROVED", b, T2, 3), gh("dokafor", "APPROVED", b, T2, 4)]
    assert decided(gate(plantctl, repo, tmp_path, b, at_b))["decision"] == "pass"


def test_a_push_changing_the_approved_object_makes_its_approval_stale(repo, plantctl, tmp_path):
    a, b = commits(
        repo,
        "stale-same",
        [gateway(4)],
        [replace(GATEWAYS, "address: 10.20.20.24", "address: 10.20.20.34")],
    )
    at_a = [gh("kito", "APPROVED", a, T1, 1), gh("dokafor", "APPROVED", a, T1, 2)]
    report = decided(gate(plantctl, repo, tmp_path, b, at_a))
    assert set(report["approvals"]["missing"]) == {"maint-ridgeway", "it-network"}
    assert f"dokafor approved at {a[:7]}, changed since: gateway gw-rw-04" in whys(
        report, "it-network"
    )


def test_a_push_touching_nothing_approved_keeps_the_approvals(repo, plantctl, tmp_path):
    # C: prose, and the approved gateway's file reformatted with a comment: same content.
    a, c = commits(
        repo,
        "unrelated-c",
        [gateway(4)],
        [
            append("docs/notes.md", "more\n"),
            replace(GATEWAYS, "gateways:\n", "gateways:  # the edge boxes\n"),
        ],
    )
    at_a = [gh("kito", "APPROVED", a, T1, 1), gh("dokafor", "APPROVED", a, T1, 2)]
    report = decided(gate(plantctl, repo, tmp_path, c, at_a))
    assert report["decision"] == "pass", report["approvals"]
    assert team(report, "maint-ridgeway")["approved_by"] == ["kito"]


def test_a_file_pushed_after_the_approval_needs_it_again(repo, plantctl, tmp_path):
    a, b = commits(repo, "file-b", [append("src/README", "a\n")], [append("src/README", "b\n")])
    at_a = [gh("tberg", "APPROVED", a, T1, 1), gh("inovak", "APPROVED", a, T1, 2)]
    assert decided(gate(plantctl, repo, tmp_path, a, at_a))["decision"] == "pass"
    report = decided(gate(plantctl, repo, tmp_path, b, at_a))
    assert set(report["approvals"]["missing"]) == {"it-security", "audit"}
    assert f"tberg approved at {a[:7]}, changed since: file src/README" in whys(
        report, "it-security"
    )


def test_a_commit_outside_the_head_history_or_unknown_counts_for_nothing(repo, plantctl, tmp_path):
    (head,) = commits(repo, "history-head", [gateway(4)])
    (side,) = commits(repo, "history-side", [gateway(4)])  # the same content, another commit
    unknown = "0123456789abcdef0123456789abcdef01234567"
    report = decided(
        gate(
            plantctl,
            repo,
            tmp_path,
            head,
            [gh("kito", "APPROVED", side, T1, 1), gh("dokafor", "APPROVED", unknown, T1, 2)],
        )
    )
    assert set(report["approvals"]["missing"]) == {"maint-ridgeway", "it-network"}
    assert f"kito approved {side[:7]}, which is not in the head's history" in whys(
        report, "maint-ridgeway"
    )
    assert f"dokafor approved {unknown}, a commit this repository does not have" in whys(
        report, "it-network"
    )


# -- review states, logins, authors --


def test_approve_then_request_changes_is_not_approved(repo, plantctl, tmp_path):
    (head,) = commits(repo, "then-changes", [gateway(4)])
    run = gate(
        plantctl,
        repo,
        tmp_path,
        head,
        [
            gh("kito", "APPROVED", head, T1, 1),
            gh("dokafor", "APPROVED", head, T1, 2),
            gh("kito", "CHANGES_REQUESTED", head, T2, 3),
        ],
    )
    report = decided(run)
    assert report["approvals"]["missing"] == ["maint-ridgeway"]
    assert "kito's latest review is CHANGES_REQUESTED, not an approval" in whys(
        report, "maint-ridgeway"
    )


def test_the_authors_own_approval_never_counts_whatever_the_case(repo, plantctl, tmp_path):
    (head,) = commits(repo, "own-approval", [gateway(4)])
    reviews = [gh("Kito", "APPROVED", head, T1, 1), gh("DOKAFOR", "APPROVED", head, T1, 2)]
    report = decided(gate(plantctl, repo, tmp_path, head, reviews, author="KITO"))
    assert report["approvals"]["missing"] == ["maint-ridgeway"]
    assert "kito is the author of the pull request" in whys(report, "maint-ridgeway")
    assert team(report, "it-network")["approved_by"] == ["dokafor"]  # mixed case counts


def test_equal_times_are_ordered_by_review_id(repo, plantctl, tmp_path):
    (head,) = commits(repo, "equal-times", [gateway(4)])
    same = [
        gh("kito", "CHANGES_REQUESTED", head, T1, 7),
        gh("kito", "APPROVED", head, T1, 8),
        gh("dokafor", "APPROVED", head, T1, 9),
        gh("dokafor", "DISMISSED", head, T1, 10),
    ]
    report = decided(gate(plantctl, repo, tmp_path, head, same))
    assert report["approvals"]["missing"] == ["it-network"]


# -- separation of duties --


def test_one_person_in_two_required_teams_is_counted_once(repo, plantctl, tmp_path):
    (head,) = commits(repo, "two-hats", [append("src/README", "x\n")])
    only_praman = [gh("praman", "APPROVED", head, T1, 1)]
    report = decided(gate(plantctl, repo, tmp_path, head, only_praman))
    assert report["approvals"]["missing"] == ["it-security"]
    assert team(report, "audit")["approved_by"] == ["praman"]
    md = gate(plantctl, repo, tmp_path, head, only_praman, fmt="markdown")
    assert md.code == 1
    assert (
        "approval not counted: praman is counted for audit; each team's approval comes from a "
        "different person (APR-011)" in md.out
    )
    text = gate(plantctl, repo, tmp_path, head, only_praman, fmt="text")
    assert "praman is counted for audit" in text.out
    both = [*only_praman, gh("tberg", "APPROVED", head, T1, 2)]
    report = decided(gate(plantctl, repo, tmp_path, head, both))
    assert report["decision"] == "pass"
    assert team(report, "audit")["approved_by"] == ["praman"]
    assert team(report, "it-security")["approved_by"] == ["tberg"]


def test_separation_configured_for_another_rule_in_the_base(repo, plantctl, tmp_path):
    # dokafor joins maintenance; with APR-001 separated, one approval cannot serve both teams.
    (base,) = commits(
        repo,
        "sep-base",
        [
            replace(
                "inventory/org/teams.yaml",
                "members: [kito, abello]",
                "members: [kito, abello, dokafor]",
            ),
            replace(
                "inventory/org/ownership.yaml",
                "separation_of_duties: [APR-008]",
                "separation_of_duties: [APR-008, APR-001]",
            ),
            lambda r: (r / ".github" / "CODEOWNERS").write_text(
                codeowners.render(load(r / "inventory"))
            ),
        ],
    )
    (head,) = commits(repo, "sep-head", [gateway(4)], start=base)
    path = tmp_path / "reviews.json"
    path.write_text(json.dumps([gh("dokafor", "APPROVED", head, T1, 1)]))
    args = ["check", "--base", base, "--head", head, "--now", NOW, "--format", "json"]
    run = plantctl(*args, "--approvals", str(path), "--author", "abello", cwd=repo)
    report = decided(run)
    assert len(report["approvals"]["missing"]) == 1, report["approvals"]


# -- recorded code-host answers --


def _recorded(name: str, head: str) -> str:
    return (FIXTURES / name).read_text().replace(RECORDED_COMMIT, head)


def test_recorded_github_answer(repo, plantctl, tmp_path):
    (head,) = commits(repo, "github", [gateway(4)])
    run = gate(plantctl, repo, tmp_path, head, _recorded("github_reviews.json", head))
    report = decided(run)
    # Kito (any case) approved, then commented: stands; dokafor commented, then approved; the
    # deleted account's request for changes counts for nobody; lwei's draft is no position.
    assert report["decision"] == "pass", report["approvals"]
    assert "deleted account" in run.err


def test_recorded_gitea_answer_approve_then_request_changes(repo, plantctl, tmp_path):
    (head,) = commits(repo, "gitea", [gateway(4)])
    for extra in ((), ("--reviews-format", "gitea")):
        report = decided(
            gate(plantctl, repo, tmp_path, head, _recorded("gitea_reviews.json", head), extra=extra)
        )
        assert report["approvals"]["missing"] == ["maint-ridgeway"]
        assert "kito's latest review is CHANGES_REQUESTED, not an approval" in whys(
            report, "maint-ridgeway"
        )


def test_recorded_gitlab_answer_needs_the_merge_request_sha(repo, plantctl, tmp_path):
    (head,) = commits(repo, "gitlab", [gateway(4)])
    recorded = json.loads((FIXTURES / "gitlab_approvals.json").read_text())
    run = gate(plantctl, repo, tmp_path, head, recorded)
    assert set(decided(run)["approvals"]["missing"]) == {"maint-ridgeway", "it-network"}
    assert "GitLab's approvals name no commit" in run.err
    with_sha = {**recorded, "sha": head}
    run = gate(plantctl, repo, tmp_path, head, with_sha, extra=("--reviews-format", "gitlab"))
    assert decided(run)["decision"] == "pass"


# -- size, cost, and no input breaks the gate --


def test_a_thousand_reviews_one_inventory_load_per_reviewed_commit(
    repo, plantctl, tmp_path, monkeypatch
):
    a, b, c = commits(
        repo, "thousand", [gateway(4)], [gateway(5)], [append("docs/notes.md", "x\n")]
    )
    loads = []
    real = approvals.load
    monkeypatch.setattr(approvals, "load", lambda *args, **kw: loads.append(1) or real(*args, **kw))
    many = [
        gh(f"user{i}", ("APPROVED", "COMMENTED", "PENDING", "FOO")[i % 4], (a, b)[i % 2], T1, i)
        for i in range(996)
    ]
    many += [
        gh(None, "APPROVED", c, T1, 996),
        gh("kito", "APPROVED", b, T1, 997),
        gh("kito", "COMMENTED", c, T2, 998),
        gh("dokafor", "APPROVED", c, T3, 999),
    ]
    report = decided(gate(plantctl, repo, tmp_path, c, many))
    assert report["decision"] == "pass", report["approvals"]
    # One load for a (its diff to c touches inventory/); none for b (only docs/ changed since)
    # or for c (the head itself), however many reviews name them.
    assert len(loads) == 1


def test_a_50_mb_reviews_file_is_refused_with_a_message(repo, plantctl, tmp_path):
    (head,) = commits(repo, "big", [gateway(4)])
    item = json.dumps(gh("kito", "COMMENTED", head, T1) | {"body": "x" * 1000})
    run = gate(plantctl, repo, tmp_path, head, "[" + ",".join([item] * 50_000) + "]")
    assert run.code == 2
    assert "larger than 16 MiB" in run.out  # --format json: the problems as JSON


@pytest.fixture(scope="module")
def opa_url():
    """One OPA server with the repository's policies for the many runs of the property test."""
    with OpaServer(ROOT / "policies") as endpoint:
        before = os.environ.get("OPA_URL")
        os.environ["OPA_URL"] = url = f"http://{endpoint.host}:{endpoint.port}"
        try:
            yield url
        finally:
            if before is None:
                os.environ.pop("OPA_URL", None)
            else:
                os.environ["OPA_URL"] = before


@pytest.fixture(scope="module")
def property_head(repo) -> str:
    (head,) = commits(repo, "property", [gateway(4), append("src/README", "p\n")])
    return head


hexes = st.text("0123456789abcdefABCDEF", min_size=0, max_size=41)
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
logins = st.sampled_from(["kito", "KITO", "dokafor", "praman", "tberg", "inovak", "abello", "x-y"])
states = st.sampled_from(
    [
        *("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"),
        *("REQUEST_CHANGES", "COMMENT", "REQUEST_REVIEW", "approved", "??"),
    ]
) | st.text(max_size=8)
times = st.sampled_from([T1, T2, T3, None, "", "2026-11-21T10:00:00+05:00"]) | st.text(max_size=6)
login_user = st.fixed_dictionaries({"login": logins})
review_like = st.fixed_dictionaries(
    {"state": states},
    optional={
        "id": st.integers() | st.text(max_size=4) | st.none(),
        "user": st.one_of(login_user, login_user, login_user, st.none(), anything),
        "submitted_at": st.one_of(st.sampled_from([T1, T2, T3, T1, T2, None]), times),
        "commit_id": st.one_of(st.sampled_from(["HEAD", "HEAD", "BASE"]), hexes, anything),
        "dismissed": st.booleans(),
    },
)
answers = st.one_of(
    anything,
    st.lists(review_like, max_size=8),
    st.fixed_dictionaries({"approved_by": st.lists(anything, max_size=3), "sha": hexes}),
)
# Reviews of the right types with anything in them: states known or not, deleted accounts,
# logins in any case, equal times, duplicate ids, commits of the head, the base or unknown.
well_formed = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(0, 5) | st.none(),
            "user": st.none() | login_user,
            "state": states,
            "submitted_at": st.sampled_from([T1, T2, T3, None, "2026-11-21T10:00:00+01:00"]),
            "commit_id": st.sampled_from(["HEAD", "BASE", None, "ab" * 20, "abcd"]),
        }
    ),
    max_size=12,
)

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _gate_on(answer, fmt, repo, plantctl, tmp_path, head):
    base = git(repo, "rev-parse", "main")
    text = json.dumps(answer).replace('"HEAD"', f'"{head}"').replace('"BASE"', f'"{base}"')
    try:
        run = gate(plantctl, repo, tmp_path, head, text, extra=("--reviews-format", fmt))
    except Exception as exc:  # the property: nothing escapes the command line
        pytest.fail(f"plantctl raised {exc!r} on {text[:300]}")
    assert run.code in (0, 1, 2), run.out + run.err
    event(f"exit {run.code}")
    if run.code == 2:
        problems = json.loads(run.out)["problems"]
        assert problems and all(p["rule"] == "GATE-REVIEWS" for p in problems), problems
    else:
        assert json.loads(run.out)["decision"] in ("pass", "fail")
    assert "Traceback" not in run.err
    return run


@PROPERTY
@given(answer=answers, fmt=st.sampled_from(["auto", "github", "gitlab", "gitea"]))
def test_any_json_gives_a_decision_or_a_message_never_a_traceback(
    answer, fmt, repo, plantctl, tmp_path, opa_url, property_head
):
    _gate_on(answer, fmt, repo, plantctl, tmp_path, property_head)


@settings(PROPERTY, max_examples=30)  # each one a whole gate run
@given(answer=well_formed, fmt=st.sampled_from(["github", "gitea"]))
def test_well_formed_reviews_always_give_a_decision(
    answer, fmt, repo, plantctl, tmp_path, opa_url, property_head
):
    assert _gate_on(answer, fmt, repo, plantctl, tmp_path, property_head).code in (0, 1)
