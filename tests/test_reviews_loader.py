"""plantctl.gate.reviews: GitHub, Gitea/Forgejo and GitLab answers (recorded in their documented
shapes under tests/fixtures/code_hosts/) mapped to one model; anything else is invalid input
with a message, never an exception of another kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plantctl.core.problems import InvalidInput
from plantctl.gate import reviews

FIXTURES = Path(__file__).parent / "fixtures" / "code_hosts"


def _states(result: reviews.Reviews) -> list[tuple[str, str, int]]:
    return [(r.login, r.state, r.seq) for r in result.reviews]


def test_github_answer():
    result = reviews.load(FIXTURES / "github_reviews.json")
    assert result.format == "github"
    assert _states(result) == [
        ("kito", "APPROVED", 1),
        ("dokafor", "COMMENTED", 2),
        ("dokafor", "APPROVED", 3),
        ("kito", "COMMENTED", 4),
        ("lwei", "PENDING", 5),  # no submitted_at: not a position, placed last
    ]
    assert result.reviews[0].commit_id == "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091"
    assert result.reviews[0].id == "80"
    assert result.notes == [
        "review #1 (CHANGES_REQUESTED) is by a deleted account (user null); it counts for nobody"
    ]


def test_gitea_answer_in_utc_and_equal_times_by_review_id():
    result = reviews.load(FIXTURES / "gitea_reviews.json")
    assert result.format == "gitea"
    # kito's APPROVED at 10:00+01:00 and REQUEST_CHANGES at 09:00Z are the same moment: the
    # review id (12 before 14) orders them, so the request for changes is the latest.
    assert _states(result) == [
        ("kito", "APPROVED", 1),
        ("kito", "CHANGES_REQUESTED", 2),
        ("dokafor", "APPROVED", 3),
        ("abello", "REVIEW_REQUESTED", 4),
    ]
    assert result.reviews[0].submitted_at == "2026-11-21T09:00:00Z"
    assert result.reviews[0].host_state == "APPROVED"


def test_gitea_dismissed_review_is_dismissed():
    data = json.loads((FIXTURES / "gitea_reviews.json").read_text())
    data[2]["dismissed"] = True
    result = reviews.parse(data, "r.json")
    assert ("dokafor", "DISMISSED", 3) in _states(result)


def test_gitlab_answer_with_and_without_sha():
    data = json.loads((FIXTURES / "gitlab_approvals.json").read_text())
    result = reviews.parse(data, "a.json")
    assert result.format == "gitlab"
    assert [(r.login, r.state, r.commit_id) for r in result.reviews] == [
        ("kito", "APPROVED", ""),
        ("dokafor", "APPROVED", ""),
    ]
    assert "GitLab's approvals name no commit" in result.notes[0]
    bound = reviews.parse({**data, "sha": "ABCDEF1234"}, "a.json", "gitlab")
    assert {r.commit_id for r in bound.reviews} == {"abcdef1234"}
    assert bound.notes == []


def test_format_flag_overrides_detection():
    gitea_states = [{"user": {"login": "a"}, "state": "REQUEST_CHANGES", "submitted_at": None}]
    # Read as GitHub, Gitea's REQUEST_CHANGES is a state GitHub does not have: UNKNOWN, which
    # never approves.
    assert reviews.parse(gitea_states, "r", "github").reviews[0].state == "UNKNOWN"
    assert reviews.parse(gitea_states, "r", "gitea").reviews[0].state == "CHANGES_REQUESTED"
    with pytest.raises(InvalidInput, match="GitLab's approvals object"):
        reviews.parse(gitea_states, "r", "gitlab")
    with pytest.raises(InvalidInput, match="expected a JSON array"):
        reviews.parse({"approved_by": []}, "r", "github")


def test_mixed_shapes_are_refused_unless_named():
    mixed = [
        {"user": {"login": "a"}, "state": "COMMENTED", "submitted_at": "2026-01-01T00:00:00Z"},
        {"user": {"login": "b"}, "state": "COMMENT", "submitted_at": "2026-01-01T00:00:00Z"},
    ]
    with pytest.raises(InvalidInput, match="mix GitHub and Gitea"):
        reviews.parse(mixed, "r")
    assert [r.state for r in reviews.parse(mixed, "r", "gitea").reviews] == [
        "UNKNOWN",
        "COMMENTED",
    ]


def test_unknown_states_are_unknown_never_approved():
    data = [
        {"user": {"login": "a"}, "state": "APPROVED", "submitted_at": "2026-01-01T00:00:00Z"},
        {"user": {"login": "a"}, "state": "LGTM", "submitted_at": "2026-01-02T00:00:00Z"},
    ]
    result = reviews.parse(data, "r")
    assert [(r.state, r.host_state) for r in result.reviews] == [
        ("APPROVED", "APPROVED"),
        ("UNKNOWN", "LGTM"),
    ]


def test_a_position_without_time_never_orders_itself_to_approve():
    data = [
        {"user": {"login": "a"}, "state": "CHANGES_REQUESTED", "submitted_at": None, "id": 1},
        {"user": {"login": "a"}, "state": "APPROVED", "submitted_at": None, "id": 2},
        {"user": {"login": "a"}, "state": "APPROVED", "submitted_at": "2026-01-01T00:00:00Z"},
    ]
    assert [r.state for r in reviews.parse(data, "r").reviews] == [
        "APPROVED",
        "APPROVED",
        "CHANGES_REQUESTED",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reviews": []}, "expected a JSON array"),
        ("x", "expected a JSON array"),
        ([1], "review #0 is 1, not a review object"),
        ([{"user": {"login": "a"}}], "review #0 has no state"),
        ([{"state": "APPROVED"}], "review #0 has no user"),
        ([{"user": "a", "state": "APPROVED"}], "user is 'a', not an object"),
        ([{"user": {"login": "a\n"}, "state": "APPROVED"}], "not a code-host login"),
        ([{"user": {}, "state": "APPROVED"}], "user.login is None"),
        ([{"user": {"login": "a"}, "state": "APPROVED", "submitted_at": 5}], "not a time"),
        ([{"user": {"login": "a"}, "state": "APPROVED", "submitted_at": "soon"}], "RFC 3339"),
        ([{"user": {"login": "a"}, "state": "APPROVED", "commit_id": "--all"}], "not a commit"),
        ([{"user": {"login": "a"}, "state": "APPROVED", "commit_id": "ab12\n"}], "not a commit"),
        ({"approved_by": [{"x": 1}]}, "not an object with user"),
    ],
)
def test_malformed_answers_are_invalid_input(data, message):
    with pytest.raises(InvalidInput) as exc:
        reviews.parse(data, "reviews.json")
    assert message in str(exc.value)
    assert all(p.rule == "GATE-REVIEWS" for p in exc.value.problems)


def test_text_that_is_not_json(tmp_path):
    for text, message in [
        ("{not json", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        ("[" + "9" * 5000 + "]", "not JSON"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            reviews.parse_text(text, "r.json")
    binary = tmp_path / "r.json"
    binary.write_bytes(b"\xff\xfe[]")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        reviews.load(binary)
    with pytest.raises(InvalidInput, match="cannot read"):
        reviews.load(tmp_path / "absent.json")


def test_a_file_beyond_the_bound_is_refused_before_parsing(tmp_path):
    big = tmp_path / "reviews.json"
    with big.open("w") as handle:  # 50 MB of a valid answer
        handle.write("[")
        item = json.dumps({"user": {"login": "a"}, "state": "COMMENTED", "body": "x" * 1000})
        handle.write(",".join([item] * 50_000))
        handle.write("]")
    assert big.stat().st_size > 50_000_000
    with pytest.raises(InvalidInput, match="larger than 16 MiB"):
        reviews.load(big)


def test_too_many_reviews_are_refused():
    many = [{"user": {"login": "a"}, "state": "COMMENTED"}] * (reviews.MAX_REVIEWS + 1)
    with pytest.raises(InvalidInput, match="at most 10000"):
        reviews.parse(many, "r")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.sampled_from(reviews.FORMATS))
def test_any_json_is_reviews_or_invalid_input(value, fmt):
    try:
        result = reviews.parse(value, "r.json", fmt)
    except InvalidInput as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        str(exc).encode("utf-8")  # printable: no lone surrogates from the input
        return
    for r in result.reviews:
        assert r.state in reviews.STATES
        assert r.login == r.login.lower()
        json.dumps(r.as_fact(), allow_nan=False).encode("utf-8")
