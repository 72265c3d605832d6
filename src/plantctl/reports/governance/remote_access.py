"""The review's "Remote access used" section (issue 14, item 5): per grant, the sessions it
opened at the bastion and their total time, its forwards and bytes, its recorded shell
sessions, and the attempts refused outside its window, from an access log
(`plantctl access log --format json`, given to `plantctl review --access-log FILE`).

Without a log the section says so: the review never reports remote access it did not read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plantctl.reports import access_log

Section = tuple[str, list[str], list[list[str]]]
HEADER = [
    "grant", "person", "sessions", "total time", "forwards", "bytes", "recorded sessions",
    "refused", "outside-window attempts refused",
]  # fmt: skip
KEYS = ("site", "since", "sessions", "forwards", "refused", "recordings")


class AccessLogError(ValueError):
    pass


def load(path: Path) -> dict[str, Any]:
    """An access log written by `plantctl access log --format json`, or AccessLogError."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AccessLogError(f"{path}: not an access log ({exc})") from None
    if not isinstance(doc, dict) or any(k not in doc for k in KEYS):
        raise AccessLogError(
            f"{path}: not an access log (needs {', '.join(KEYS)}); write one with "
            "`plantctl access log --site S --since DATE --format json --output FILE`"
        )
    for key in KEYS[2:]:
        if not isinstance(doc[key], list) or not all(isinstance(x, dict) for x in doc[key]):
            raise AccessLogError(f"{path}: {key} is not a list of objects")
    return doc


def _took(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _row(u: dict) -> list[str]:
    counts = [u["forwards"], u["bytes"], u["recorded"], u["refused"], u["refused_outside_window"]]
    return [u["grant"], u["person"] or "?", str(u["sessions"]), _took(u["seconds"])] + [
        str(n) for n in counts
    ]


def sections(log: dict[str, Any] | None) -> list[Section]:
    title = "Remote access used"
    if log is None:
        return [(title, ["note"], [[
            "no access log given: plantctl access log --site S --since DATE --format json "
            "--output F, then plantctl review --access-log F"
        ]])]  # fmt: skip
    rows = [_row(u) for u in access_log.usage(log)]
    read = "; ".join(f"{m}: {w}" for m, w in sorted((log.get("sources") or {}).items()))
    heading = f"{title} (site {log['site']} since {log['since']})"
    out: list[Section] = [(heading, HEADER, rows or [["none", "", "0", "", "", "", "", "", ""]])]
    refused = [r for r in log["refused"] if r.get("outside_window")]
    out.append((
        "Remote access: attempts refused outside the window",
        ["when", "grant", "person", "from", "why"],
        [[str(r.get("at")), str(r.get("grant") or r.get("account")), str(r.get("person") or "?"),
          str(r.get("source")), str(r.get("reason"))] for r in refused],
    ))  # fmt: skip
    if read:
        out.append(("Remote access: what the log read", ["sources"], [[read]]))
    return out
