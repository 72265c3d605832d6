"""The bridges derived from the sample plant (plant/bridges.py), their Mosquitto text
(configs/mosquitto_bridge.py), and the enterprise broker's rendered ACL enforced by a real
Mosquitto on loopback: a site's bridge account writes only its own site's forwarded classes."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest

from plantctl.configs import mosquitto, mosquitto_bridge
from plantctl.lab.bridged_sites import group_inventory
from plantctl.lab.mosquitto import LocalBroker
from plantctl.lab.pki import Authority
from plantctl.model import tokens
from plantctl.model.loader import load
from plantctl.plant import bridges
from plantctl.plant.broker_access import Account, Listener

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inv():
    return load(ROOT / "inventory")


def _yaml(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_the_sample_bridges_both_sites_to_the_enterprise_broker(inv):
    plan = bridges.build(inv)
    assert plan is not None
    svc = inv.get("site", "ridgeway").data["services"]["enterprise_broker"]
    assert (plan.enterprise.site, plan.enterprise.address, plan.enterprise.port) == (
        "ridgeway",
        svc["address"],
        svc["port"],
    )
    for bridge in plan.sites:
        wanted = inv.get("site", bridge.site).data["bridge"]
        assert bridge.classes == tuple(wanted["classes"])  # the sample asks only for leaving ones
        assert all(inv.get("data_class", c).data["leaves_site"] is True for c in bridge.classes)
        assert bridge.kept == ()
        assert bridge.topics == tuple(f"{bridge.site}/+/+/{c}/#" for c in bridge.classes)
        # the queue holds at least the declared outage's samples
        assert bridge.max_queued_messages >= bridge.rate_per_s * wanted["outage_minutes"] * 60
        assert bridge.max_queued_messages >= bridges.QUEUE_FLOOR
    assert {b.site for b in plan.sites} == {"ridgeway", "lakeside"}
    assert plan.site("ridgeway").rate_per_s > 0  # ridgeway's collectors publish bridged classes


def test_a_class_that_may_not_leave_is_kept_whatever_the_site_asks(tmp_path):
    inv = load(
        group_inventory(ROOT / "inventory", tmp_path / "inv", ask_for=("downtime-reasons",)),
        cache=False,
    )
    plan = bridges.build(inv)
    assert plan is not None
    for bridge in plan.sites:
        assert bridge.kept == ("downtime-reasons",)
        text = mosquitto_bridge.render_bridge(bridge)
        assert "downtime-reasons" not in "".join(
            ln for ln in text.splitlines() if not ln.startswith("#")
        )
        assert "# Not forwarded (may not leave the site): downtime-reasons" in text
    acl = mosquitto_bridge.render_enterprise_acl(bridges.enterprise_access(inv, plan))
    assert "downtime-reasons" not in acl


def test_no_enterprise_broker_no_bridges_and_no_site_broker_no_bridge(tmp_path):
    src = tmp_path / "inv"
    shutil.copytree(ROOT / "inventory", src)
    _yaml(
        src / "sites/lakeside/site.yaml",
        "  services:\n    broker: {id: lk-broker, zone: dmz, address: 10.30.35.10, port: 8883}\n",
        "",
    )
    plan = bridges.build(load(src, cache=False))
    assert plan is not None and [b.site for b in plan.sites] == ["ridgeway"]
    _yaml(
        src / "sites/ridgeway/site.yaml",
        "    enterprise_broker: {id: ent-broker, zone: enterprise, address: 10.20.40.20,"
        " port: 8883}\n",
        "",
    )
    assert bridges.build(load(src, cache=False)) is None


def test_the_connection_block(inv):
    plan = bridges.build(inv)
    assert plan is not None
    bridge = plan.site("ridgeway")
    text = mosquitto_bridge.render_bridge(bridge, "/etc/mosquitto/plant")
    lines = text.splitlines()
    for line in (
        "connection ridgeway-to-ent-broker",
        "address 10.20.40.20:8883",
        "bridge_protocol_version mqttv311",
        "remote_clientid bridge.ridgeway",
        "cleansession false",
        f"max_queued_messages {bridge.max_queued_messages}",
        "bridge_cafile /etc/mosquitto/plant/bridge-ca.crt",
        "bridge_certfile /etc/mosquitto/plant/bridge.crt",
        "bridge_keyfile /etc/mosquitto/plant/bridge.key",
        "bridge_insecure false",
        "topic ridgeway/+/+/machine-status/# out 1",
        "topic ridgeway/+/+/production-counts/# out 1",
        "topic ridgeway/+/+/energy/# out 1",
    ):
        assert line in lines, line
    assert [ln for ln in lines if ln.startswith("topic ")] == [
        f"topic {t} out 1" for t in bridge.topics
    ]
    # the bridged broker keeps its queue on disk
    access = dataclasses.replace(
        bridges.enterprise_access(inv, plan), listeners=(Listener("10.20.35.10", 8883),)
    )
    conf = mosquitto.render_conf(access, "/etc/mosquitto/plant", "/var/lib/mosquitto")
    assert "persistence true" in conf and "persistence_location /var/lib/mosquitto/" in conf
    assert "persistence false" in mosquitto.render_conf(access)
    # an enterprise consumer's queue holds what every site's queue holds
    queue = mosquitto_bridge.render_enterprise_queue(plan)
    assert f"max_queued_messages {sum(b.max_queued_messages for b in plan.sites)}" in queue


def test_render_refuses_what_no_derivation_should_make(inv):
    plan = bridges.build(inv)
    assert plan is not None
    bridge = plan.site("ridgeway")
    with pytest.raises(tokens.UnsafeToken):
        mosquitto_bridge.render_bridge(dataclasses.replace(bridge, account="gateway.gw-rw-01"))
    with pytest.raises(tokens.UnsafeToken):
        mosquitto_bridge.render_bridge(dataclasses.replace(bridge, connection="a b\ntopic # out"))
    access = bridges.enterprise_access(inv, plan)
    reading_bridge = Account("bridge.ridgeway", "bridge", "ridgeway", read=("#",))
    writing_role = Account("role.operator", "role", "operator", write=("ridgeway/+/+/x/#",))
    bad_pattern = Account("bridge.ridgeway", "bridge", "ridgeway", write=("ridgeway/+/+/x",))
    for acc in (reading_bridge, writing_role, bad_pattern):
        with pytest.raises(tokens.UnsafeToken):
            mosquitto_bridge.render_enterprise_acl(dataclasses.replace(access, accounts=(acc,)))
    assert mosquitto_bridge.render_bridge(dataclasses.replace(bridge, classes=())) == ""


# The enterprise ACL at a real broker ------------------------------------------------------------


class _Client:
    """A paho MQTT 5 client with a client certificate; records what it receives."""

    def __init__(self, broker: LocalBroker, ca: Authority, account: str, sub: str | None = None):
        import paho.mqtt.client as mqtt

        cred = ca.issue(account)
        self.got: list[str] = []
        self.ready = threading.Event()
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{account}-t", protocol=mqtt.MQTTv5
        )
        c.tls_set(ca_certs=str(ca.cert), certfile=str(cred.cert), keyfile=str(cred.key))
        c.on_message = lambda _c, _u, m: self.got.append(m.topic)
        c.on_subscribe = lambda *_: self.ready.set()
        if sub is None:
            c.on_connect = lambda *_: self.ready.set()
        else:
            c.on_connect = lambda cl, *_: cl.subscribe(sub, qos=1)
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert self.ready.wait(10), f"{account} did not connect"
        self.client = c

    def publish(self, topic: str) -> int:
        info = self.client.publish(topic, b"{}", qos=1)
        info.wait_for_publish(10)
        return info.rc

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow
def test_the_enterprise_acl_admits_a_bridge_only_for_its_sites_forwarded_classes(inv, tmp_path):
    plan = bridges.build(inv)
    assert plan is not None
    ca = Authority(tmp_path / "ca")
    server = ca.issue("ent-broker", server=True, ips=("127.0.0.1",))
    acl = tmp_path / "acl"
    acl.write_text(
        mosquitto_bridge.render_enterprise_acl(bridges.enterprise_access(inv, plan))
        + "\n# test only\nuser lab.observer\ntopic read #\n"
    )
    broker = LocalBroker(tmp_path / "ent", ca=ca.cert, cert=server.cert, key=server.key)
    broker.conf.write_text(broker.conf.read_text() + f"acl_file {acl}\n")
    with broker:
        everything = _Client(broker, ca, "lab.observer", "#")
        quality = _Client(broker, ca, "role.quality-engineer", "+/+/+/+/+")
        ridgeway = _Client(broker, ca, "bridge.ridgeway")
        allowed = [
            "ridgeway/cell-molding/rw-press-01/machine-status/status",
            "ridgeway/cell-molding/rw-press-01/production-counts/shot-count",
        ]
        refused = [
            "ridgeway/cell-machining/rw-cnc-01/downtime-reasons/downtime-reason",  # may not leave
            "lakeside/cell-stamping/lk-press-01/machine-status/status",  # another site's
            "ridgeway/_health/gw-rw-01",
        ]
        for topic in allowed + refused:
            ridgeway.publish(topic)
        deadline = time.monotonic() + 10
        while set(everything.got) != set(allowed) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert sorted(everything.got) == sorted(allowed)
        # a consumer reads only the forwarded classes its role views
        assert quality.got == [allowed[1]]
        for c in (everything, quality, ridgeway):
            c.close()
