"""`payload: sparkplug-b`: what arrives at a real Mosquitto, decoded with the protobuf package
from the Sparkplug B schema itself (not with the collector's hand-written encoder): NBIRTH and
DBIRTH with metric definitions from the signals, DDATA with sequence numbers, rebirth on an
NCMD, NDEATH as the will; the broker's ACL for that layout; a bad group id refused."""

from __future__ import annotations

import copy
import os
import signal
import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from plantctl.collector import config
from plantctl.configs import mosquitto as mosquitto_render
from plantctl.lab.plc import Model
from plantctl.model.loader import load
from plantctl.plant import broker_access, collector_config


def _sparkplug_classes():
    """org.eclipse.tahu.protobuf.Payload (sparkplug_b.proto, the fields a collector uses), built
    as a FileDescriptorProto for the protobuf runtime."""
    f = descriptor_pb2.FileDescriptorProto(
        name="sparkplug_b_test.proto", package="org.eclipse.tahu.protobuf", syntax="proto2"
    )
    T = descriptor_pb2.FieldDescriptorProto
    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED

    def msg(parent, name, fields):
        m = parent.add(name=name)
        for fname, number, kind, label, type_name in fields:
            fd = m.field.add(name=fname, number=number, type=kind, label=label)
            if type_name:
                fd.type_name = type_name
        return m

    pkg = ".org.eclipse.tahu.protobuf.Payload"
    payload = msg(
        f.message_type,
        "Payload",
        [
            ("timestamp", 1, T.TYPE_UINT64, opt, None),
            ("metrics", 2, T.TYPE_MESSAGE, rep, f"{pkg}.Metric"),
            ("seq", 3, T.TYPE_UINT64, opt, None),
            ("uuid", 4, T.TYPE_STRING, opt, None),
            ("body", 5, T.TYPE_BYTES, opt, None),
        ],
    )
    msg(
        payload.nested_type,
        "PropertyValue",
        [
            ("type", 1, T.TYPE_UINT32, opt, None),
            ("is_null", 2, T.TYPE_BOOL, opt, None),
            ("int_value", 3, T.TYPE_UINT32, opt, None),
            ("long_value", 4, T.TYPE_UINT64, opt, None),
            ("float_value", 5, T.TYPE_FLOAT, opt, None),
            ("double_value", 6, T.TYPE_DOUBLE, opt, None),
            ("boolean_value", 7, T.TYPE_BOOL, opt, None),
            ("string_value", 8, T.TYPE_STRING, opt, None),
        ],
    )
    msg(
        payload.nested_type,
        "PropertySet",
        [
            ("keys", 1, T.TYPE_STRING, rep, None),
            ("values", 2, T.TYPE_MESSAGE, rep, f"{pkg}.PropertyValue"),
        ],
    )
    msg(
        payload.nested_type,
        "Metric",
        [
            ("name", 1, T.TYPE_STRING, opt, None),
            ("alias", 2, T.TYPE_UINT64, opt, None),
            ("timestamp", 3, T.TYPE_UINT64, opt, None),
            ("datatype", 4, T.TYPE_UINT32, opt, None),
            ("is_historical", 5, T.TYPE_BOOL, opt, None),
            ("is_transient", 6, T.TYPE_BOOL, opt, None),
            ("is_null", 7, T.TYPE_BOOL, opt, None),
            ("properties", 9, T.TYPE_MESSAGE, opt, f"{pkg}.PropertySet"),
            ("int_value", 10, T.TYPE_UINT32, opt, None),
            ("long_value", 11, T.TYPE_UINT64, opt, None),
            ("float_value", 12, T.TYPE_FLOAT, opt, None),
            ("double_value", 13, T.TYPE_DOUBLE, opt, None),
            ("boolean_value", 14, T.TYPE_BOOL, opt, None),
            ("string_value", 15, T.TYPE_STRING, opt, None),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(pkg[1:]))


Payload = _sparkplug_classes()


def decode(data: bytes):
    p = Payload()
    p.ParseFromString(data)
    return p


class Observer:
    """A paho client (TLS, client certificate) that keeps every Sparkplug message."""

    def __init__(self, broker, authority):
        cred = authority.issue("sparkplug-host")
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sparkplug-host")
        c.tls_set(
            ca_certs=str(authority.cert),
            certfile=str(cred.cert),
            keyfile=str(cred.key),
            cert_reqs=ssl.CERT_REQUIRED,
        )
        c.on_message = self._on_message
        c.on_connect = lambda client, *a: client.subscribe("spBv1.0/#", qos=1)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        self.client = c

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def of(self, kind: str) -> list[tuple[str, object]]:
        with self._lock:
            return [(t, decode(p)) for t, p in self.messages if t.split("/")[2] == kind]

    def wait(self, what, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out; got {[t for t, _ in self.messages]}")

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def _value(metric):
    for name in ("boolean_value", "double_value", "float_value", "long_value", "int_value"):
        if metric.HasField(name):
            return getattr(metric, name)
    return None


def test_sparkplug_b_births_data_rebirth_and_death_at_a_real_broker(
    loopback_config, plcs, collector, broker, authority
):
    doc = loopback_config("gw-rw-02", interval=0.5)
    doc["payload"] = "sparkplug-b"
    doc["sparkplug_group"] = "ridgeway"
    sims = plcs(doc)
    cfg = config.parse(doc)
    observer = Observer(broker, authority)
    try:
        time.sleep(0.3)
        proc = collector(doc)
        observer.wait(lambda: len(observer.of("DDATA")) >= 20)
        nbirth = observer.of("NBIRTH")
        assert [t for t, _ in nbirth] == ["spBv1.0/ridgeway/NBIRTH/gw-rw-02"]
        node = nbirth[0][1]
        assert node.seq == 0
        names = {m.name: m for m in node.metrics}
        assert set(names) == {"bdSeq", "Node Control/Rebirth"}
        bd_seq = names["bdSeq"].long_value
        # DBIRTH: one device per (machine, data class), every signal defined with alias and type
        expected = {}
        alias = 0
        for src in cfg.sources:
            for sig in src.signals:
                alias += 1
                expected.setdefault(f"{src.machine}.{sig.data_class}", {})[alias] = sig
        births = observer.of("DBIRTH")
        assert {t.rsplit("/", 1)[1] for t, _ in births} == set(expected)
        assert [p.seq for _, p in births] == list(range(1, len(births) + 1))
        for topic, p in births:
            assert topic.startswith("spBv1.0/ridgeway/DBIRTH/gw-rw-02/")
            sigs = expected[topic.rsplit("/", 1)[1]]
            assert {m.alias: m.name for m in p.metrics} == {a: s.name for a, s in sigs.items()}
            for m in p.metrics:
                assert m.datatype in (6, 8, 10, 11), m  # UInt16, UInt64, Double, Boolean
                assert m.is_null
                if sigs[m.alias].unit:
                    assert list(m.properties.keys) == ["engUnit"]
                    assert m.properties.values[0].string_value == sigs[m.alias].unit
        # DDATA: known aliases, values as the simulator has them, seq continuing from the births
        data = observer.of("DDATA")
        seqs = [p.seq for _, p in data]
        first = len(births) + 1
        assert seqs[:5] == [(first + i) % 256 for i in range(5)]
        press = sims["rw-press-01"]
        for topic, p in data:
            dev = topic.rsplit("/", 1)[1]
            for m in p.metrics:
                sig = expected[dev][m.alias]
                assert m.timestamp > 0
                kind = Model.of(sig).kind
                if kind == "constant":
                    assert _value(m) == press.expected(sig.name), sig.name
                elif kind == "counter":
                    assert abs(_value(m) - press.expected(sig.name, m.timestamp / 1000)) <= 2
                else:
                    assert _value(m) in (1, 2, 3, True), sig.name
        # rebirth on request: NBIRTH (seq 0) and the DBIRTHs again
        request = Payload()
        request.timestamp = int(time.time() * 1000)
        request.metrics.add(name="Node Control/Rebirth", datatype=11, boolean_value=True)
        observer.client.publish(
            "spBv1.0/ridgeway/NCMD/gw-rw-02", request.SerializeToString(), qos=1
        )
        observer.wait(lambda: len(observer.of("NBIRTH")) == 2)
        observer.wait(lambda: len(observer.of("DBIRTH")) == 2 * len(births))
        assert observer.of("NBIRTH")[1][1].seq == 0
        # an NCMD that is not a rebirth does nothing to the machines
        other = Payload()
        other.metrics.add(name="Node Control/Reboot", datatype=11, boolean_value=True)
        observer.client.publish("spBv1.0/ridgeway/NCMD/gw-rw-02", other.SerializeToString())
        time.sleep(0.5)
        # NDEATH is the will: the collector dies without a clean disconnect
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(timeout=10)
        proc.proc = None
        observer.wait(lambda: observer.of("NDEATH"), timeout=60)
        death = observer.of("NDEATH")[0][1]
        assert [(m.name, m.long_value) for m in death.metrics] == [("bdSeq", bd_seq)]
        for sim in sims.values():
            assert sim.writes() == []
    finally:
        observer.close()


@pytest.fixture
def sparkplug_sample(sample):
    path = sample / "sites/ridgeway/gateways.yaml"
    path.write_text(
        path.read_text().replace(
            "maintenance_window: wed-night}\n  - {id: gw-rw-03",
            "maintenance_window: wed-night, payload: sparkplug-b, sparkplug_group: ridgeway}"
            "\n  - {id: gw-rw-03",
        )
    )
    return sample


def test_the_broker_acl_follows_the_sparkplug_layout(sparkplug_sample):
    inv = load(sparkplug_sample)
    doc = collector_config.render(inv, "gw-rw-02")
    assert (doc["payload"], doc["sparkplug_group"]) == ("sparkplug-b", "ridgeway")
    access = broker_access.build(inv, "ridgeway")
    # one account for the gateway's two collectors: its node once, both presses' devices
    acc = access.account("gateway.gw-rw-02")
    assert acc.collectors == ("col-rw-press-01", "col-rw-press-02")
    node = "spBv1.0/ridgeway/{}/gw-rw-02"
    assert acc.read == (node.format("NCMD"),)
    assert acc.write.count(node.format("NBIRTH")) == acc.write.count(node.format("NDEATH")) == 1
    assert set(acc.write) == {
        node.format("NBIRTH"),
        node.format("NDEATH"),
        *(
            f"{node.format(kind)}/{press}.{cls}"
            for kind in ("DBIRTH", "DDATA", "DDEATH")
            for press in ("rw-press-01", "rw-press-02")
            for cls in ("machine-status", "production-counts")
        ),
    }
    # no account may send a command (NCMD, DCMD): a command is a write to the plant
    assert not [t for a in access.accounts for t in a.write if broker_access.is_command(t)]
    # a JSON gateway keeps its JSON topics
    assert access.account("gateway.gw-rw-01").write[0].startswith("ridgeway/")
    # roles: the Sparkplug devices of the classes they view, by name, and node state
    for role in (a for a in access.accounts if a.kind == "role"):
        classes = broker_access.viewable_classes(inv, role.subject)
        spb = {t for t in role.read if t.startswith("spBv1.0/")}
        for cls in ("machine-status", "production-counts"):
            topic = f"spBv1.0/ridgeway/+/gw-rw-02/rw-press-01.{cls}"
            assert (topic in spb) == (cls in classes), (role.subject, cls)
        assert all("#" not in t for t in spb)
    acl = mosquitto_render.render_acl(access)
    assert "topic read spBv1.0/ridgeway/NCMD/gw-rw-02" in acl


@pytest.mark.parametrize("group", ["ridge/way", "ridge#", "ridge+way"])
def test_a_sparkplug_group_id_with_a_separator_or_wildcard_is_refused(
    sparkplug_sample, plantctl, group
):
    path = sparkplug_sample / "sites/ridgeway/gateways.yaml"
    text = path.read_text()
    path.write_text(text.replace("sparkplug_group: ridgeway", f'sparkplug_group: "{group}"'))
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if group in s)
    run = plantctl("validate", "--inventory", str(sparkplug_sample))
    assert run.code == 2
    assert f"gateways.yaml:{line}" in run.out + run.err
    assert "sparkplug_group" in run.out + run.err


@pytest.mark.parametrize("group", ["a/b", "#", "+", ""])
def test_the_collector_refuses_a_bad_sparkplug_group(inventory, group):
    doc = copy.deepcopy(collector_config.render(inventory, "gw-rw-02"))
    doc["payload"] = "sparkplug-b"
    doc["sparkplug_group"] = group or " "
    with pytest.raises(config.ConfigError, match="is not a Sparkplug group id"):
        config.parse(doc)
