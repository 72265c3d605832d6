"""The Sparkplug B ACL as plantctl renders it (broker_access.build, configs.mosquitto.render_acl),
enforced by a running Mosquitto with TLS client certificates (the certificate's common name is
the account): a gateway's account (its collectors' one process) publishes only its own edge
node's topics, for the devices of both its collectors; a data-class role receives only the device
topics of its classes; no account of the rendered ACL may send an NCMD or DCMD, while an NCMD
from a host that a test-only line allows to send it makes the node rebirth.

Two accounts are test-only and appended to the rendered file: a witness that may read every
topic (to see what the broker accepted at all) and a Sparkplug host allowed to send gw-rw-02 an
NCMD (the inventory cannot name such a host: a command to an edge node is a write to the plant,
broker_access derives no account that may publish one and configs/mosquitto.py refuses to render
one)."""

from __future__ import annotations

import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from test_collector_sparkplug import Payload, decode, sparkplug_sample  # noqa: F401

from plantctl.configs import mosquitto as mosquitto_render
from plantctl.lab.mosquitto import LocalBroker
from plantctl.model.loader import load
from plantctl.plant import broker_access

GATEWAY = "gateway.gw-rw-02"  # one process for col-rw-press-01 and col-rw-press-02
STATUS_ONLY = "role.maintenance-technician"  # views machine-status, not production-counts
COUNTS_ONLY = "role.quality-engineer"  # views production-counts, not machine-status
HOST = "role.sparkplug-host-test"
WITNESS = "role.witness-test"
NODE = "spBv1.0/ridgeway/{}/gw-rw-02"
STATUS_DEV = "rw-press-01.machine-status"
COUNTS_DEV = "rw-press-01.production-counts"
DEVICES = tuple(
    f"rw-press-0{n}.{c}" for n in (1, 2) for c in ("machine-status", "production-counts")
)


class Client:
    """A paho client (TLS, a client certificate for `account`) that keeps what it receives."""

    def __init__(self, broker, authority, account: str, client_id: str, subscribe: str = ""):
        cred = authority.issue(account)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        c.tls_set(
            ca_certs=str(authority.cert),
            certfile=str(cred.cert),
            keyfile=str(cred.key),
            cert_reqs=ssl.CERT_REQUIRED,
        )
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self.subscribed.set()

        def on_connect(client, *a):
            if subscribe:
                client.subscribe(subscribe, qos=1)
            else:
                self.subscribed.set()

        c.on_connect = on_connect
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        assert self.subscribed.wait(10), f"{account} did not connect"
        self.client = c

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def topics(self) -> set[str]:
        with self._lock:
            return {t for t, _ in self.messages}

    def count(self, topic: str) -> int:
        with self._lock:
            return sum(1 for t, _ in self.messages if t == topic)

    def got(self, topic: str, payload: bytes) -> bool:
        with self._lock:
            return (topic, payload) in self.messages

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _wait(what, timeout: float = 30, why: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {why}")


def _matches(pattern: str, topic: str) -> bool:
    p, t = pattern.split("/"), topic.split("/")
    return len(p) == len(t) and all(a in ("+", b) for a, b in zip(p, t, strict=True))


def _rebirth() -> bytes:
    request = Payload()
    request.timestamp = int(time.time() * 1000)
    request.metrics.add(name="Node Control/Rebirth", datatype=11, boolean_value=True)
    return request.SerializeToString()


@pytest.fixture
def acl_broker(tmp_path, authority, sparkplug_sample):  # noqa: F811 (the imported fixture)
    """A Mosquitto with the rendered ACL of the Sparkplug sample (gw-rw-02 publishes Sparkplug
    B), and the two test-only accounts."""
    access = broker_access.build(load(sparkplug_sample), "ridgeway")
    acl = tmp_path / "acl"
    acl.write_text(
        mosquitto_render.render_acl(access)
        + f"\n# test only\nuser {WITNESS}\ntopic read #\n"
        + f"\nuser {HOST}\ntopic write {NODE.format('NCMD')}\n"
    )
    server = authority.issue("broker-acl", server=True, ips=("127.0.0.1",))
    broker = LocalBroker(
        tmp_path / "acl-broker", ca=authority.cert, cert=server.cert, key=server.key
    )
    broker.conf.write_text(broker.conf.read_text() + f"acl_file {acl}\n")
    with broker:
        yield broker, access


def test_the_rendered_sparkplug_acl_holds_at_a_running_mosquitto(
    acl_broker, loopback_config, plcs, collector, authority
):
    broker, access = acl_broker
    own = access.account(GATEWAY)
    assert set(own.write) == {
        NODE.format("NBIRTH"),
        NODE.format("NDEATH"),
        *(f"{NODE.format(k)}/{d}" for k in ("DBIRTH", "DDATA", "DDEATH") for d in DEVICES),
    }
    # The gateway's one collector process (both presses), connecting as the gateway's account.
    doc = loopback_config("gw-rw-02", interval=0.5)
    assert [s["machine"] for s in doc["sources"]] == ["rw-press-01", "rw-press-02"]
    doc["payload"], doc["sparkplug_group"] = "sparkplug-b", "ridgeway"
    doc["broker"]["port"] = broker.port
    assert doc["broker"]["account"] == GATEWAY
    cred = authority.issue(GATEWAY)
    doc["broker"]["tls"] |= {"cert_file": str(cred.cert), "key_file": str(cred.key)}
    sims = plcs(doc)
    clients = {
        name: Client(broker, authority, name, f"test-{i}", "spBv1.0/#" if name != HOST else "#")
        for i, name in enumerate((WITNESS, STATUS_ONLY, COUNTS_ONLY, HOST))
    }
    witness, status_role, counts_role, host = (
        clients[n] for n in (WITNESS, STATUS_ONLY, COUNTS_ONLY, HOST)
    )
    try:
        collector(doc)
        ddata = {f"{NODE.format('DDATA')}/{d}" for d in DEVICES}
        _wait(lambda: ddata <= witness.topics(), why="DDATA of both collectors' devices")
        assert witness.topics() <= set(own.write), "the collector published beyond its account"

        # 1. The gateway's account, from another connection: only its own node's topics
        #    reach anyone; the marker (allowed) comes last, QoS 1, in order.
        rogue = Client(broker, authority, GATEWAY, "rogue", "")
        refused = [
            "spBv1.0/ridgeway/DDATA/gw-rw-01/rw-cnc-01.machine-status",  # another edge node
            "spBv1.0/ridgeway/NBIRTH/gw-rw-03",
            "spBv1.0/ridgeway/DDATA/gw-rw-02/rw-cnc-01.machine-status",  # no device of its own
            "spBv1.0/lakeside/DDATA/gw-rw-02/rw-press-01.machine-status",  # another group
            NODE.format("NCMD"),  # its own command topic: read only
            f"{NODE.format('DCMD')}/{STATUS_DEV}",  # a command to its own device
            "spBv1.0/STATE/host",
            "ridgeway/cell-molding/rw-press-01/machine-status/status",  # outside the namespace
            "anything/else",
        ]
        for topic in refused:
            rogue.publish(topic, b"rogue")
        marker = f"{NODE.format('DDATA')}/{STATUS_DEV}"
        rogue.publish(marker, b"marker")
        _wait(lambda: witness.got(marker, b"marker"), why="the allowed marker")
        time.sleep(0.5)
        for c in clients.values():
            assert not (set(refused) & c.topics()), "a refused publish was delivered"
        rogue.close()

        # 2. Roles: the device topics of their classes only (and the node's births and deaths)
        _wait(lambda: f"{NODE.format('DDATA')}/{STATUS_DEV}" in status_role.topics(), why="status")
        _wait(lambda: f"{NODE.format('DDATA')}/{COUNTS_DEV}" in counts_role.topics(), why="counts")
        for name, c in ((STATUS_ONLY, status_role), (COUNTS_ONLY, counts_role)):
            patterns = access.account(name).read
            assert c.topics(), name
            assert all(any(_matches(p, t) for p in patterns) for t in c.topics()), name
        assert not any(COUNTS_DEV in t for t in status_role.topics())
        assert not any(STATUS_DEV in t for t in counts_role.topics())
        assert NODE.format("NBIRTH") in status_role.topics() | witness.topics()
        assert not host.topics() - {NODE.format("NCMD")}, "the host may read nothing"

        # 3. NCMD: a role's rebirth request is refused (never delivered, no rebirth) ...
        births = witness.count(NODE.format("NBIRTH"))
        assert births == 1
        status_role.publish(NODE.format("NCMD"), _rebirth())
        counts_role.publish(NODE.format("NCMD"), _rebirth())
        time.sleep(2)
        assert NODE.format("NCMD") not in witness.topics()
        assert witness.count(NODE.format("NBIRTH")) == births
        # ... the allowed host's works: the node publishes NBIRTH and its DBIRTHs again
        host.publish(NODE.format("NCMD"), _rebirth())
        _wait(lambda: witness.count(NODE.format("NBIRTH")) == births + 1, why="a rebirth")
        assert witness.count(NODE.format("NCMD")) == 1
        _wait(
            lambda: all(witness.count(f"{NODE.format('DBIRTH')}/{d}") == 2 for d in DEVICES),
            why="the DBIRTHs again",
        )
        rebirth = [decode(p) for t, p in witness.messages if t == NODE.format("NBIRTH")][-1]
        assert rebirth.seq == 0
        for sim in sims.values():
            assert sim.writes() == []
    finally:
        for c in clients.values():
            c.close()


class V5Publisher:
    """A paho MQTT 5 client for `account`: the broker answers each QoS 1 publish with a reason
    code (0x87 not authorized when the ACL refuses it), kept by message id."""

    def __init__(self, broker, authority, account: str, client_id: str):
        cred = authority.issue(account)
        self.codes: dict[int, int] = {}
        self._acked = threading.Condition()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.tls_set(
            ca_certs=str(authority.cert),
            certfile=str(cred.cert),
            keyfile=str(cred.key),
            cert_reqs=ssl.CERT_REQUIRED,
        )
        connected = threading.Event()
        c.on_connect = lambda *a: connected.set()
        c.on_publish = self._on_publish
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        assert connected.wait(10), f"{account} did not connect"
        self.client = c

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._acked:
            self.codes[mid] = reason_code.value
            self._acked.notify_all()

    def publish(self, topic: str, payload: bytes) -> int:
        """The broker's reason code for a QoS 1 publish (after its PUBACK)."""
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self.codes, 10), f"no PUBACK for {topic}"
            return self.codes[mid]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


NOT_AUTHORIZED = 0x87


def test_no_account_of_the_rendered_acl_may_send_a_command(acl_broker, authority):
    """Every account the inventory yields (each gateway, each role) publishes an NCMD to every
    edge node of the site and a DCMD to every Sparkplug device: the broker answers each one
    "not authorized" (MQTT 5) and delivers none, while a gateway's own DDATA is accepted."""
    broker, access = acl_broker
    gateways = sorted(a.subject for a in access.accounts if a.kind == "gateway")
    devices = sorted(
        t.split("/", 3)[3]
        for a in access.accounts
        for t in a.write
        if t.startswith("spBv1.0/") and "/DBIRTH/" in t
    )
    assert "gw-rw-02/rw-press-02.production-counts" in devices  # both collectors' devices
    commands = [f"spBv1.0/ridgeway/NCMD/{g}" for g in gateways]
    commands += [f"spBv1.0/ridgeway/DCMD/{d}" for d in devices]
    witness = Client(broker, authority, WITNESS, "witness", "#")
    publishers: dict[str, V5Publisher] = {}
    try:
        for i, account in enumerate(a.username for a in access.accounts):
            pub = publishers[account] = V5Publisher(broker, authority, account, f"cmd-{i}")
            codes = {t: pub.publish(t, _rebirth()) for t in commands}
            assert set(codes.values()) == {NOT_AUTHORIZED}, (account, codes)
        # the control: the same broker accepts what an account may publish
        allowed = f"{NODE.format('DDATA')}/{STATUS_DEV}"
        assert publishers[GATEWAY].publish(allowed, b"control") == 0
        _wait(lambda: witness.got(allowed, b"control"), why="the allowed control message")
        # every command was acknowledged (refused) before the control was sent
        assert not [t for t in witness.topics() if broker_access.is_command(t)]
    finally:
        witness.close()
        for pub in publishers.values():
            pub.close()
