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
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from plantctl.collector import config
from plantctl.model.inventory import Inventory, Record
from plantctl.plant import broker_access

SCHEMA = "plantctl-plant-snapshot/1"
# A signal is stale when its last good read is older than this many of its declared intervals
# (the glossary's offline device: three intervals without an answer).
STALE_INTERVALS = 3
# A source is slow when it delivered less than this share of the samples its declared intervals
# make over the collector's uptime (judged once it has run SLOW_AFTER_S).
SLOW_SHARE = 0.5
SLOW_AFTER_S = 60.0


class SnapshotError(ValueError):
    """The input (a file, the broker) cannot give a snapshot; the message says why."""


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
    import paho.mqtt.client as mqtt

    got: dict[str, dict] = {}
    connected = threading.Event()
    errors: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            errors.append(f"broker refused the connection: {reason_code}")
        else:
            client.subscribe(config.health_subscription(site), qos=1)
        connected.set()

    def on_message(client, userdata, message) -> None:
        try:
            payload = json.loads(message.payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if isinstance(payload, dict):
            got[message.topic] = payload

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
    )
    client.tls_set(
        ca_certs=str(ca),
        certfile=str(cert),
        keyfile=str(key),
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise SnapshotError(f"broker {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(10):
            raise SnapshotError(f"broker {host}:{port}: no answer within 10 s")
        if errors:
            raise SnapshotError(f"broker {host}:{port}: {errors[0]}")
        time.sleep(wait_s)  # retained messages arrive right after the subscription
    finally:
        client.disconnect()
        client.loop_stop()
    return got


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
) -> dict[str, Any]:
    """The snapshot document of one site (see the module)."""
    if inv.get("site", site) is None:
        raise SnapshotError(f"no site {site!r} in the inventory")
    now = now or datetime.now(UTC)
    at = now.timestamp()
    measured = measured or {}
    gateways: dict[str, dict[str, Any]] = {}
    reads: dict[str, float | None] = {}
    for gw in sorted(inv.site_objects("gateway", site), key=lambda r: r.key):
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
    signals = {}
    for topic, sig in _signals(inv, site).items():
        last = reads.get(topic)
        age = None if last is None else round(at - float(last), 3)
        stale = age is None or age > STALE_INTERVALS * float(sig["interval_s"])
        signals[topic] = {**sig, "last_read": last, "age_s": age, "stale": stale}
    goals = {}
    for goal in sorted(inv.of("goal").values(), key=lambda r: r.key):
        if goal.data["site"] != site:
            continue
        metric = goal.data["metric"]
        meanings = {metric["meaning"], *metric.get("from", [])}
        machines = _goal_machines(inv, goal)
        providers = sorted(
            t for t, s in signals.items() if s["meaning"] in meanings and s["machine"] in machines
        )
        got = measured.get(goal.key) or {}
        goals[goal.key] = {
            "statement": goal.data["statement"],
            "meaning": metric["meaning"],
            "unit": metric["unit"],
            "direction": metric.get("direction", "decrease"),
            "baseline": _figure(goal.data["baseline"]),
            "target": _figure(goal.data["target"]),
            "measured": _figure(got) if "value" in got else None,
            "providers": providers,
            "stale_providers": [t for t in providers if signals[t]["stale"]],
        }
    states = [g["state"] for g in gateways.values()]
    return {
        "schema": SCHEMA,
        "site": site,
        "taken": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gateways": gateways,
        "signals": signals,
        "goals": goals,
        "summary": {
            "gateways_online": states.count("online"),
            "gateways_offline": states.count("offline"),
            "gateways_silent": states.count("silent"),
            "sources_failing": sum(len(g.get("sources_failing", [])) for g in gateways.values()),
            "sources_slow": sum(len(g.get("sources_slow", [])) for g in gateways.values()),
            "backlog": sum(int(g.get("backlog") or 0) for g in gateways.values()),
            "signals_stale": sum(1 for s in signals.values() if s["stale"]),
            "goals_without_data": sorted(k for k, g in goals.items() if g["measured"] is None),
        },
    }


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
    """Every gateway online, no source failing or slow, no stale signal."""
    s = snap["summary"]
    return (
        s["gateways_offline"] == s["gateways_silent"] == s["sources_failing"] == 0
        and s["sources_slow"] == 0
        and s["signals_stale"] == 0
    )
