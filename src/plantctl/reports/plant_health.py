"""A health snapshot of a running site: what its gateways say on their health topics
(`<site>/_health/<gateway>`, retained; collector/service.py), judged against the inventory.

    plantctl plant snapshot --site ridgeway --from-file health.json
    plantctl plant snapshot --site ridgeway --broker HOST:PORT --ca ... --cert ... --key ...

The snapshot (JSON) says per gateway whether it is online, offline (its will, or a clean stop) or
silent (no health message at all), which sources are failing or slow (fewer samples than their
declared intervals make over the uptime), the spool backlog and the age of
its last health by its own clock (`health_age_s`: the snapshot's time minus the health's `ts`;
negative when the gateway's clock runs ahead, more than the health period when it went quiet);
per signal of the inventory its last good read and whether it is stale (nothing for more than
STALE_INTERVALS of its declared interval, or never read); per goal of the site its baseline,
target and measured value (when the input carries one) and the signals that provide its metric.

The input file is what the broker holds: a JSON object {topic: health payload}, optionally
{"messages": {topic: payload}, "measured": {goal id: {"value": v, "period": {...}}}}, or the
lines `mosquitto_sub -v -t '<site>/_health/+'` prints (`<topic> <json>`).

A snapshot that listened (Listener: `plantctl plant snapshot --broker ... --record SECONDS`, or
a file with "samples": {topic: [[ts, value], ...]} and "health_log": [{"ts", "topic", "state",
"reason"}]) also judges data accuracy per signal (plant_accuracy: gaps, slower than declared,
out of range, counters backwards, frozen process values), lists the events of the period
(machine stops, broker outages seen as the will and the next online health, frozen sensors,
...) and measures each goal from the samples (plant_progress: downtime minutes per machine,
counter increases; per shift too given the shifts' start times, `--shifts 06:00,14:00,22:00`
in the site's time zone), with its baseline and target prorated to the measured period. Only
gateways that run a collector are expected to publish health.

A lab that runs the plant on a compressed clock (LabClock: plant seconds = real seconds times
`scale` from `origin`) maps every time the recorder sees (receipt times, the samples' and the
health's own times) to plant time; the snapshot says so in `clock`.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from plantctl.collector import config
from plantctl.model.inventory import Inventory, Record
from plantctl.plant import broker_access
from plantctl.reports import plant_accuracy, plant_progress

SCHEMA = "plantctl-plant-snapshot/1"
# A signal is stale when its last good read is older than this many of its declared intervals
# (the glossary's offline device: three intervals without an answer).
STALE_INTERVALS = 3
# A source is slow when it delivered less than this share of the samples its declared intervals
# make over the collector's uptime (judged once it has run SLOW_AFTER_S).
SLOW_SHARE = 0.5
SLOW_AFTER_S = 60.0


# A file of samples is bounded: a snapshot is a meeting's evidence, not a historian.
MAX_SAMPLES = 2_000_000


class SnapshotError(ValueError):
    """The input (a file, the broker) cannot give a snapshot; the message says why."""


@dataclass(frozen=True)
class LabClock:
    """A compressed clock of a lab run: plant time = origin + (real time - origin) * scale."""

    origin: float
    scale: float

    def plant(self, real: float) -> float:
        return self.origin + (real - self.origin) * self.scale

    def as_dict(self) -> dict[str, float]:
        return {"origin": self.origin, "scale": self.scale}


@dataclass
class Observed:
    """What a snapshot is made from: the latest health per topic, measured goal values given by
    hand, and (when it listened) the samples per topic and every health message in order."""

    messages: dict[str, dict] = field(default_factory=dict)
    measured: dict[str, dict] = field(default_factory=dict)
    samples: dict[str, list[list[Any]]] = field(default_factory=dict)
    health_log: list[dict[str, Any]] = field(default_factory=list)
    clock: LabClock | None = None


def read_observed(path: Path) -> Observed:
    """An Observed from a snapshot input file (see the module)."""
    messages, measured = read_file(path)
    obs = Observed(messages, measured)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return obs  # mosquitto_sub lines: health only
    if not isinstance(doc, dict) or "messages" not in doc:
        return obs
    samples, log = doc.get("samples", {}), doc.get("health_log", [])
    if not isinstance(samples, dict) or not isinstance(log, list):
        raise SnapshotError(f"{path}: samples must be an object and health_log a list")
    total = 0
    for topic, series in samples.items():
        if not isinstance(series, list) or not all(
            isinstance(s, list) and len(s) == 2 and isinstance(s[0], int | float) for s in series
        ):
            raise SnapshotError(f"{path}: samples of {topic!r} must be [[ts, value], ...]")
        total += len(series)
        if total > MAX_SAMPLES:
            raise SnapshotError(f"{path}: more than {MAX_SAMPLES} samples; take a shorter period")
        obs.samples[str(topic)] = sorted(series, key=lambda s: s[0])
    for n, entry in enumerate(log):
        if not (isinstance(entry, dict) and isinstance(entry.get("ts"), int | float)):
            raise SnapshotError(f"{path}: health_log[{n}] needs a numeric ts")
        obs.health_log.append(entry)
    clock = doc.get("clock")
    if isinstance(clock, dict):
        obs.clock = LabClock(float(clock["origin"]), float(clock["scale"]))
    return obs


def read_file(path: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """(health messages by topic, measured goal values) from a snapshot input file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SnapshotError(f"{path}: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        messages = doc.get("messages", doc)
        measured = doc.get("measured", {}) if "messages" in doc else {}
        if not isinstance(messages, dict) or not isinstance(measured, dict):
            raise SnapshotError(f"{path}: messages and measured must be JSON objects")
        return {str(k): v for k, v in messages.items() if isinstance(v, dict)}, measured
    lines: dict[str, dict] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        topic, _, body = line.partition(" ")
        try:
            payload = json.loads(body)
        except json.JSONDecodeError as exc:
            raise SnapshotError(f"{path}:{n}: not `<topic> <json>`: {exc.msg}") from exc
        if isinstance(payload, dict):
            lines[topic] = payload  # the last message of a topic is its state
    return lines, {}


def from_broker(
    host: str,
    port: int,
    site: str,
    *,
    ca: Path,
    cert: Path,
    key: Path,
    wait_s: float = 3.0,
    client_id: str = "plantctl-snapshot",
) -> dict[str, dict]:
    """The retained health of every gateway of a site, read with a role's certificate."""
    with Listener(host, port, site, ca=ca, cert=cert, key=key, client_id=client_id) as listener:
        time.sleep(wait_s)  # retained messages arrive right after the subscription
    return listener.observed().messages


class Listener:
    """Listens to a site's broker with a role's certificate: its gateways' health topics and,
    given `topics` (signal topics), their samples (JSON payloads {"ts", "value", ...}), each
    time through `clock` when the lab runs one. A context manager; then `observed()`. The
    broker's ACL decides what the role gets: a topic it may not read stays without samples."""

    def __init__(
        self,
        host: str,
        port: int,
        site: str,
        *,
        ca: Path,
        cert: Path,
        key: Path,
        topics: list[str] | None = None,
        clock: LabClock | None = None,
        client_id: str = "plantctl-snapshot",
    ):
        self.host, self.port, self.site = host, port, site
        self.ca, self.cert, self.key = ca, cert, key
        self.topics = set(topics or [])
        self.clock = clock
        self.client_id = client_id
        self._obs = Observed(clock=clock)
        self._lock = threading.Lock()
        self._client: Any = None
        self._heard = 0

    def _now(self) -> float:
        now = time.time()
        return self.clock.plant(now) if self.clock else now

    def _plant(self, value: Any) -> Any:
        if self.clock is None or isinstance(value, bool) or not isinstance(value, int | float):
            return value
        return round(self.clock.plant(float(value)), 3)

    def _health(self, topic: str, payload: dict, retained: bool) -> None:
        payload = dict(payload)
        for k in ("ts", "started"):
            if k in payload:
                payload[k] = self._plant(payload[k])
        for src in (payload.get("sources") or {}).values():
            if isinstance(src, dict):
                src["last_read"] = self._plant(src.get("last_read"))
                sigs = src.get("signals") or {}
                src["signals"] = {t: self._plant(v) for t, v in sigs.items()}
        entry = {"ts": round(self._now(), 3), "topic": topic, "state": payload.get("state")}
        entry.update({"reason": payload.get("reason"), "retained": retained})
        with self._lock:
            self._obs.messages[topic] = payload
            self._obs.health_log.append(entry)

    def start(self) -> Listener:
        import paho.mqtt.client as mqtt

        connected = threading.Event()
        errors: list[str] = []
        health_prefix = config.health_topic(self.site, "")
        prefixes = sorted({t.rsplit("/", 2)[0] for t in self.topics})

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                errors.append(f"broker refused the connection: {reason_code}")
            else:
                subs = [config.health_subscription(self.site), *(f"{p}/#" for p in prefixes)]
                client.subscribe([(s, 1) for s in subs])
            connected.set()

        def on_message(client, userdata, message) -> None:
            try:
                payload = json.loads(message.payload)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return
            if not isinstance(payload, dict):
                return
            if message.topic.startswith(health_prefix):
                self._health(message.topic, payload, bool(message.retain))
            elif message.topic in self.topics and isinstance(payload.get("ts"), int | float):
                sample = [self._plant(float(payload["ts"])), payload.get("value")]
                with self._lock:
                    self._heard += 1
                    if self._heard <= MAX_SAMPLES:  # bounded: observed() says when it was full
                        self._obs.samples.setdefault(message.topic, []).append(sample)

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311
        )
        client.tls_set(
            ca_certs=str(self.ca),
            certfile=str(self.cert),
            keyfile=str(self.key),
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        client.on_connect = on_connect
        client.on_message = on_message
        where = f"broker {self.host}:{self.port}"
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise SnapshotError(f"{where}: {exc}") from exc
        client.loop_start()
        self._client = client
        if not connected.wait(10):
            self.stop()
            raise SnapshotError(f"{where}: no answer within 10 s")
        if errors:
            self.stop()
            raise SnapshotError(f"{where}: {errors[0]}")
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def observed(self) -> Observed:
        """What was heard so far (samples in time order)."""
        if self._heard > MAX_SAMPLES:
            raise SnapshotError(
                f"{self._heard} samples heard, more than {MAX_SAMPLES}: record a shorter period"
            )
        with self._lock:
            samples = {t: sorted(s, key=lambda x: x[0]) for t, s in self._obs.samples.items()}
            return Observed(
                dict(self._obs.messages),
                {},
                samples,
                list(self._obs.health_log),
                self.clock,
            )


def signal_topics(inv: Inventory, site: str) -> list[str]:
    """The topics of every signal of a site (what a listening snapshot subscribes to)."""
    return sorted(_signals(inv, site))


def _signals(inv: Inventory, site: str) -> dict[str, dict[str, Any]]:
    """Every signal of the site's inventory by its topic."""
    out = {}
    for rec in sorted(inv.site_objects("collector", site), key=lambda r: r.key):
        prefix = broker_access.topic_prefix(inv, rec.data, site)
        for sig in rec.data["signals"]:
            out[config.topic(prefix, sig["data_class"], sig["name"])] = {
                "collector": rec.key,
                "gateway": rec.data["gateway"],
                "machine": rec.data["machine"],
                "signal": sig["name"],
                "meaning": sig.get("meaning"),
                "data_class": sig["data_class"],
                "interval_s": sig["interval_s"],
                **{k: sig[k] for k in ("range", "states", "unit") if k in sig},
            }
    return out


def _goal_machines(inv: Inventory, goal: Record) -> set[str]:
    metric = goal.data["metric"]
    lines = set(metric.get("lines", []))
    on_lines = {
        m.key for m in inv.site_objects("machine", goal.data["site"]) if m.data.get("line") in lines
    }
    return set(metric.get("machines", [])) | on_lines


def snapshot(
    inv: Inventory,
    site: str,
    messages: dict[str, dict],
    now: datetime | None = None,
    measured: dict[str, dict] | None = None,
    observed: Observed | None = None,
    window: tuple[float, float] | None = None,
    shifts: list[str] | None = None,
) -> dict[str, Any]:
    """The snapshot document of one site (see the module). With `observed` samples and health
    log, only what lies in `window` (start, end timestamps; default all) is judged; with
    `shifts` (their start times, HH:MM in the site's time zone) goals are measured per shift
    too."""
    site_rec = inv.get("site", site)
    if site_rec is None:
        raise SnapshotError(f"no site {site!r} in the inventory")
    bad = [s for s in shifts or [] if not plant_progress.SHIFT_START.match(s)]
    if bad:
        raise SnapshotError(f"shift start {bad[0]!r} is not HH:MM (00:00 to 23:59)")
    now = now or datetime.now(UTC)
    at = now.timestamp()
    measured = measured or {}
    obs = observed or Observed()
    lo, hi = window or (float("-inf"), float("inf"))
    samples = {
        t: [s for s in series if lo <= float(s[0]) <= hi] for t, series in obs.samples.items()
    }
    gateways: dict[str, dict[str, Any]] = {}
    reads: dict[str, float | None] = {}
    collecting = {c.data["gateway"] for c in inv.site_objects("collector", site)}
    for gw in sorted(inv.site_objects("gateway", site), key=lambda r: r.key):
        if gw.key not in collecting:
            continue  # runs no collector: nothing to publish health for
        health = messages.get(config.health_topic(site, gw.key))
        if health is None:
            gateways[gw.key] = {"state": "silent", "reason": "no health message"}
            continue
        sources = cast(dict[str, dict], health.get("sources") or {})
        for src in sources.values():
            reads.update(src.get("signals") or {})
        state = health.get("state", "online")
        entry: dict[str, Any] = {
            "state": state,
            "ts": health.get("ts"),
            "backlog": health.get("backlog", 0),
            "sources_failing": sorted(k for k, s in sources.items() if s.get("failing")),
            "sources_slow": _slow(inv, health, sources),
            "read_errors": {k: s.get("read_errors", 0) for k, s in sorted(sources.items())},
        }
        if state != "online":
            entry["reason"] = health.get("reason", "")
        elif isinstance(health.get("ts"), int | float):
            entry["health_age_s"] = round(at - float(health["ts"]), 3)
        gateways[gw.key] = entry
    outages = _outages(site, obs.health_log, lo, hi)
    for gw_id, gw_entry in gateways.items():
        if obs.health_log:  # only a snapshot that listened knows what happened in between
            gw_entry["outages"] = outages.get(gw_id, [])
    signals = {}
    listened = bool(obs.samples)
    for topic, sig in _signals(inv, site).items():
        got = samples.get(topic) or []
        heard = float(got[-1][0]) if got else None
        last = max((x for x in (reads.get(topic), heard) if x is not None), default=None)
        age = None if last is None else round(at - float(last), 3)
        stale = age is None or age > STALE_INTERVALS * float(sig["interval_s"])
        entry = {**sig, "last_read": last, "age_s": age, "stale": stale}
        if listened:
            entry["accuracy"] = plant_accuracy.judge(sig, got)
            if sig.get("meaning") == "machine-status" and sig.get("states"):
                entry["machine_status"] = plant_progress.machine_status(sig, got)
        signals[topic] = entry
    goals = {}
    for goal in sorted(inv.of("goal").values(), key=lambda r: r.key):
        if goal.data["site"] != site:
            continue
        goals[goal.key] = _goal(goal, _goal_machines(inv, goal), signals, samples, measured, lo, hi)
        found = goals[goal.key]["measured"]
        if shifts and found and found.get("from_samples"):
            zone = site_rec.data["timezone"]
            span = (max(lo, found["start_ts"]), min(hi, found["end_ts"]))
            providers = {t: signals[t] for t in goals[goal.key]["providers"]}
            found["per_shift"] = plant_progress.per_shift(
                goals[goal.key], goals[goal.key]["machines"], providers, samples, span,
                plant_progress.shift_starts(shifts, zone, *span), zone,
            )  # fmt: skip
    states = [g["state"] for g in gateways.values()]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "site": site,
        "taken": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gateways": gateways,
        "signals": signals,
        "goals": goals,
    }
    if obs.clock is not None:
        doc["clock"] = obs.clock.as_dict()
    doc["events"] = _events(doc)
    inaccurate = [t for t, s in signals.items() if plant_accuracy.findings(s.get("accuracy", {}))]
    doc["summary"] = {
        "gateways_online": states.count("online"),
        "gateways_offline": states.count("offline"),
        "gateways_silent": states.count("silent"),
        "sources_failing": sum(len(g.get("sources_failing", [])) for g in gateways.values()),
        "sources_slow": sum(len(g.get("sources_slow", [])) for g in gateways.values()),
        "backlog": sum(int(g.get("backlog") or 0) for g in gateways.values()),
        "signals_stale": sum(1 for s in signals.values() if s["stale"]),
        "signals_inaccurate": len(inaccurate),
        "broker_outages": sum(len(g.get("outages", [])) for g in gateways.values()),
        "goals_without_data": sorted(k for k, g in goals.items() if g["measured"] is None),
    }
    return doc


def _goal(
    goal: Record,
    machines: set[str],
    signals: dict[str, dict[str, Any]],
    samples: dict[str, list[list[Any]]],
    measured: dict[str, dict],
    lo: float,
    hi: float,
) -> dict[str, Any]:
    metric = goal.data["metric"]
    meanings = {metric["meaning"], *metric.get("from", [])}
    providers = sorted(
        t for t, s in signals.items() if s["meaning"] in meanings and s["machine"] in machines
    )
    entry: dict[str, Any] = {
        "statement": goal.data["statement"],
        "meaning": metric["meaning"],
        "unit": metric["unit"],
        "direction": metric.get("direction", "decrease"),
        "machines": sorted(machines),
        "baseline": _figure(goal.data["baseline"]),
        "target": _figure(goal.data["target"]),
        "measured": None,
        "providers": providers,
        "stale_providers": [t for t in providers if signals[t]["stale"]],
    }
    got = measured.get(goal.key) or {}
    if "value" in got:
        entry["measured"] = _figure(got)
        return entry
    found = plant_progress.measure(
        entry, sorted(machines), {t: signals[t] for t in providers}, samples, (lo, hi)
    )
    if found is None:
        return entry
    period = {"start": _iso(found["start_ts"]), "end": _iso(found["end_ts"])}
    entry["measured"] = {**found, "period": period}
    entry["prorated"] = {
        k: plant_progress.prorated(goal.data[k], found["measured_s"])
        for k in ("baseline", "target")
    }
    return entry


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _outages(
    site: str, log: list[dict[str, Any]], lo: float, hi: float
) -> dict[str, list[dict[str, Any]]]:
    """Per gateway the times it was offline as the broker told it (its will, or a stop it
    announced) until its next online health; a retained message heard on subscribing is the
    state before the period, not a change within it."""
    prefix = config.health_topic(site, "")
    out: dict[str, list[dict[str, Any]]] = {}
    down: dict[str, dict[str, Any]] = {}
    for entry in sorted(log, key=lambda e: e["ts"]):
        topic = str(entry.get("topic", ""))
        if not topic.startswith(prefix) or not lo <= float(entry["ts"]) <= hi:
            continue
        gw = topic[len(prefix) :]
        if entry.get("state") == "offline" and gw not in down:
            start = None if entry.get("retained") else float(entry["ts"])
            down[gw] = {"from": start, "reason": entry.get("reason") or "offline"}
        elif entry.get("state") == "online" and gw in down:
            outage = down.pop(gw)
            outage["to"] = float(entry["ts"])
            out.setdefault(gw, []).append(outage)
    for gw, outage in down.items():
        out.setdefault(gw, []).append({**outage, "to": None, "ongoing": True})
    for items in out.values():
        for o in items:
            if o["from"] is not None and o["to"] is not None:
                o["minutes"] = round((o["to"] - o["from"]) / 60, 2)
    return out


def _events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """What happened in the period, one line each: broker outages, machine stops, and every
    data-accuracy finding; sorted by time."""
    events: list[dict[str, Any]] = []
    for gw, g in doc["gateways"].items():
        for o in g.get("outages", []):
            events.append({"kind": "broker-outage", "subject": gw, **o})
    for s in doc["signals"].values():
        for stop in (s.get("machine_status") or {}).get("stops", []):
            events.append({"kind": "machine-stop", "subject": s["machine"], **stop})
    for topic, s in doc["signals"].items():
        acc = s.get("accuracy") or {}
        for kind in plant_accuracy.findings(acc):
            found = acc[kind]
            first = found[0] if isinstance(found, list) else found
            when = None
            if isinstance(first, dict):
                when = first.get("from", first.get("at", first.get("first")))
            event = {"kind": kind.replace("_", "-"), "subject": topic, "from": when}
            if kind == "frozen":
                event.update(to=first["to"], minutes=round(first["s"] / 60, 2))
            elif kind in ("gaps", "backwards"):
                event["count"] = len(found)
            elif kind == "out_of_range":
                event.update({k: found[k] for k in ("count", "lowest", "highest", "declared")})
            elif kind == "slow":
                event["median_spacing_s"] = acc.get("median_spacing_s")
            events.append(event)
    return sorted(events, key=lambda e: (e.get("from") is None, e.get("from") or 0, e["kind"]))


def _slow(inv: Inventory, health: dict, sources: dict[str, dict]) -> list[str]:
    """Sources that delivered less than SLOW_SHARE of what their declared intervals make over
    the collector's uptime (samples arriving slower than declared)."""
    started, ts = health.get("started"), health.get("ts")
    if not isinstance(started, int | float) or not isinstance(ts, int | float):
        return []
    uptime = float(ts) - float(started)
    if uptime < SLOW_AFTER_S:
        return []
    slow = []
    for key, src in sorted(sources.items()):
        rec = inv.get("collector", key)
        if rec is None or not isinstance(src.get("samples"), int):
            continue
        expected = sum(uptime / float(sig["interval_s"]) for sig in rec.data["signals"])
        if src["samples"] < SLOW_SHARE * expected:
            slow.append(key)
    return slow


def _figure(raw: dict) -> dict:
    period = raw.get("period") or {}
    return {
        "value": raw["value"],
        "period": {k: str(period[k]) for k in ("start", "end") if k in period},
    }


def load(path: Path) -> dict[str, Any]:
    """A snapshot written by `plantctl plant snapshot` (for `plantctl review --plant`)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{path}: not a plant snapshot: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SnapshotError(f"{path}: not a plant snapshot (schema {SCHEMA} expected)")
    return doc


def healthy(snap: dict[str, Any]) -> bool:
    """Every gateway online, no source failing or slow, no stale or inaccurate signal."""
    s = snap["summary"]
    return (
        s["gateways_offline"] == s["gateways_silent"] == s["sources_failing"] == 0
        and s["sources_slow"] == 0
        and s["signals_stale"] == 0
        and s.get("signals_inaccurate", 0) == 0
    )
