"""A scripted run of one simulated machine on a compressed clock (a shift in a minute or two):
what each signal's raw value is at a moment, instead of the value model's (model.py).

    {"origin": 1790000000.0, "scale": 60,
     "signals": {
       "status": {"value": 1, "events": [{"from_s": 600, "to_s": 1320, "value": 3}]},
       "shot-count": {"counter": {"start": 5000, "per_s": 0.1},
                      "hold": [{"from_s": 600, "to_s": 1320}]},
       "barrel-temp": {"wave": {"mean": 2200, "amplitude": 50, "period_s": 600},
                       "freeze": {"from_s": 1500}}}}

Plant seconds count from `origin` (a wall-clock time every lab component shares) at `scale`
plant seconds per real second; before the origin the plant is at second 0. A value holds
(`value`, overridden by `events`), counts (`counter`, paused during `hold`: a stopped machine
makes nothing) or moves (`wave`, a sine; `freeze` holds the value it had at from_s, up to to_s:
a stuck sensor still answers). Values are raw register values (before a Modbus scale).
A signal the scenario does not name keeps the value model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    origin: float
    scale: float
    signals: dict[str, dict[str, Any]]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Scenario:
        return cls(float(doc["origin"]), float(doc["scale"]), dict(doc.get("signals", {})))

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "scale": self.scale, "signals": self.signals}

    def plant_s(self, now: float | None = None) -> float:
        """Plant seconds since the origin at wall-clock `now`."""
        return max(0.0, ((time.time() if now is None else now) - self.origin) * self.scale)

    def scripts(self, name: str) -> bool:
        return name in self.signals

    def raw(self, name: str, now: float | None = None) -> int:
        """The raw value of a scripted signal at wall-clock `now`."""
        return value_at(self.signals[name], self.plant_s(now))


def _inside(spans: list[dict[str, Any]], t: float) -> bool:
    return any(s["from_s"] <= t < s.get("to_s", math.inf) for s in spans)


def value_at(script: dict[str, Any], t: float) -> int:
    """A script's raw value at plant second t."""
    if "counter" in script:
        c = script["counter"]
        running = t
        for span in script.get("hold", []):
            a, b = span["from_s"], span.get("to_s", math.inf)
            running -= max(0.0, min(t, b) - a) if t > a else 0.0
        return int(c["start"] + c["per_s"] * running)
    if "wave" in script:
        w = script["wave"]
        freeze = script.get("freeze")
        if freeze and freeze["from_s"] <= t < freeze.get("to_s", math.inf):
            t = freeze["from_s"]
        return round(w["mean"] + w["amplitude"] * math.sin(2 * math.pi * t / w["period_s"]))
    for event in script.get("events", []):
        if event["from_s"] <= t < event.get("to_s", math.inf):
            return int(event["value"])
    return int(script.get("value", 0))
