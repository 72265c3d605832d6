"""Progress per goal measured from recorded samples: downtime minutes per machine from its
machine-status samples, and the increase of its counters (production count, energy use) for the
period the samples cover.

Downtime: each machine-status sample holds until the next one; the time between them counts as
down when the sample's value means stopped or alarm (the signal's declared `states`). A pause of
more than STALE_INTERVALS intervals counts as unknown, not as down or up: the data is missing.
A stop is a run of down samples; it starts at its first down sample and ends at the first sample
that is up again (or the last sample of the period, then `ongoing`).

Counters: the sum of the increases between consecutive samples; a step backwards (a reset, a
replaced controller) adds nothing and is a data-accuracy finding of its own (plant_accuracy).

Per shift: given the shifts' start times (HH:MM in the site's time zone), the period is cut
at every shift start and each piece measured alone; the sample in force at a shift start opens
the piece at that moment (a stop that spans a change of shift is split between the two).

A goal's baseline and target refer to periods (a quarter) much longer than a snapshot; they are
prorated to the measured period's length (value times measured seconds over the baseline
period's seconds) so the status compares like with like, and the review says so.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from plantctl.reports.plant_accuracy import STALE_INTERVALS, number

DOWN_STATES = frozenset({"stopped", "alarm"})
MINUTES = {"s": 1 / 60, "min": 1.0, "h": 60.0}


def state_of(signal: dict[str, Any], value: Any) -> str | None:
    """The declared state of a machine-status value (None: undeclared)."""
    states = signal.get("states") or {}
    if isinstance(value, bool):
        key = "true" if value else "false"
    elif isinstance(value, int | float) and float(value).is_integer():
        key = str(int(value))
    else:
        key = str(value)
    return states.get(key)


def machine_status(signal: dict[str, Any], samples: list[list[Any]]) -> dict[str, Any]:
    """Down, up and unknown seconds of one machine-status signal, and its stops."""
    limit = STALE_INTERVALS * float(signal["interval_s"])
    down = up = unknown = 0.0
    stops: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    undeclared: set[str] = set()
    for (t, v), (t2, _) in itertools.pairwise(samples):
        span = float(t2) - float(t)
        state = state_of(signal, v)
        if state is None:
            undeclared.add(str(v))
        is_down = state in DOWN_STATES
        if span > limit or state is None:
            unknown += span
        elif is_down:
            down += span
        else:
            up += span
        if is_down and current is None:
            current = {"from": float(t), "state": state}
        elif not is_down and current is not None:
            current["to"] = float(t)
            stops.append(current)
            current = None
    if current is not None and samples:
        current["to"] = float(samples[-1][0])
        current["ongoing"] = True
        stops.append(current)
    for stop in stops:
        stop["minutes"] = round((stop["to"] - stop["from"]) / 60, 2)
    return {
        "down_s": round(down, 3),
        "up_s": round(up, 3),
        "unknown_s": round(unknown, 3),
        "stops": stops,
        "undeclared_values": sorted(undeclared),
    }


def increase(samples: list[list[Any]]) -> float:
    """What a counter counted over the samples (steps backwards add nothing)."""
    total = 0.0
    for (_, a), (_, b) in itertools.pairwise(samples):
        x, y = number(a), number(b)
        if x is not None and y is not None and y > x:
            total += y - x
    return total


def period_s(period: dict[str, str]) -> float | None:
    """Seconds of a goal's period (dates, both days included)."""
    try:
        start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
    except (KeyError, ValueError):
        return None
    return ((end - start).days + 1) * 86400.0


def measure(
    goal: dict[str, Any],
    machines: list[str],
    signals: dict[str, dict[str, Any]],
    samples: dict[str, list[list[Any]]],
    window: tuple[float, float],
) -> dict[str, Any] | None:
    """The measured figure of one goal for the window, per machine (None: no sample of any
    signal that provides its metric). `signals` are the goal's providers by topic."""
    meaning, unit = goal["meaning"], goal["unit"]
    per_machine: dict[str, float] = {}
    stops: dict[str, list[dict[str, Any]]] = {}
    used: list[float] = []
    for topic, sig in sorted(signals.items()):
        got = samples.get(topic) or []
        if len(got) < 2:
            continue
        if meaning == "downtime" and sig["meaning"] == "machine-status":
            if unit not in MINUTES:
                continue
            status = machine_status(sig, got)
            value = status["down_s"] / 60 / MINUTES[unit]
            stops[sig["machine"]] = status["stops"]
        elif meaning == sig["meaning"] and meaning != "downtime":
            if sig.get("unit") not in (None, unit):
                continue  # a counter in another unit: not added to this goal's figure
            value = increase(got)
        else:
            continue
        per_machine[sig["machine"]] = per_machine.get(sig["machine"], 0.0) + value
        used += [float(got[0][0]), float(got[-1][0])]
    if not per_machine:
        return None
    start, end = max(min(used), window[0]), min(max(used), window[1])
    return {
        "value": round(sum(per_machine.values()), 3),
        "per_machine": {m: round(v, 3) for m, v in sorted(per_machine.items())},
        "machines_without_data": sorted(set(machines) - set(per_machine)),
        "stops": stops,
        "measured_s": round(end - start, 3),
        "from_samples": True,
        "start_ts": start,
        "end_ts": end,
    }


def prorated(figure: dict[str, Any], measured_s: float) -> float | None:
    """A baseline or target value prorated to `measured_s` seconds (None: no period)."""
    seconds = period_s(figure.get("period") or {})
    if not seconds:
        return None
    return round(float(figure["value"]) * measured_s / seconds, 3)


SHIFT_START = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def shift_starts(starts: list[str], zone: str, lo: float, hi: float) -> list[float]:
    """Every shift start (HH:MM in `zone`) from the one in force at `lo` up to `hi`."""
    tz = ZoneInfo(zone)
    clocks = sorted(time.fromisoformat(s) for s in starts)
    day = datetime.fromtimestamp(lo, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(hi, tz).date()
    out: list[float] = []
    while day <= last:
        out += [datetime.combine(day, c, tz).timestamp() for c in clocks]
        day += timedelta(days=1)
    before = [b for b in out if b <= lo]
    return ([before[-1]] if before else []) + [b for b in out if lo < b < hi]


def slice_samples(
    series: list[list[Any]], a: float, b: float, last: bool = False
) -> list[list[Any]]:
    """The samples in [a, b) ([a, b] for the `last` piece of a period), opened at `a` by the
    sample in force then (if any); a piece ends at its last sample (nothing is assumed after)."""
    inside = [s for s in series if a <= float(s[0]) < b or (last and float(s[0]) == b)]
    before = [s for s in series if float(s[0]) < a]
    return ([[a, before[-1][1]]] if before else []) + inside


def per_shift(
    goal: dict[str, Any],
    machines: list[str],
    signals: dict[str, dict[str, Any]],
    samples: dict[str, list[list[Any]]],
    window: tuple[float, float],
    starts: list[float],
    zone: str,
) -> list[dict[str, Any]]:
    """The goal measured per shift: [{"shift": local start, "value", "per_machine"}]."""
    tz = ZoneInfo(zone)
    out = []
    bounds = [*starts, window[1]]
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        lo = max(a, window[0])
        last = n == len(bounds) - 2
        piece = {t: slice_samples(s, lo, b, last) for t, s in samples.items()}
        found = measure(goal, machines, signals, piece, (lo, b))
        if found is None:
            continue
        label = datetime.fromtimestamp(a, tz).strftime("%Y-%m-%d %H:%M")
        out.append({"shift": label, "value": found["value"], "per_machine": found["per_machine"]})
    return out
