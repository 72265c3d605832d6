"""Pull-request reviews as the code host lists them (GitHub: GET /repos/{o}/{r}/pulls/{n}/reviews).

Only the shape is checked here; which reviews count is decided by policies/approvals/.
"""

from __future__ import annotations

import json
from pathlib import Path

from plantctl.problems import InvalidInput, Problem

RULE = "GATE-REVIEWS"


def load(path: Path) -> list[dict]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            [Problem(shown, 1, 1, f"cannot read the reviews file: {exc}", RULE)]
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [
                Problem(
                    shown,
                    exc.lineno,
                    exc.colno,
                    f"not JSON: {exc.msg}; pass the reviews API's JSON as it is",
                    RULE,
                )
            ]
        ) from None
    if not isinstance(data, list):
        raise InvalidInput(
            [
                Problem(
                    shown,
                    1,
                    1,
                    "expected a JSON array of reviews (the code host's list-reviews answer)",
                    RULE,
                )
            ]
        )
    reviews = []
    for i, item in enumerate(data):
        login = item.get("user", {}).get("login") if isinstance(item, dict) else None
        state = item.get("state") if isinstance(item, dict) else None
        if not isinstance(login, str) or not isinstance(state, str):
            raise InvalidInput(
                [
                    Problem(
                        shown,
                        1,
                        1,
                        f"review #{i} has no user.login or state; "
                        "pass the reviews API's JSON as it is",
                        RULE,
                    )
                ]
            )
        reviews.append(
            {
                "login": login,
                "state": state.upper(),
                "submitted_at": str(item.get("submitted_at") or ""),
                "commit_id": str(item.get("commit_id") or ""),
            }
        )
    return reviews
