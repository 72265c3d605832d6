"""The review's sections from the running plant (`plantctl review --plant SNAPSHOT`, a snapshot
of plantctl.reports.plant_health): device health, data accuracy and progress per goal, with a
chart of each goal's baseline, target and measured value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Section = tuple[str, list[str], list[list[str]]]


def sections(snap: dict[str, Any]) -> list[Section]:
    """(title, header, rows) of the plant's sections, in the review's shape."""
    site = snap["site"]
    taken = snap["taken"]
    health: list[list[str]] = []
    for gw, g in sorted(snap["gateways"].items()):
        problem = []
        if g["state"] != "online":
            problem.append(f"{g['state']} ({g.get('reason') or 'no reason given'})")
        if g.get("sources_failing"):
            problem.append("failing: " + ", ".join(g["sources_failing"]))
        if g.get("sources_slow"):
            problem.append("slower than declared: " + ", ".join(g["sources_slow"]))
        if g.get("backlog"):
            problem.append(f"backlog {g['backlog']} samples")
        health.append(
            [
                gw,
                g["state"],
                ", ".join(g.get("sources_failing", [])) or "none",
                str(g.get("backlog", "")),
                "" if g.get("health_age_s") is None else f"{g['health_age_s']:.1f} s",
                "; ".join(problem) or "healthy",
            ]
        )
    stale = [
        [
            topic,
            s["collector"],
            f"{s['interval_s']:g} s",
            "never" if s["last_read"] is None else f"{s['age_s']:.0f} s ago",
        ]
        for topic, s in sorted(snap["signals"].items())
        if s["stale"]
    ]
    progress = []
    for gid, g in sorted(snap["goals"].items()):
        measured = g["measured"]
        progress.append(
            [
                gid,
                g["meaning"],
                _value(g["baseline"], g["unit"]),
                _value(g["target"], g["unit"]),
                _value(measured, g["unit"]) if measured else "no data",
                _status(g),
                str(len(g["providers"]))
                + (f" ({len(g['stale_providers'])} stale)" if g["stale_providers"] else ""),
            ]
        )
    return [
        (
            f"Device health of {site} (snapshot {taken})",
            ["gateway", "state", "sources failing", "backlog", "health age", "attention"],
            health,
        ),
        (
            f"Data accuracy of {site}: stale signals",
            ["signal topic", "collector", "declared interval", "last good read"],
            stale,
        ),
        (
            f"Goal progress of {site}",
            ["goal", "metric", "baseline", "target", "measured", "status", "signals"],
            progress,
        ),
    ]


def _value(figure: dict[str, Any], unit: str) -> str:
    period = figure.get("period") or {}
    span = f" ({period['start']}..{period['end']})" if "start" in period else ""
    return f"{figure['value']:g} {unit}{span}"


def _status(goal: dict[str, Any]) -> str:
    measured = goal["measured"]
    if measured is None:
        return "no data: nothing measured for the period"
    base, target, now = goal["baseline"]["value"], goal["target"]["value"], measured["value"]
    met = now <= target if goal["direction"] == "decrease" else now >= target
    if met:
        return "target met"
    if base == target:
        return "target not met"
    share = (base - now) / (base - target)
    return f"{max(share, 0) * 100:.0f} % of the way to target"


def chart_data(snap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The data behind the goal chart: per goal its unit, baseline, target and measured value
    (None: no data)."""
    return {
        gid: {
            "unit": g["unit"],
            "baseline": g["baseline"]["value"],
            "target": g["target"]["value"],
            "measured": None if g["measured"] is None else g["measured"]["value"],
        }
        for gid, g in sorted(snap["goals"].items())
    }


def chart(snap: dict[str, Any], folder: Path) -> dict[str, Path]:
    """goal-progress.png: one panel per goal, its baseline, target and measured bars (a goal
    without data says so in its panel). Nothing when the site has no goals."""
    data = chart_data(snap)
    if not data:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(data), figsize=(3.2 * len(data), 3.2), dpi=100, squeeze=False)
    for ax, (gid, d) in zip(axes[0], data.items(), strict=True):
        names = ["baseline", "target", "measured"]
        values = [d["baseline"], d["target"], d["measured"] or 0]
        bars = ax.bar(names, values, color=["#9aa5b1", "#4c78a8", "#f58518"])
        if d["measured"] is None:
            bars[2].set_alpha(0)
            ax.text(2, 0, "no data", ha="center", va="bottom", fontsize=9)
        ax.set_title(gid, fontsize=9)
        ax.set_ylabel(d["unit"])
    fig.suptitle(f"Goal progress of {snap['site']}")
    fig.tight_layout()
    path = folder / "goal-progress.png"
    fig.savefig(path)
    plt.close(fig)
    return {"goals": path}


def digest(snap: dict[str, Any]) -> str:
    """A short Markdown digest of one snapshot for the regular IT/OT meeting: the summary line
    and the three sections, attention first."""
    s = snap["summary"]
    out = [
        f"# Plant digest: {snap['site']} at {snap['taken']}",
        "",
        f"{s['gateways_online']} gateway(s) online, {s['gateways_offline']} offline, "
        f"{s['gateways_silent']} silent; {s['sources_failing']} source(s) failing, "
        f"{s['sources_slow']} slow; {s['signals_stale']} stale signal(s); backlog {s['backlog']}; "
        f"goals without data: {', '.join(s['goals_without_data']) or 'none'}.",
        "",
    ]
    for title, header, rows in sections(snap):
        out += [f"## {title}", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + " --- |" * len(header))
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)
