"""The review's sections from the running plant (`plantctl review --plant SNAPSHOT`, a snapshot
of plantctl.reports.plant_health): device health, data accuracy and progress per goal, with a
chart of each goal's baseline, target and measured value. A snapshot that listened to the
broker adds the events of its period (machine stops, broker outages, frozen sensors, values out
of range, counters backwards, gaps), the measured figure per machine and a timeline chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Section = tuple[str, list[str], list[list[str]]]
SAMPLES_TITLE = "samples against declared intervals and ranges"


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
        for o in g.get("outages", []):
            problem.append(f"lost the broker {_span(o)} ({o['reason']})")
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
    listened = _listened(snap)
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
        *(_accuracy_section(snap) if listened else []),
        *(_events_section(snap) if listened else []),
        (
            f"Goal progress of {site}",
            ["goal", "metric", "baseline", "target", "measured", "status", "signals"],
            progress,
        ),
        *(_per_machine_section(snap) if listened else []),
        *_per_shift_section(snap),
    ]


def _per_shift_section(snap: dict[str, Any]) -> list[Section]:
    """Each goal per shift, when the snapshot was taken with the shifts' start times."""
    rows = []
    for gid, g in sorted(snap["goals"].items()):
        for s in (g["measured"] or {}).get("per_shift", []):
            machines = ", ".join(f"{m} {v:g}" for m, v in s["per_machine"].items())
            rows.append([gid, s["shift"], f"{s['value']:g} {g['unit']}", machines])
    if not rows:
        return []
    return [
        (
            f"Goal progress of {snap['site']} per shift",
            ["goal", "shift", "measured", "per machine"],
            rows,
        )
    ]


def _listened(snap: dict[str, Any]) -> bool:
    """The snapshot recorded samples (its signals carry an accuracy judgement)."""
    return any("accuracy" in s for s in snap["signals"].values())


def _when(ts: float | None) -> str:
    if ts is None:
        return "before the period"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _span(item: dict[str, Any]) -> str:
    to = "ongoing" if item.get("to") is None else _when(item["to"])
    minutes = f", {item['minutes']:.1f} min" if item.get("minutes") is not None else ""
    return f"{_when(item.get('from'))} to {to}{minutes}"


def _event_when(e: dict[str, Any]) -> str:
    """A span for what lasted (a stop, an outage, a frozen stretch), the first time for a
    finding counted over the period (out of range, backwards, gaps), or the whole period."""
    if "to" in e:
        return _span(e)
    return f"first {_when(e['from'])}" if e.get("from") is not None else "the whole period"


def _event_detail(e: dict[str, Any]) -> str:
    kind = e["kind"]
    if kind == "broker-outage":
        return f"offline ({e['reason']}) until its next online health"
    if kind == "machine-stop":
        return f"{e['state']}" + (" (still stopped at the end)" if e.get("ongoing") else "")
    if kind == "frozen":
        return "a process value unchanged: the sensor answers but does not move"
    if kind == "out-of-range":
        low, high = e["declared"]
        return (
            f"{e['count']} value(s) outside the declared {low:g}..{high:g} "
            f"(seen {e['lowest']:g}..{e['highest']:g})"
        )
    if kind == "backwards":
        return f"a counter went down {e['count']} time(s)"
    if kind == "gaps":
        return f"{e['count']} gap(s) longer than three declared intervals"
    if kind == "slow":
        return f"samples every {e.get('median_spacing_s')} s, slower than declared"
    return kind


def _events_section(snap: dict[str, Any]) -> list[Section]:
    rows = [
        [e["kind"], e["subject"], _event_when(e), _event_detail(e)] for e in snap.get("events", [])
    ]
    clock = snap.get("clock")
    note = f" (lab clock x{clock['scale']:g})" if clock else ""
    return [
        (f"Events of {snap['site']} in the period{note}", ["event", "what", "when", "detail"], rows)
    ]


def _accuracy_section(snap: dict[str, Any]) -> list[Section]:
    rows = []
    for topic, s in sorted(snap["signals"].items()):
        acc = s.get("accuracy") or {}
        found = [e for e in snap.get("events", []) if e["subject"] == topic]
        for e in found:
            rows.append([topic, e["kind"], _event_when(e), _event_detail(e)])
        if not acc.get("samples"):
            rows.append([topic, "no samples", "", f"declared every {s['interval_s']:g} s"])
    return [
        (
            f"Data accuracy of {snap['site']}: {SAMPLES_TITLE}",
            ["signal topic", "finding", "when", "detail"],
            rows,
        )
    ]


def _per_machine_section(snap: dict[str, Any]) -> list[Section]:
    rows = []
    for gid, g in sorted(snap["goals"].items()):
        m = g["measured"] or {}
        if not m.get("from_samples"):
            rows.append([gid, "(all)", "no data" if not m else "given, not measured", ""])
            continue
        for machine, value in m["per_machine"].items():
            stops = (m.get("stops") or {}).get(machine, [])
            rows.append(
                [
                    gid,
                    machine,
                    f"{value:g} {g['unit']}",
                    "; ".join(f"stop {_span(s)}" for s in stops),
                ]
            )
        for machine in m["machines_without_data"]:
            rows.append([gid, machine, "no data", "no signal of this machine was heard"])
    return [
        (
            f"Goal progress of {snap['site']} per machine",
            ["goal", "machine", "measured", "stops"],
            rows,
        )
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
    prorated = goal.get("prorated") or {}
    if prorated.get("baseline") is not None and prorated.get("target") is not None:
        # a snapshot's hour against a quarter's figures: both prorated to the measured period
        base, target = prorated["baseline"], prorated["target"]
        minutes = measured["measured_s"] / 60
        return (
            f"{_verdict(goal, base, target, now)} (baseline {base:g}, target {target:g} "
            f"prorated to the {minutes:.0f} min measured)"
        )
    return _verdict(goal, base, target, now)


def _verdict(goal: dict[str, Any], base: float, target: float, now: float) -> str:
    met = now <= target if goal["direction"] == "decrease" else now >= target
    if met:
        return "target met"
    if base == target:
        return "target not met"
    share = (base - now) / (base - target)
    if share < 0:
        return "worse than the baseline"
    return f"{share * 100:.0f} % of the way to target"


def chart_data(snap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The data behind the goal chart: per goal its unit, baseline, target and measured value
    (None: no data)."""
    out: dict[str, dict[str, Any]] = {}
    for gid, g in sorted(snap["goals"].items()):
        out[gid] = {
            "unit": g["unit"],
            "baseline": g["baseline"]["value"],
            "target": g["target"]["value"],
            "measured": None if g["measured"] is None else g["measured"]["value"],
        }
        if g["measured"] and g["measured"].get("from_samples"):
            # measured over the snapshot's period: the bars compare prorated figures
            out[gid]["baseline"] = g["prorated"]["baseline"]
            out[gid]["target"] = g["prorated"]["target"]
            out[gid]["per_machine"] = dict(g["measured"]["per_machine"])
    return out


def timeline_data(snap: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """The data behind the timeline: per row (a machine's stops, a gateway's broker outages, a
    signal's frozen stretch) its (start, end) spans; open ends close at the last sample."""
    end = max(
        (float(e["to"]) for e in snap.get("events", []) if e.get("to") is not None), default=0.0
    )
    rows: dict[str, list[tuple[float, float]]] = {}
    labels = {"machine-stop": "stopped", "broker-outage": "broker lost", "frozen": "frozen"}
    for e in snap.get("events", []):
        if e["kind"] not in labels or e.get("from") is None:
            continue
        name = e["subject"].rsplit("/", 1)[-1] if e["kind"] == "frozen" else e["subject"]
        key = f"{name}: {labels[e['kind']]}"
        to = float(e["to"]) if e.get("to") is not None else end
        rows.setdefault(key, []).append((float(e["from"]), to))
    return rows


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
        per_machine = d.get("per_machine")
        values = [d["baseline"], d["target"], 0 if per_machine else d["measured"] or 0]
        bars = ax.bar(names, values, color=["#9aa5b1", "#4c78a8", "#f58518"])
        if per_machine:  # the measured bar stacked by machine
            bottom = 0.0
            for n, (machine, value) in enumerate(per_machine.items()):
                ax.bar(["measured"], [value], bottom=bottom, label=machine, color=f"C{n + 1}")
                bottom += value
            ax.legend(fontsize=6, loc="upper right")
        elif d["measured"] is None:
            bars[2].set_alpha(0)
            ax.text(2, 0, "no data", ha="center", va="bottom", fontsize=9)
        ax.set_title(gid + (" (prorated)" if per_machine is not None else ""), fontsize=9)
        ax.set_ylabel(d["unit"])
    fig.suptitle(f"Goal progress of {snap['site']}")
    fig.tight_layout()
    path = folder / "goal-progress.png"
    fig.savefig(path)
    plt.close(fig)
    out = {"goals": path}
    rows = timeline_data(snap)
    if rows:
        out["timeline"] = _timeline(snap, rows, folder, plt)
    return out


def _timeline(snap: dict[str, Any], rows: dict[str, list[tuple[float, float]]], folder, plt):
    """plant-events.png: the period's stops, broker outages and frozen sensors as bars over
    minutes since the first event."""
    origin = min(a for spans in rows.values() for a, _ in spans)
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.45 * len(rows)), dpi=100)
    for i, (name, spans) in enumerate(sorted(rows.items())):
        ax.broken_barh(
            [((a - origin) / 60, max((b - a) / 60, 0.2)) for a, b in spans],
            (i - 0.35, 0.7),
            color="#e45756" if "stopped" in name else "#4c78a8",
        )
    ax.set_yticks(range(len(rows)), sorted(rows))
    ax.set_xlabel("minutes from the first event")
    clock = snap.get("clock")
    note = f" (lab clock x{clock['scale']:g})" if clock else ""
    ax.set_title(f"Events of {snap['site']}{note}")
    fig.tight_layout()
    path = folder / "plant-events.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def digest(snap: dict[str, Any]) -> str:
    """A short Markdown digest of one snapshot for the regular IT/OT meeting: the summary line
    and the sections, attention first; of a snapshot that listened, the events of the period
    (every accuracy finding is one) and the progress per machine, without the per-signal
    accuracy table the review has."""
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
    if "broker_outages" in s and _listened(snap):
        out[-2] = out[-2][:-1] + (
            f"; {len(snap['events'])} event(s) in the period, {s['broker_outages']} broker "
            f"outage(s), {s['signals_inaccurate']} signal(s) with accuracy findings."
        )
    for title, header, rows in sections(snap):
        if title.endswith(SAMPLES_TITLE):
            continue
        out += [f"## {title}", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + " --- |" * len(header))
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)
