"""The governance review (principle 7 of docs/architecture.md) for a period: what changed in the
plant since a revision or a date, and what needs attention now, from the git history and the
inventory.

Each commit of the period that touches inventory/ is loaded with the one loader (GitSource, its
own schemas) and compared with the one before (changes.diff), so every change is attributed to
the commit and author that brought it, and to the approvals the gate counted for it: read from
the gate's decision records (plantctl.reports.decision_record; git notes under
refs/notes/plantctl-gate, fetch them with `git fetch origin
refs/notes/plantctl-gate:refs/notes/plantctl-gate`), not from commit messages. A commit's record
is the latest one whose base..head range holds the commit (or whose head has the commit's tree:
a squash merge). Every record of the period is recomputed at its own revisions; one that does
not match is reported. Charts (devices per site over time, grant durations) are drawn to PNG
with matplotlib (Agg)."""

from __future__ import annotations

from pathlib import Path

from plantctl.core import atomic
from plantctl.reports.governance.charts import charts
from plantctl.reports.governance.render import _period, render_html, render_markdown
from plantctl.reports.governance.review import Review, build

__all__ = ["Review", "_period", "build", "render_html", "render_markdown", "write"]


def write(review: Review, output: Path, repo: Path | None = None) -> list[Path]:
    """review.md, review.html and their charts in output; with the repository, a
    zone-and-conduit diagram per site of the head's inventory too (zones-<site>.svg)."""
    output.mkdir(parents=True, exist_ok=True)
    images = charts(review, output)
    if repo is not None:
        from plantctl.reports import diagrams
        from plantctl.reports.governance.history import _load_at

        svgs, _ = diagrams.write_svgs(_load_at(repo, review.head), output)
        images.update({p.stem: p for p in svgs})
    written = list(images.values())
    for name, text in (
        ("review.md", render_markdown(review, images)),
        ("review.html", render_html(review, images)),
    ):
        written.append(atomic.write_text(output / name, text))
    return written
