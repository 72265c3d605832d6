"""Sparkplug B out: the gateway is a Sparkplug edge node, each (machine, data class) a device.

Topics are `spBv1.0/<group>/<message type>/<edge node>[/<device>]` with the site's group id
(`sparkplug_group`, the site id when absent), the gateway id as edge node and
`<machine>.<data class>` as device: the data class stays a topic level, so the broker can give a
role exactly the classes it may view (broker_access). Metrics are named `<signal>` with an alias
(the signal's position in the configuration, from 1), their datatype from the signal's point:

- NBIRTH (seq 0) with `bdSeq` and `Node Control/Rebirth`, then one DBIRTH per device with a
  metric definition for every signal (name, alias, datatype, `engUnit` property; value null until
  read), each time the connection is made;
- DDATA with the next `seq` (0-255, wrapping) and the samples by alias and timestamp;
- NDEATH with the connection's `bdSeq` as the MQTT will;
- an NCMD `Node Control/Rebirth` = true makes the node publish NBIRTH and every DBIRTH again.
  No other command is acted upon: the collector never writes to a machine.

The payload is the Sparkplug B protobuf message (`org.eclipse.tahu.protobuf.Payload`), encoded
here by hand (varints and length-delimited fields only); the tests decode it with the protobuf
package from the schema itself.
"""

from __future__ import annotations

import json
import math
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from plantctl.collector.config import Config, Signal, Source

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"

# Sparkplug B datatypes
INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 = 2, 3, 4, 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING = 9, 10, 11, 12

_S7 = {
    "bool": BOOLEAN, "byte": UINT8, "char": STRING, "word": UINT16, "int": INT16,
    "uint": UINT16, "dword": UINT32, "dint": INT32, "udint": UINT32, "real": FLOAT,
    "lreal": DOUBLE,
}  # fmt: skip
_LOGIX = {
    "BOOL": BOOLEAN, "SINT": INT16, "INT": INT16, "DINT": INT32, "LINT": INT64,
    "USINT": UINT8, "UINT": UINT16, "UDINT": UINT32, "REAL": FLOAT, "LREAL": DOUBLE,
}  # fmt: skip


def datatype(sig: Signal) -> int:
    if sig.s7:
        return _S7[sig.s7.type]
    if sig.logix:
        return _LOGIX[sig.logix.type]
    if sig.modbus:
        if sig.modbus.function in (1, 2):
            return BOOLEAN if sig.modbus.count == 1 else STRING
        if sig.modbus.scale is not None:
            return DOUBLE
        return UINT16 if sig.modbus.count == 1 else UINT64
    return DOUBLE  # OPC UA: numbers; anything else goes as null


# protobuf wire format ------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _uint(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _value(kind: int, value: Any) -> bytes | None:
    """The metric's value field, or None when the value does not fit the datatype."""
    try:
        if kind == BOOLEAN:
            return _uint(14, 1 if value else 0)
        if kind == STRING:
            text = value if isinstance(value, str) else json.dumps(value)
            return _bytes(15, text.encode())
        if kind == FLOAT:
            return _key(12, 5) + struct.pack("<f", float(value))
        if kind == DOUBLE:
            number = float(value)
            return _key(13, 1) + struct.pack("<d", number) if math.isfinite(number) else None
        number = int(value)
        if kind in (INT64, UINT64):
            return _uint(11, number & 0xFFFFFFFFFFFFFFFF)
        return _uint(10, number & 0xFFFFFFFF)
    except (TypeError, ValueError, OverflowError):
        return None


def metric(
    *,
    name: str | None = None,
    alias: int | None = None,
    ts: float | None = None,
    kind: int,
    value: Any = None,
    unit: str | None = None,
) -> bytes:
    out = b""
    if name is not None:
        out += _bytes(1, name.encode())
    if alias is not None:
        out += _uint(2, alias)
    if ts is not None:
        out += _uint(3, int(ts * 1000))
    out += _uint(4, kind)
    encoded = None if value is None else _value(kind, value)
    if encoded is None:
        out += _uint(7, 1)  # is_null
    if unit:
        # PropertySet {keys: ["engUnit"], values: [PropertyValue {type: String, string_value}]}
        prop = _uint(1, STRING) + _bytes(8, unit.encode())
        out += _bytes(9, _bytes(1, b"engUnit") + _bytes(2, prop))
    if encoded is not None:
        out += encoded
    return out


def payload(metrics: list[bytes], seq: int | None, ts: float | None = None) -> bytes:
    out = _uint(1, int((ts if ts is not None else time.time()) * 1000))
    for m in metrics:
        out += _bytes(2, m)
    if seq is not None:
        out += _uint(3, seq)
    return out


# the edge node -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    id: str  # <machine>.<data class>
    source: Source
    signals: tuple[tuple[int, Signal], ...]  # (alias, signal)


def device_id(machine: str, data_class: str) -> str:
    return f"{machine}.{data_class}"


class EdgeNode:
    """The Sparkplug state of one gateway: topics, births, sequence numbers, the will."""

    def __init__(self, config: Config):
        self.group = config.sparkplug_group
        self.node = config.gateway
        self.devices: dict[str, Device] = {}
        self._by_topic: dict[str, tuple[str, int, Signal]] = {}
        alias = 0
        grouped: dict[str, list[tuple[int, Signal]]] = {}
        owner: dict[str, Source] = {}
        for src in config.sources:
            for sig in src.signals:
                alias += 1
                dev = device_id(src.machine, sig.data_class)
                grouped.setdefault(dev, []).append((alias, sig))
                owner[dev] = src
                self._by_topic[src.topic(sig)] = (dev, alias, sig)
        for dev, sigs in grouped.items():
            self.devices[dev] = Device(dev, owner[dev], tuple(sigs))
        self.bd_seq = 0
        self._seq = -1
        self._lock = threading.Lock()

    def topic(self, kind: str, device: str | None = None) -> str:
        base = f"{NAMESPACE}/{self.group}/{kind}/{self.node}"
        return f"{base}/{device}" if device else base

    def next_seq(self) -> int:
        with self._lock:
            self._seq = (self._seq + 1) % 256
            return self._seq

    def death(self) -> tuple[str, bytes]:
        """NDEATH for the current bdSeq (the MQTT will of this connection)."""
        return self.topic("NDEATH"), payload(
            [metric(name="bdSeq", kind=INT64, value=self.bd_seq)], None
        )

    def births(self) -> list[tuple[str, bytes]]:
        """NBIRTH (seq 0) and every DBIRTH, in order."""
        with self._lock:
            self._seq = -1
        node = payload(
            [
                metric(name="bdSeq", kind=INT64, value=self.bd_seq),
                metric(name=REBIRTH, kind=BOOLEAN, value=False),
            ],
            self.next_seq(),
        )
        out = [(self.topic("NBIRTH"), node)]
        for dev in self.devices.values():
            metrics = [
                metric(name=sig.name, alias=alias, kind=datatype(sig), unit=sig.unit)
                for alias, sig in dev.signals
            ]
            out.append((self.topic("DBIRTH", dev.id), payload(metrics, self.next_seq())))
        return out

    def data(self, topic: str, body: bytes) -> tuple[str, bytes] | None:
        """The DDATA message for one spooled sample (JSON topic and payload), or None when the
        topic is not one of this configuration's signals."""
        found = self._by_topic.get(topic)
        if found is None:
            return None
        dev, alias, sig = found
        fields = json.loads(body)
        m = metric(alias=alias, ts=fields.get("ts"), kind=datatype(sig), value=fields.get("value"))
        return self.topic("DDATA", dev), payload([m], self.next_seq(), fields.get("ts"))


def wants_rebirth(data: bytes) -> bool:
    """Whether an NCMD payload sets `Node Control/Rebirth` to true (a minimal decoder of the
    Payload message: field 2 metrics, in them field 1 name and field 14 boolean_value)."""
    for field, value in _fields(data):
        if field != 2 or not isinstance(value, bytes):
            continue
        parts = dict(_fields(value))
        if parts.get(1) == REBIRTH.encode() and parts.get(14) == 1:
            return True
    return False


def _fields(data: bytes):
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        field, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = _read_varint(data, at)
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        elif wire == 2:
            size, at = _read_varint(data, at)
            value, at = data[at : at + size], at + size
        else:
            return
        yield field, value


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, at
        shift += 7
