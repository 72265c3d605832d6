"""The review's charts (devices per site over time, grant durations; with a plant snapshot, goal
progress), PNG with matplotlib (Agg)."""

from __future__ import annotations

from pathlib import Path

from plantctl.reports.governance import plant
from plantctl.reports.governance.review import Review


def charts(review: Review, folder: Path) -> dict[str, Path]:
    """devices-per-site.png and grant-durations.png in folder (matplotlib, Agg, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    sites = sorted({s for _, counts in review.series for s in counts})
    for site in sites:
        xs = [when for when, _ in review.series]
        ys = [counts.get(site, 0) for _, counts in review.series]
        ax.step(xs, ys, where="post", marker="o", label=site)  # type: ignore[arg-type]  # dates
    ax.set_title("Devices per site (machines, gateways, collectors)")
    ax.set_ylabel("devices")
    ax.set_ylim(bottom=0)
    # The default locator (MaxNLocator) takes `integer`; the stubs know only the base class.
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    if sites:
        ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    out["devices"] = folder / "devices-per-site.png"
    fig.savefig(out["devices"])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(review.grant_durations))), dpi=100)
    names = [k for k, _ in review.grant_durations]
    hours = [h for _, h in review.grant_durations]
    ax.barh(names, hours, color="#4c78a8")
    ax.set_xlabel("hours of access")
    ax.set_title("Remote-access grant durations")
    fig.tight_layout()
    out["grants"] = folder / "grant-durations.png"
    fig.savefig(out["grants"])
    plt.close(fig)
    if review.plant is not None:
        out.update(plant.chart(review.plant, folder))
    return out
