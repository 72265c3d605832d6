"""Data accuracy of one signal from its recorded samples (a plant snapshot that listened to the
broker, or a file of samples), judged against what the inventory declares for it: its interval,
its `range`, whether its meaning is a counter, and whether it is a process value that should move.

- gaps: nothing for more than STALE_INTERVALS of its declared interval between two samples (a
  broker outage leaves none: the collector's spool replays the samples with their own time);
- slow: the median spacing of its samples longer than SLOW_FACTOR times its interval;
- out of range: values below the declared min or above the declared max (counted, first time);
- backwards: a counter (production count, energy use) whose value went down;
- frozen: a process value unchanged over at least FROZEN_INTERVALS of its intervals (a stuck
  sensor still answers, so it is not stale; a real process value moves).

Samples are [ts, value] pairs in the snapshot's clock; booleans and text are never out of range.
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any

# The glossary's offline device: three intervals without an answer.
STALE_INTERVALS = 3
SLOW_FACTOR = 1.5
FROZEN_INTERVALS = 20
COUNTER_MEANINGS = frozenset({"production-count", "energy-use"})
MOVING_MEANINGS = frozenset({"process-value"})


def number(value: Any) -> float | None:
    """The value as a number, or None (booleans and text are not measurements)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def judge(signal: dict[str, Any], samples: list[list[Any]]) -> dict[str, Any]:
    """What the samples of one signal say about its accuracy (see the module)."""
    interval = float(signal["interval_s"])
    times = [float(s[0]) for s in samples]
    out: dict[str, Any] = {"samples": len(samples)}
    if len(times) >= 3:
        spacing = statistics.median(b - a for a, b in itertools.pairwise(times))
        out["median_spacing_s"] = round(spacing, 3)
        out["slow"] = spacing > SLOW_FACTOR * interval
    else:
        out["slow"] = False
    out["gaps"] = [
        {"from": a, "to": b, "s": round(b - a, 3)}
        for a, b in itertools.pairwise(times)
        if b - a > STALE_INTERVALS * interval
    ]
    out["out_of_range"] = _out_of_range(signal.get("range"), samples)
    out["backwards"] = _backwards(samples) if signal.get("meaning") in COUNTER_MEANINGS else []
    out["frozen"] = _frozen(samples, interval) if signal.get("meaning") in MOVING_MEANINGS else []
    return out


def _out_of_range(declared: dict | None, samples: list[list[Any]]) -> dict[str, Any] | None:
    if not declared:
        return None
    low, high = float(declared["min"]), float(declared["max"])
    bad = [(s[0], v) for s in samples if (v := number(s[1])) is not None and not low <= v <= high]
    if not bad:
        return None
    values = [v for _, v in bad]
    # (an inverted declaration, min above max, puts every value outside: it shows as such)
    return {
        "count": len(bad),
        "first": bad[0][0],
        "lowest": min(values),
        "highest": max(values),
        "declared": [low, high],
    }


def _backwards(samples: list[list[Any]]) -> list[dict[str, Any]]:
    out = []
    for (_, a), (t, b) in itertools.pairwise(samples):
        x, y = number(a), number(b)
        if x is not None and y is not None and y < x:
            out.append({"at": t, "was": x, "now": y})
    return out


def _frozen(samples: list[list[Any]], interval: float) -> list[dict[str, Any]]:
    """Runs of one unchanged value spanning at least FROZEN_INTERVALS intervals."""
    runs = []
    start = 0
    for i in range(1, len(samples) + 1):
        if i < len(samples) and samples[i][1] == samples[start][1]:
            continue
        first, last = float(samples[start][0]), float(samples[i - 1][0])
        if i - start >= FROZEN_INTERVALS and last - first >= FROZEN_INTERVALS * interval:
            runs.append(
                {"from": first, "to": last, "s": round(last - first, 3), "value": samples[start][1]}
            )
        start = i
    return runs


def findings(acc: dict[str, Any]) -> list[str]:
    """The kinds of finding a judged signal has (empty: accurate)."""
    kinds = []
    if acc.get("slow"):
        kinds.append("slow")
    for kind in ("gaps", "out_of_range", "backwards", "frozen"):
        if acc.get(kind):
            kinds.append(kind)
    return kinds
