"""The collector's configuration: what to read, how often, where to publish.

One JSON file per gateway (rendered from the inventory by plantctl.collector.render, written by
the `collector` Ansible role). Loading it is where the read-only rule is first enforced: a signal
that asks for any Modbus function code other than 1-4, or any OPC UA service other than read or
subscribe, makes the whole configuration invalid. Nothing is read from a machine then.
"""

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
PROTOCOLS = ("modbus-tcp", "opcua")
_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_TOPIC_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
_NODE_ID = re.compile(r"^ns=[0-9]+;[isgb]=.+$")


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
class Signal:
    name: str
    data_class: str
    interval_s: float
    meaning: str | None = None
    unit: str | None = None
    modbus: ModbusPoint | None = None
    opcua: OpcUaPoint | None = None


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

    def topic(self, signal: Signal) -> str:
        return f"{self.topic_prefix}/{signal.data_class}/{signal.name}"


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


@dataclass(frozen=True)
class Config:
    site: str
    gateway: str
    broker: Broker
    sources: tuple[Source, ...]
    state_dir: str
    max_inflight: int = 200
    source_file: str = field(default="<memory>", compare=False)

    def signal_count(self) -> int:
        return sum(len(s.signals) for s in self.sources)


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
        if value is not None and not _ID.match(value):
            problems.append(f"{name}: {value!r} is not an id")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return Config(site, gateway, broker, tuple(sources), state_dir, max_inflight, where)


def _broker(raw: Any, need, problems: list[str]) -> Broker | None:
    if not isinstance(raw, dict):
        problems.append("broker: missing or not an object")
        return None
    host = need(raw, "host", str, "broker")
    port = need(raw, "port", int, "broker")
    client_id = need(raw, "client_id", str, "broker")
    keepalive = need(raw, "keepalive_s", int, "broker", required=False) or 30
    qos = need(raw, "qos", int, "broker", required=False)
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
    return Broker(host, port, client_id, tls, keepalive, 1)


def _source(raw: Any, at: str, need, problems: list[str]) -> Source | None:
    ident = need(raw, "id", str, at)
    machine = need(raw, "machine", str, at)
    protocol = need(raw, "protocol", str, at)
    address = need(raw, "address", str, at)
    port = need(raw, "port", int, at)
    unit_id = need(raw, "unit_id", int, at, required=False)
    prefix = need(raw, "topic_prefix", str, at)
    if protocol is not None and protocol not in PROTOCOLS:
        problems.append(f"{at}.protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if prefix is not None and not all(_TOPIC_PART.match(p) for p in prefix.split("/")):
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
        if value is not None and not _TOPIC_PART.match(value):
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
    if protocol == "modbus-tcp" and (modbus is None or "opcua" in raw):
        if "modbus" not in raw:
            problems.append(f"{label}: a modbus-tcp source needs a 'modbus' point per signal")
        elif "opcua" in raw:
            problems.append(f"{label}: a modbus-tcp source cannot have an 'opcua' point")
        return None
    if protocol == "opcua" and (opcua is None or "modbus" in raw):
        if "opcua" not in raw:
            problems.append(f"{label}: an opcua source needs an 'opcua' point per signal")
        elif "modbus" in raw:
            problems.append(f"{label}: an opcua source cannot have a 'modbus' point")
        return None
    if None in (name, data_class, interval):
        return None
    return Signal(name, data_class, interval, meaning, unit, modbus, opcua)


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
        return out

    b = config.broker
    return {
        "version": VERSION,
        "site": config.site,
        "gateway": config.gateway,
        "state_dir": config.state_dir,
        "max_inflight": config.max_inflight,
        "broker": {
            "host": b.host,
            "port": b.port,
            "client_id": b.client_id,
            "keepalive_s": b.keepalive_s,
            "qos": b.qos,
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
                "topic_prefix": s.topic_prefix,
                "signals": [signal(x) for x in s.signals],
            }
            for s in config.sources
        ],
    }
