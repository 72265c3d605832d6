"""Pull-request reviews as the code host lists them, mapped to one model.

Supported answers (`--reviews-format auto|github|gitlab|gitea`; auto tells them apart):

- GitHub: GET /repos/{o}/{r}/pulls/{n}/reviews, a JSON array of reviews with `id`,
  `user.login` (`user` is null for a deleted account), `state` (APPROVED, CHANGES_REQUESTED,
  COMMENTED, DISMISSED, PENDING), `submitted_at` (absent while PENDING) and `commit_id`.
- Gitea / Forgejo: GET /repos/{o}/{r}/pulls/{n}/reviews, the same array with `state` APPROVED,
  REQUEST_CHANGES, COMMENT, PENDING or REQUEST_REVIEW, and `dismissed`, `stale`, `official`.
  A dismissed review is DISMISSED whatever its state; `stale` and `official` are not read
  (the gate binds each approval to the content at its `commit_id` itself).
- GitLab: GET /projects/:id/merge_requests/:iid/approvals, one object whose `approved_by` is
  `[{"user": {"username": ...}}, ...]`: who approves now (an approval withdrawn is gone from
  it). That answer names no commit: add the merge request's head `sha` (GET
  /projects/:id/merge_requests/:iid, read together with the approvals) as a top-level `sha`,
  e.g. `jq --arg sha "$SHA" '. + {sha: $sha}'`; that is only right when the project removes
  approvals when commits are added. Without `sha` the approvals are bound to no commit and
  count for nothing.

Every review becomes {id, login (lower case: code-host logins are case-insensitive), state,
host_state, submitted_at (UTC), commit_id, seq}. `state` is one of STATES; a state this module
does not know becomes UNKNOWN, which the policies never read as an approval. `seq` numbers the
reviews in the order they were given: by `submitted_at`, equal times by review id, then by their
place in the list, so the latest position of each person is never ambiguous. Which reviews
count is decided by policies/approvals/.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plantctl.core.problems import InvalidInput, Problem

RULE = "GATE-REVIEWS"
FORMATS = ("auto", "github", "gitlab", "gitea")
STATES = (
    "APPROVED",
    "CHANGES_REQUESTED",
    "COMMENTED",
    "DISMISSED",
    "PENDING",
    "REVIEW_REQUESTED",
    "UNKNOWN",
)
# A list-reviews answer is 100 reviews a page; these bounds leave room for any real pull
# request and keep a hostile or broken file from holding the gate (read, parse, facts).
MAX_BYTES = 16 * 1024 * 1024
MAX_REVIEWS = 10_000

_GITHUB_STATES = {s: s for s in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED")}
_GITHUB_STATES["PENDING"] = "PENDING"
_GITEA_STATES = {
    "APPROVED": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
    "PENDING": "PENDING",
    "REQUEST_REVIEW": "REVIEW_REQUESTED",
}
_GITHUB_ONLY = {"CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}
_GITEA_ONLY = {"REQUEST_CHANGES", "COMMENT", "REQUEST_REVIEW"}
_GITHUB_KEYS = {"node_id", "author_association", "_links"}
_GITEA_KEYS = {"official", "stale", "dismissed", "comments_count"}
# Logins on GitHub (letters, digits, dashes), Gitea and GitLab (also dots and underscores).
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # fullmatch: no trailing newline
COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")
_FAR_PAST = datetime.min.replace(tzinfo=UTC)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Review:
    id: str
    login: str  # lower case
    state: str  # one of STATES
    host_state: str  # as the code host wrote it
    submitted_at: str  # RFC 3339 UTC, or "" when the host gave none
    commit_id: str  # lower-case hex as given, or ""
    seq: int = 0

    def as_fact(self) -> dict:
        return {
            "id": self.id,
            "login": self.login,
            "state": self.state,
            "host_state": self.host_state,
            "submitted_at": self.submitted_at,
            "commit_id": self.commit_id,
            "seq": self.seq,
        }


@dataclass
class Reviews:
    """The reviews of one answer, in order, and what was left out (and why)."""

    format: str
    reviews: list[Review] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def facts(self) -> list[dict]:
        return [r.as_fact() for r in self.reviews]

    def commits(self) -> list[str]:
        return sorted({r.commit_id for r in self.reviews if r.commit_id})


def _invalid(shown: str, message: str, line: int = 1, col: int = 1) -> InvalidInput:
    return InvalidInput([Problem(shown, line, col, message, RULE)])


def _quote(value: object, limit: int = 60) -> str:
    """A value from the input, quoted safely (ASCII, bounded) for a message."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read(path: Path, shown: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _invalid(shown, f"cannot read the reviews file: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise _invalid(
            shown,
            f"the reviews file is larger than {MAX_BYTES // (1024 * 1024)} MiB; pass the code "
            "host's list-reviews answer for this pull request as it is (all pages joined)",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(
            shown, f"not UTF-8 text (byte {exc.start}); pass the JSON as it is"
        ) from None


def parse_text(text: str, shown: str, fmt: str = "auto") -> Reviews:
    """The reviews in `text` (one answer of a code host, JSON); InvalidInput when not one."""
    if fmt not in FORMATS:
        raise _invalid(shown, f"unknown reviews format {_quote(fmt)}; use one of {FORMATS}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(
            shown,
            f"not JSON: {exc.msg}; pass the reviews API's JSON as it is",
            exc.lineno,
            exc.colno,
        ) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, an integer too long
        raise _invalid(shown, f"not JSON this tool reads: {type(exc).__name__}") from None
    return parse(data, shown, fmt)


def load(path: Path, fmt: str = "auto") -> Reviews:
    shown = str(path)
    return parse_text(_read(path, shown), shown, fmt)


def detect(data: object) -> str | None:
    """github, gitea or gitlab from the answer's shape; None when it could be either array."""
    if isinstance(data, dict):
        return "gitlab" if "approved_by" in data else None
    if not isinstance(data, list):
        return None
    github = gitea = False
    for item in data:
        if not isinstance(item, dict):
            continue
        keys = item.keys()
        state = item.get("state")
        state = state.upper() if isinstance(state, str) else ""
        github = github or bool(keys & _GITHUB_KEYS) or state in _GITHUB_ONLY
        gitea = gitea or bool(keys & _GITEA_KEYS) or state in _GITEA_ONLY
    if github and gitea:
        return "mixed"
    return "gitea" if gitea else "github"


def parse(data: object, shown: str, fmt: str = "auto") -> Reviews:
    found = detect(data)
    if fmt == "auto":
        if found == "mixed":
            raise _invalid(
                shown,
                "the reviews mix GitHub and Gitea states or fields; pass one code host's "
                "answer, or name it with --reviews-format github|gitea",
            )
        if found is None:
            raise _invalid(
                shown,
                "expected a JSON array of reviews (GitHub, Gitea: GET .../pulls/{n}/reviews) or "
                "GitLab's approvals object (GET .../merge_requests/:iid/approvals, with "
                "approved_by)",
            )
        fmt = found
    if fmt == "gitlab":
        if not isinstance(data, dict) or not isinstance(data.get("approved_by"), list):
            raise _invalid(
                shown,
                "expected GitLab's approvals object with an approved_by array "
                "(GET /projects/:id/merge_requests/:iid/approvals)",
            )
        result = _gitlab(data, shown)
    else:
        if not isinstance(data, list):
            raise _invalid(shown, f"expected a JSON array of reviews ({fmt}'s list-reviews answer)")
        table = _GITEA_STATES if fmt == "gitea" else _GITHUB_STATES
        result = _reviews(data, shown, fmt, table)
    return result


def _count(items: list, shown: str) -> None:
    if len(items) > MAX_REVIEWS:
        raise _invalid(
            shown,
            f"{len(items)} reviews; the gate reads at most {MAX_REVIEWS} for one pull request",
        )


def _login(user: object, key: str, shown: str, where: str) -> str | None:
    """The lower-cased login of a user object; None for a deleted account (user null)."""
    if user is None:
        return None
    if not isinstance(user, dict):
        raise _invalid(shown, f"{where}: user is {_quote(user)}, not an object with {key}")
    login = user.get(key)
    if not isinstance(login, str) or not LOGIN.fullmatch(login):
        raise _invalid(
            shown,
            f"{where}: user.{key} is {_quote(login)}, not a code-host login; "
            "pass the answer as it is",
        )
    return login.lower()


def _time(value: object, shown: str, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(shown, f"{where}: submitted_at is {_quote(value)}, not a time")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _invalid(
            shown, f"{where}: submitted_at {_quote(value)} is not an RFC 3339 time"
        ) from None


def _commit(value: object, shown: str, where: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not COMMIT.fullmatch(value):
        raise _invalid(shown, f"{where}: commit_id {_quote(value)} is not a commit id")
    return value.lower()


def _id(value: object, index: int) -> tuple[tuple, str]:
    """The review id as a sort key and as text (numbers in numeric order)."""
    if isinstance(value, bool) or value is None:
        return (2, index), str(index)
    if isinstance(value, int):
        return (0, value), str(value)
    if isinstance(value, str) and value.isdigit() and len(value) < 40:
        return (0, int(value)), value
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("ascii", "backslashreplace").decode()[:80]
    return (1, text), text


def _reviews(data: list, shown: str, fmt: str, table: dict) -> Reviews:
    _count(data, shown)
    out = Reviews(fmt)
    keyed = []
    for index, item in enumerate(data):
        where = f"review #{index}"
        if not isinstance(item, dict):
            raise _invalid(shown, f"{where} is {_quote(item)}, not a review object")
        host_state = item.get("state")
        if not isinstance(host_state, str):
            raise _invalid(shown, f"{where} has no state; pass the reviews API's JSON as it is")
        host_state = host_state.encode("ascii", "backslashreplace").decode()[:40]
        if "user" not in item:
            raise _invalid(shown, f"{where} has no user; pass the reviews API's JSON as it is")
        login = _login(item["user"], "login", shown, where)
        state = table.get(host_state.upper(), "UNKNOWN")
        if fmt == "gitea" and item.get("dismissed") is True:
            state = "DISMISSED"
        moment = _time(item.get("submitted_at"), shown, where)
        commit = _commit(item.get("commit_id"), shown, where)
        order, review_id = _id(item.get("id"), index)
        if login is None:
            out.notes.append(
                f"{where} ({host_state}) is by a deleted account (user null); it counts for nobody"
            )
            continue
        if moment is None:
            # No time to order it by: an approval then stands behind every timed position, any
            # other position before every timed approval (never the order that would approve).
            moment = _FAR_PAST if state == "APPROVED" else _FAR_FUTURE
            shown_time = ""
        else:
            shown_time = _rfc3339(moment)
        keyed.append(
            (
                (moment, order, index),
                Review(review_id, login, state, host_state, shown_time, commit),
            )
        )
    keyed.sort(key=lambda pair: pair[0])
    out.reviews = [_numbered(r, seq) for seq, (_key, r) in enumerate(keyed, start=1)]
    return out


def _numbered(review: Review, seq: int) -> Review:
    return dataclasses.replace(review, seq=seq)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _gitlab(data: dict, shown: str) -> Reviews:
    approvals = data["approved_by"]
    _count(approvals, shown)
    out = Reviews("gitlab")
    commit = _commit(data.get("sha"), shown, "the approvals' sha")
    if not commit:
        out.notes.append(
            "GitLab's approvals name no commit and the answer has no sha; they count for "
            "nothing (add the merge request's sha, see plantctl.gate.reviews)"
        )
    seen = set()
    for index, item in enumerate(approvals):
        where = f"approved_by #{index}"
        if not isinstance(item, dict) or "user" not in item:
            raise _invalid(shown, f"{where} is {_quote(item)}, not an object with user")
        login = _login(item.get("user"), "username", shown, where)
        if login is None:
            out.notes.append(f"{where} is by a deleted account (user null); it counts for nobody")
            continue
        if login in seen:
            continue
        seen.add(login)
        moment = _time(item.get("approved_at"), shown, where)
        user_id = item["user"].get("id")
        _order, review_id = _id(user_id, index)
        out.reviews.append(
            Review(
                review_id,
                login,
                "APPROVED",
                "approved",
                _rfc3339(moment) if moment else "",
                commit,
                len(out.reviews) + 1,
            )
        )
    return out
