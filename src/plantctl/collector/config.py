"""The collector's configuration: what to read, how often, where to publish.

One JSON file per gateway (rendered from the inventory by plantctl.plant.collector_config, written
by the `collector` Ansible role). Loading it is where the read-only rule is first enforced: a
signal that asks for any Modbus function code other than 1-4, or any OPC UA service other than read
or subscribe, makes the whole configuration invalid. Nothing is read from a machine then. S7 points
(area, data block, byte offset, type) and Logix points (tag name, type) have no field that could
ask for a write at all; a tag name with a write suffix (`Tag=value`) is refused."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plantctl.collector.readonly import MODBUS_READ_FUNCTIONS

VERSION = 1
OPCUA_READ_OPERATIONS = frozenset({"read", "subscribe"})
PROTOCOLS = ("modbus-tcp", "opcua", "s7", "ethernet-ip")
# The signal block each protocol's signals carry (and no other).
BLOCKS = {"modbus-tcp": "modbus", "opcua": "opcua", "s7": "s7", "ethernet-ip": "logix"}
# S7 memory areas by their inventory names; a data block (db) also needs its number.
S7_AREAS = ("db", "inputs", "outputs", "markers")
# S7 data types and their size in bytes (bool is one bit of the byte at `offset`).
S7_TYPES = {
    "bool": 1, "byte": 1, "char": 1, "word": 2, "int": 2, "uint": 2,
    "dword": 4, "dint": 4, "udint": 4, "real": 4, "lreal": 8,
}  # fmt: skip
# Logix atomic data types a tag may be read as.
LOGIX_TYPES = ("BOOL", "SINT", "INT", "DINT", "LINT", "USINT", "UINT", "UDINT", "REAL", "LREAL")
# A Logix tag by name: Program:<name>. prefix, members and one-dimensional indexes; no '='
# (the value of a write in every Logix tool's syntax), no spaces, nothing else.
_LOGIX_TAG = re.compile(
    r"^(Program:[A-Za-z_][A-Za-z0-9_]{0,39}\.)?[A-Za-z_][A-Za-z0-9_]{0,39}(\[[0-9]{1,5}\])?"
    r"(\.[A-Za-z_][A-Za-z0-9_]{0,39}(\[[0-9]{1,5}\])?){0,7}$"
)
# A copy of inventory/schema/defs.schema.json#/$defs/id (the collector is shipped alone and
# reads no schema); tests/test_single_sources.py fails when the two differ.
_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
# The MQTT topic of a JSON sample: <site>/<zone>/<machine>/<data class>/<signal>, each level of
# TOPIC_LEVEL. The one source of this format: the collector publishes with it and
# plantctl.plant.broker_access derives the broker's ACL from these functions; policy COL-006
# (policies/collectors/collectors.rego) is compared with them by tests/test_single_sources.py.
TOPIC_LEVEL = re.compile(r"[A-Za-z0-9_.-]+")


def topic_prefix(site: str, zone: str, machine: str) -> str:
    """`<site>/<zone>/<machine>`: the first three levels of a machine's topics."""
    return "/".join((site, zone, machine))


def topic(prefix: str, data_class: str, signal: str) -> str:
    """`<prefix>/<data class>/<signal>`: the topic of one signal."""
    return "/".join((prefix, data_class, signal))


def class_subscription(site: str, data_class: str) -> str:
    """`<site>/+/+/<data class>/+`: every signal of a data class at a site."""
    return topic(topic_prefix(site, "+", "+"), data_class, "+")


# A gateway's own health: `<site>/_health/<gateway>`, retained, with the offline will. Three
# levels where signals have five, and `_health` is never a zone (ids start with a letter), so
# the topic cannot be any machine's. Read by roles that view the data class HEALTH_CLASS.
HEALTH_LEVEL = "_health"
HEALTH_CLASS = "gateway-health"


def health_topic(site: str, gateway: str) -> str:
    """`<site>/_health/<gateway>`: the retained health of one gateway's collector."""
    return "/".join((site, HEALTH_LEVEL, gateway))


def health_subscription(site: str) -> str:
    """`<site>/_health/+`: the health of every gateway of a site."""
    return health_topic(site, "+")


_NODE_ID = re.compile(r"^ns=[0-9]+;[isgb]=.+$")
PAYLOADS = ("json", "sparkplug-b")
# A Sparkplug group id is one topic level: no '/', and no MQTT wildcard ('#', '+').
_SPARKPLUG_GROUP = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ConfigError(ValueError):
    """The configuration is not acceptable; the message says where and why."""


@dataclass(frozen=True)
class ModbusPoint:
    function: int
    address: int
    count: int = 1
    scale: float | None = None


@dataclass(frozen=True)
class OpcUaPoint:
    node_id: str
    operation: str  # read | subscribe


@dataclass(frozen=True)
class S7Point:
    area: str  # db | inputs | outputs | markers
    offset: int  # byte offset in the area
    type: str  # one of S7_TYPES
    db: int = 0  # the data block number (area db only)
    bit: int = 0  # the bit of a bool

    @property
    def size(self) -> int:
        return S7_TYPES[self.type]


@dataclass(frozen=True)
class LogixPoint:
    tag: str
    type: str  # one of LOGIX_TYPES


@dataclass(frozen=True)
class Signal:
    name: str
    data_class: str
    interval_s: float
    meaning: str | None = None
    unit: str | None = None
    modbus: ModbusPoint | None = None
    opcua: OpcUaPoint | None = None
    s7: S7Point | None = None
    logix: LogixPoint | None = None


@dataclass(frozen=True)
class Source:
    """One machine read by this gateway (an inventory collector)."""

    id: str
    machine: str
    protocol: str
    address: str
    port: int
    topic_prefix: str  # <site>/<zone>/<machine>
    signals: tuple[Signal, ...]
    unit_id: int = 1
    rack: int = 0  # S7: the CPU's rack and slot, from the machine's controller record
    slot: int = 1

    def topic(self, signal: Signal) -> str:
        return topic(self.topic_prefix, signal.data_class, signal.name)


@dataclass(frozen=True)
class Tls:
    ca_file: str
    cert_file: str
    key_file: str


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    client_id: str
    tls: Tls | None
    keepalive_s: int = 30
    qos: int = 1
    # The broker account: the common name of the client certificate, `gateway.<gateway>` (one
    # process, one certificate for all the gateway's sources; plant/broker_access.py).
    account: str = ""


@dataclass(frozen=True)
class Config:
    site: str
    gateway: str
    broker: Broker
    sources: tuple[Source, ...]
    state_dir: str
    max_inflight: int = 200
    source_file: str = field(default="<memory>", compare=False)
    payload: str = "json"  # json | sparkplug-b
    sparkplug_group: str = ""  # the Sparkplug group id (sparkplug-b only)
    health: bool = False  # publish its own health on health_topic (retained, offline will)

    def signal_count(self) -> int:
        return sum(len(s.signals) for s in self.sources)

    @property
    def health_topic(self) -> str:
        return health_topic(self.site, self.gateway)


def load(path: str | Path) -> Config:
    """Read and check a configuration file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return parse(data, str(path))


def parse(data: Any, where: str = "<config>") -> Config:
    """Check a configuration document; every problem is collected into one ConfigError."""
    problems: list[str] = []

    def need(obj: Any, key: str, kind, at: str, required: bool = True):
        if not isinstance(obj, dict) or key not in obj:
            if required:
                problems.append(f"{at}: missing {key!r}")
            return None
        value = obj[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(
                f"{at}.{key}: expected {getattr(kind, '__name__', kind)}, "
                f"got {type(value).__name__}"
            )
            return None
        return value

    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the configuration must be a JSON object")
    if data.get("version") != VERSION:
        problems.append(f"version: expected {VERSION}, got {data.get('version')!r}")
    site = need(data, "site", str, "config")
    gateway = need(data, "gateway", str, "config")
    state_dir = need(data, "state_dir", str, "config")
    max_inflight = need(data, "max_inflight", int, "config", required=False) or 200
    broker = _broker(data.get("broker"), need, problems)
    sources = []
    seen_topics: dict[str, str] = {}
    raw_sources = need(data, "sources", list, "config") or []
    for i, raw in enumerate(raw_sources):
        src = _source(raw, f"sources[{i}]", need, problems)
        if src is None:
            continue
        for sig in src.signals:
            topic = src.topic(sig)
            if topic in seen_topics:
                problems.append(
                    f"{seen_topics[topic]} and {src.id}/{sig.name} publish to the "
                    f"same topic {topic}"
                )
            seen_topics[topic] = f"{src.id}/{sig.name}"
        sources.append(src)
    for name, value in (("site", site), ("gateway", gateway)):
        if value is not None and not _ID.fullmatch(value):
            problems.append(f"{name}: {value!r} is not an id")
    payload = need(data, "payload", str, "config", required=False) or "json"
    group = need(data, "sparkplug_group", str, "config", required=False) or (site or "")
    health = need(data, "health", bool, "config", required=False) or False
    if payload not in PAYLOADS:
        problems.append(f"payload: {payload!r} is not one of {', '.join(PAYLOADS)}")
    if payload == "sparkplug-b" and not _SPARKPLUG_GROUP.match(group):
        problems.append(
            f"sparkplug_group: {group!r} is not a Sparkplug group id (one topic level of "
            "letters, digits, '_', '.', '-'; never '/', '#' or '+')"
        )
    if broker is not None and broker.account and broker.account != f"gateway.{gateway}":
        problems.append(
            f"broker.account: {broker.account!r} is not this gateway's account gateway.{gateway}"
            " (one account per gateway: its certificate's common name)"
        )
    if problems or broker is None:  # no broker is one of the problems
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return Config(
        site,
        gateway,
        broker,
        tuple(sources),
        state_dir,
        max_inflight,
        where,
        payload,
        group,
        health,
    )


def _broker(raw: Any, need, problems: list[str]) -> Broker | None:
    if not isinstance(raw, dict):
        problems.append("broker: missing or not an object")
        return None
    host = need(raw, "host", str, "broker")
    port = need(raw, "port", int, "broker")
    client_id = need(raw, "client_id", str, "broker")
    keepalive = need(raw, "keepalive_s", int, "broker", required=False) or 30
    qos = need(raw, "qos", int, "broker", required=False)
    account = need(raw, "account", str, "broker", required=False) or ""
    if qos is not None and qos != 1:
        problems.append(f"broker.qos: machine data is published with QoS 1, got {qos}")
    tls = None
    raw_tls = raw.get("tls")
    if raw_tls is None:
        problems.append("broker.tls: required (machine data leaves the gateway only over TLS)")
    else:
        files = [need(raw_tls, k, str, "broker.tls") for k in ("ca_file", "cert_file", "key_file")]
        if all(files):
            tls = Tls(*files)
    if None in (host, port, client_id):
        return None
    return Broker(host, port, client_id, tls, keepalive, 1, account)


def _source(raw: Any, at: str, need, problems: list[str]) -> Source | None:
    ident = need(raw, "id", str, at)
    machine = need(raw, "machine", str, at)
    protocol = need(raw, "protocol", str, at)
    address = need(raw, "address", str, at)
    port = need(raw, "port", int, at)
    unit_id = need(raw, "unit_id", int, at, required=False)
    rack = need(raw, "rack", int, at, required=False)
    slot = need(raw, "slot", int, at, required=False)
    for key, value, top in (("rack", rack, 7), ("slot", slot, 31)):
        if value is not None and not 0 <= value <= top:
            problems.append(f"{at}.{key}: must be 0-{top}")
    prefix = need(raw, "topic_prefix", str, at)
    if protocol is not None and protocol not in PROTOCOLS:
        problems.append(f"{at}.protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if prefix is not None and not all(TOPIC_LEVEL.fullmatch(p) for p in prefix.split("/")):
        problems.append(
            f"{at}.topic_prefix: {prefix!r} must be /-separated names without wildcards"
        )
    signals = []
    for j, rs in enumerate(need(raw, "signals", list, at) or []):
        sig = _signal(rs, f"{at}.signals[{j}]", protocol, need, problems, ident)
        if sig is not None:
            signals.append(sig)
    if None in (ident, machine, protocol, address, port, prefix):
        return None
    return Source(
        ident,
        machine,
        protocol,
        address,
        port,
        prefix,
        tuple(signals),
        unit_id if unit_id is not None else 1,
        rack if rack is not None else 0,
        slot if slot is not None else 1,
    )


def _signal(
    raw: Any, at: str, protocol: str | None, need, problems: list[str], source: str | None
) -> Signal | None:
    if not isinstance(raw, dict):
        problems.append(f"{at}: a signal must be an object")
        return None
    name = need(raw, "name", str, at)
    data_class = need(raw, "data_class", str, at)
    interval = need(raw, "interval_s", float, at)
    meaning = need(raw, "meaning", str, at, required=False)
    unit = need(raw, "unit", str, at, required=False)
    label = f"{at} ({source}/{name})"
    for part, value in (("name", name), ("data_class", data_class)):
        if value is not None and not TOPIC_LEVEL.fullmatch(value):
            problems.append(f"{label}.{part}: {value!r} is not a topic name")
    if interval is not None and not (0 < interval <= 86400 and math.isfinite(interval)):
        problems.append(f"{label}.interval_s: must be between 0 and 86400 seconds")
    modbus = opcua = None
    if "modbus" in raw:
        rm = raw["modbus"]
        function = need(rm, "function", int, f"{label}.modbus")
        address = need(rm, "address", int, f"{label}.modbus")
        count = need(rm, "count", int, f"{label}.modbus", required=False) or 1
        scale = need(rm, "scale", float, f"{label}.modbus", required=False)
        if function is not None and function not in MODBUS_READ_FUNCTIONS:
            problems.append(
                f"{label}: Modbus function code {function} is not a read; the "
                "collector only reads (function codes 1-4) and never writes to a "
                "machine"
            )
        elif function is not None and address is not None:
            limit = 2000 if function in (1, 2) else 125
            if not 0 <= address <= 65535 or not 1 <= count <= limit:
                problems.append(f"{label}.modbus: address 0-65535 and count 1-{limit}")
            else:
                modbus = ModbusPoint(function, address, count, scale)
    if "opcua" in raw:
        ro = raw["opcua"]
        node_id = need(ro, "node_id", str, f"{label}.opcua")
        operation = need(ro, "operation", str, f"{label}.opcua")
        if operation is not None and operation not in OPCUA_READ_OPERATIONS:
            problems.append(
                f"{label}: OPC UA operation {operation!r} is not allowed; the "
                "collector only reads or subscribes and never writes to a machine"
            )
        elif node_id is not None and not _NODE_ID.match(node_id):
            problems.append(f"{label}.opcua.node_id: {node_id!r} is not an OPC UA node id")
        elif node_id is not None and operation is not None:
            opcua = OpcUaPoint(node_id, operation)
    s7 = _s7(raw["s7"], label, need, problems) if "s7" in raw else None
    logix = _logix(raw["logix"], label, need, problems) if "logix" in raw else None
    points = {"modbus": modbus, "opcua": opcua, "s7": s7, "logix": logix}
    wanted = BLOCKS.get(protocol or "")
    if wanted is not None:
        others = sorted(b for b in points if b != wanted and b in raw)
        article = "a" if protocol == "modbus-tcp" else "an"
        if wanted not in raw:
            problems.append(
                f"{label}: {article} {protocol} source needs a {wanted!r} point per signal"
            )
        for other in others:
            problems.append(f"{label}: {article} {protocol} source cannot have a {other!r} point")
        if points[wanted] is None or others:
            return None
    if None in (name, data_class, interval):
        return None
    return Signal(name, data_class, interval, meaning, unit, modbus, opcua, s7, logix)


def _s7(raw: Any, label: str, need, problems: list[str]) -> S7Point | None:
    """An S7 read: area, byte offset and type (the schema has no field that could write)."""
    at = f"{label}.s7"
    if not isinstance(raw, dict):
        problems.append(f"{at}: must be an object")
        return None
    unknown = sorted(set(raw) - {"area", "db", "offset", "bit", "type"})
    if unknown:
        problems.append(f"{at}: unknown keys {', '.join(unknown)}; an S7 point only reads")
    area = need(raw, "area", str, at)
    offset = need(raw, "offset", int, at)
    kind = need(raw, "type", str, at)
    db = need(raw, "db", int, at, required=False)
    bit = need(raw, "bit", int, at, required=False) or 0
    ok = not unknown
    if area is not None and area not in S7_AREAS:
        problems.append(f"{at}.area: {area!r} is not one of {', '.join(S7_AREAS)}")
        ok = False
    if kind is not None and kind not in S7_TYPES:
        problems.append(f"{at}.type: {kind!r} is not an S7 data type ({', '.join(S7_TYPES)})")
        ok = False
    if area == "db" and (db is None or not 1 <= db <= 65535):
        problems.append(f"{at}.db: a data block number 1-65535 is needed, got {db!r}")
        ok = False
    if area not in (None, "db") and db is not None:
        problems.append(f"{at}.db: only area db has a data block number")
        ok = False
    if offset is not None and not 0 <= offset <= 65535:
        problems.append(f"{at}.offset: must be 0-65535")
        ok = False
    if not 0 <= bit <= 7 or (bit and kind != "bool"):
        problems.append(f"{at}.bit: 0-7, and only for type bool")
        ok = False
    if not ok or None in (area, offset, kind):
        return None
    return S7Point(area, offset, kind, db or 0, bit)


def _logix(raw: Any, label: str, need, problems: list[str]) -> LogixPoint | None:
    """A Logix tag read by name and type (the schema has no field that could write)."""
    at = f"{label}.logix"
    if not isinstance(raw, dict):
        problems.append(f"{at}: must be an object")
        return None
    unknown = sorted(set(raw) - {"tag", "type"})
    if unknown:
        problems.append(f"{at}: unknown keys {', '.join(unknown)}; a Logix point only reads")
    tag = need(raw, "tag", str, at)
    kind = need(raw, "type", str, at)
    ok = not unknown
    if tag is not None and "=" in tag:
        problems.append(
            f"{at}.tag: {tag!r} has a write suffix (=value); the collector only reads tags"
        )
        ok = False
    elif tag is not None and not _LOGIX_TAG.match(tag):
        problems.append(f"{at}.tag: {tag!r} is not a Logix tag name")
        ok = False
    if kind is not None and kind not in LOGIX_TYPES:
        problems.append(f"{at}.type: {kind!r} is not a Logix data type ({', '.join(LOGIX_TYPES)})")
        ok = False
    if not ok or None in (tag, kind):
        return None
    return LogixPoint(tag, kind)


def to_dict(config: Config) -> dict:
    """The configuration as its JSON document (inverse of parse)."""

    def signal(s: Signal) -> dict:
        out: dict[str, Any] = {
            "name": s.name,
            "data_class": s.data_class,
            "interval_s": s.interval_s,
        }
        if s.meaning:
            out["meaning"] = s.meaning
        if s.unit:
            out["unit"] = s.unit
        if s.modbus:
            out["modbus"] = {
                "function": s.modbus.function,
                "address": s.modbus.address,
                "count": s.modbus.count,
            }
            if s.modbus.scale is not None:
                out["modbus"]["scale"] = s.modbus.scale
        if s.opcua:
            out["opcua"] = {"node_id": s.opcua.node_id, "operation": s.opcua.operation}
        if s.s7:
            out["s7"] = {"area": s.s7.area, "offset": s.s7.offset, "type": s.s7.type}
            if s.s7.area == "db":
                out["s7"]["db"] = s.s7.db
            if s.s7.type == "bool":
                out["s7"]["bit"] = s.s7.bit
        if s.logix:
            out["logix"] = {"tag": s.logix.tag, "type": s.logix.type}
        return out

    b = config.broker
    extra: dict[str, Any] = {}
    if config.payload != "json":
        extra = {"payload": config.payload, "sparkplug_group": config.sparkplug_group}
    if config.health:
        extra["health"] = True
    return {
        "version": VERSION,
        "site": config.site,
        "gateway": config.gateway,
        **extra,
        "state_dir": config.state_dir,
        "max_inflight": config.max_inflight,
        "broker": {
            "host": b.host,
            "port": b.port,
            "client_id": b.client_id,
            "keepalive_s": b.keepalive_s,
            "qos": b.qos,
            **({"account": b.account} if b.account else {}),
            "tls": None
            if b.tls is None
            else {
                "ca_file": b.tls.ca_file,
                "cert_file": b.tls.cert_file,
                "key_file": b.tls.key_file,
            },
        },
        "sources": [
            {
                "id": s.id,
                "machine": s.machine,
                "protocol": s.protocol,
                "address": s.address,
                "port": s.port,
                "unit_id": s.unit_id,
                "rack": s.rack,
                "slot": s.slot,
                "topic_prefix": s.topic_prefix,
                "signals": [signal(x) for x in s.signals],
            }
            for s in config.sources
        ],
    }
