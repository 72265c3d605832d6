"""The collector's own health (issue 18): retained on `<site>/_health/<gateway>` at a real
Mosquitto with TLS client certificates, the offline will on an abrupt end and an offline message
on a clean stop; the broker ACL lets the gateway write its health and a health viewer read it;
what the health says (sources, last good read per signal, failing sources, backlog)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from plantctl.collector import config
from plantctl.collector.service import FAILING_AFTER_INTERVALS, Collector
from plantctl.configs import mosquitto
from plantctl.model.loader import load
from plantctl.plant import broker_access, collector_config
from plantctl.reports import plant_health

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "ridgeway/_health/gw-rw-02"


def _retained(broker, authority, topic: str, name: str) -> dict:
    """The retained message on `topic`, read by a fresh mosquitto_sub (retained flag only)."""
    cred = authority.issue(name)
    run = subprocess.run(
        [
            "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
            "--cafile", str(authority.cert), "--cert", str(cred.cert), "--key", str(cred.key),
            "-t", topic, "--retained-only", "-C", "1", "-W", "10", "-i", name,
        ],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _health(msgs, state: str) -> list[dict]:
    return [p for t, p in msgs if t == TOPIC and isinstance(p, dict) and p.get("state") == state]


@pytest.mark.slow
def test_health_is_retained_and_the_will_says_offline(
    loopback_config, subscriber, plcs, collector, broker, authority
):
    doc = loopback_config("gw-rw-02", interval=0.5)
    doc["health"] = True
    plcs(doc)
    proc = collector(doc)
    topics = {src.topic(sig) for src in config.parse(doc).sources for sig in src.signals}

    def read_everything(msgs) -> bool:
        return any(
            all(s["last_read"] for s in p["sources"].values())
            and {t for s in p["sources"].values() for t, ts in s["signals"].items() if ts} == topics
            for p in _health(msgs, "online")
        )

    msgs = subscriber.wait_for(read_everything, timeout=40, what="a health with every signal read")
    first = _health(msgs, "online")[0]
    assert first["gateway"] == "gw-rw-02" and first["site"] == "ridgeway"
    assert set(first["sources"]) == {"col-rw-press-01", "col-rw-press-02"}
    assert {"backlog", "published", "ts", "started"} <= set(first)

    # retained: a client that connects now is told the latest health at once
    retained = _retained(broker, authority, TOPIC, "late-reader")
    assert retained["state"] == "online" and retained["gateway"] == "gw-rw-02"
    assert not any(s["failing"] for s in retained["sources"].values())

    # plantctl plant snapshot --broker: the retained health, read with a certificate
    cred = authority.issue("role.maintenance-technician")
    messages = plant_health.from_broker(
        "127.0.0.1", broker.port, "ridgeway", ca=authority.cert, cert=cred.cert, key=cred.key,
        wait_s=1.5,
    )  # fmt: skip
    assert set(messages) == {TOPIC}
    snap = plant_health.snapshot(load(ROOT / "inventory"), "ridgeway", messages)
    assert snap["gateways"]["gw-rw-02"]["state"] == "online"
    assert snap["gateways"]["gw-rw-01"]["state"] == "silent"  # not running in this test
    assert -5 < snap["gateways"]["gw-rw-02"]["health_age_s"] < 30

    # abrupt end (no DISCONNECT): the broker publishes the will, retained
    assert proc.proc is not None
    proc.proc.kill()
    proc.proc.wait(timeout=10)
    proc.proc = None
    msgs = subscriber.wait_for(lambda m: _health(m, "offline"), timeout=20, what="the will")
    assert _health(msgs, "offline")[-1] == {
        "gateway": "gw-rw-02",
        "state": "offline",
        "reason": "will",
        "ts": _health(msgs, "offline")[-1]["ts"],
    }
    assert _retained(broker, authority, TOPIC, "after-the-will")["reason"] == "will"

    # started again: online (retained) again; a clean stop says offline itself (no will is sent)
    proc = collector(doc)
    subscriber.wait_for(
        lambda m: len(_health(m, "online")) > len(_health(msgs, "online")),
        timeout=20,
        what="online again",
    )
    assert _retained(broker, authority, TOPIC, "after-restart")["state"] == "online"
    assert proc.stop() == 0, proc.log()
    assert _retained(broker, authority, TOPIC, "after-stop")["reason"] == "stopped"


def test_without_health_nothing_is_published_there_and_the_will_is_unset():
    doc = collector_config.render(load(ROOT / "inventory"), "gw-rw-02")
    assert "health" not in doc  # the sample has no health data class
    assert config.parse(doc).health is False


def _with_health_class(tmp_path: Path) -> Path:
    inv = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inv)
    classes = inv / "data_classes.yaml"
    classes.write_text(
        classes.read_text() + "  - id: gateway-health\n"
        "    name: Gateway health\n"
        "    owner: maint-ridgeway\n"
        "    viewers: [maintenance-technician, network-admin]\n"
        "    editors: []\n"
        "    exporters: []\n"
        "    retention: {days: 90, min_days: 30, max_days: 365}\n"
        "    official_reports: false\n"
        "    correction_owner: maint-ridgeway\n"
        "    dashboard_change_approver: maint-ridgeway\n"
    )
    return inv


def test_the_acl_lets_the_gateway_write_its_health_and_health_viewers_read_it(tmp_path):
    plain = broker_access.build(load(ROOT / "inventory"), "ridgeway")
    assert not any("_health" in t for a in plain.accounts for t in (*a.read, *a.write))

    inv = load(_with_health_class(tmp_path))
    access = broker_access.build(inv, "ridgeway")
    for acc in access.accounts:
        if acc.kind == "gateway":
            assert acc.write[-1] == f"ridgeway/_health/{acc.subject}"
            assert [t for t in acc.write if "_health" in t] == [acc.write[-1]]
    tech = access.account("role.maintenance-technician")
    assert "ridgeway/_health/+" in tech.read
    assert "ridgeway/+/+/gateway-health/+" not in tech.read
    assert not any("_health" in t for t in access.account("role.operator").read)
    acl = mosquitto.render_acl(access)
    assert "topic write ridgeway/_health/gw-rw-02" in acl
    assert "topic read ridgeway/_health/+" in acl
    assert collector_config.render(inv, "gw-rw-02")["health"] is True


class _Runner:
    def __init__(self, source, samples: int, errors: int):
        self.source, self.samples, self.read_errors = source, samples, errors


def test_the_health_names_failing_sources_and_the_last_good_read_of_each_signal(tmp_path):
    doc = collector_config.render(
        load(ROOT / "inventory"), "gw-rw-02", state_dir=str(tmp_path / "state")
    )
    doc["health"] = True
    cfg = config.parse(doc)
    svc = Collector(cfg)
    svc.started = 1000.0
    press1, press2 = cfg.sources
    svc.runners = [_Runner(press1, 5, 0), _Runner(press2, 0, 7)]  # type: ignore[list-item]
    status = press1.topic(press1.signals[0])
    svc._sink_of(press1.id)  # the sinks record the last read by topic
    svc.last_read[press1.id][status] = 1100.0
    now = 1100.0 + 1
    health = svc.health(now)
    one, two = health["sources"][press1.id], health["sources"][press2.id]
    assert one["last_read"] == 1100.0 and one["signals"][status] == 1100.0
    assert one["failing"] is False
    assert set(one["signals"]) == {press1.topic(s) for s in press1.signals}
    longest = max(s.interval_s for s in press2.signals)
    assert two["last_read"] is None and two["read_errors"] == 7
    assert two["failing"] is (now - 1000.0 > FAILING_AFTER_INTERVALS * longest)
    assert svc.health(1000.0 + FAILING_AFTER_INTERVALS * longest + 1)["sources"][press2.id][
        "failing"
    ]
    assert health["gateway"] == "gw-rw-02" and health["backlog"] == 0
    assert config.health_topic(cfg.site, cfg.gateway) == cfg.health_topic == TOPIC
