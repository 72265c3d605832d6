"""What a simulated PLC serves and records: the value model (`expected`), the verifier's own lists
of read services, the request record (JSON lines), sources to and from JSON."""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from plantctl.collector.config import LogixPoint, ModbusPoint, OpcUaPoint, S7Point, Signal, Source

# The verifier's own lists (deliberately not the collector's allowlists: an independent check).
MODBUS_READ_FUNCTIONS = frozenset({1, 2, 3, 4})


COUNTER_MEANINGS = frozenset({"production-count", "energy-use"})


STATUS_MEANINGS = frozenset({"machine-status"})


STATUS_CYCLE = (1, 1, 2, 1, 3)  # running, running, idle, running, down


STATUS_PERIOD_S = 2.0


# OPC UA services a read-only client may use (session and subscription housekeeping included).
OPCUA_READ_SERVICES = frozenset({
    "CreateSession", "ActivateSession", "CloseSession", "GetEndpoints", "FindServers",
    "Read", "Browse", "BrowseNext", "TranslateBrowsePathsToNodeIds", "RegisterNodes",
    "UnregisterNodes", "CreateSubscription", "ModifySubscription", "DeleteSubscriptions",
    "SetPublishingMode", "CreateMonitoredItems", "ModifyMonitoredItems", "DeleteMonitoredItems",
    "SetMonitoringMode", "Publish", "Republish",
})  # fmt: skip


# S7 PDUs a read-only client may send: (ROSCTR job, setup communication | read var).
S7_READ_PDUS = frozenset({(0x01, 0xF0), (0x01, 0x04)})


S7_EVENT_DATA_READ = 0x00020000  # snap7's EVC_DATA_READ


_S7_HOUSEKEEPING_EVENTS = frozenset({0x01, 0x02, 0x04, 0x08, 0x20, 0x40, 0x80})  # (not recorded)


# EtherNet/IP encapsulation commands without CIP: ListServices, ListIdentity, ListInterfaces,
# RegisterSession, UnRegisterSession; SendRRData and SendUnitData carry CIP.
ENIP_SESSION_COMMANDS = frozenset({0x04, 0x63, 0x64, 0x65, 0x66})


ENIP_CIP_COMMANDS = frozenset({0x6F, 0x70})


# CIP services a read-only client may send, as (service, target): 0x91 a tag (symbolic path),
# 0x02 the message router, 0x06 the connection manager, 0x01 the identity, 0x64 the program
# name object.
CIP_READ_SERVICES = frozenset({
    (0x4C, 0x91),  # Read Tag
    (0x52, 0x91),  # Read Tag Fragmented
    (0x0A, 0x02),  # Multiple Service Packet
    (0x54, 0x06),  # Forward Open
    (0x5B, 0x06),  # Large Forward Open
    (0x4E, 0x06),  # Forward Close
    (0x52, 0x06),  # Unconnected Send (its inner service is checked too)
    (0x01, 0x01),  # Get_Attributes_All of the identity
    (0x01, 0x64),  # Get_Attributes_All of the program name object
})  # fmt: skip


_ELEMENT = re.compile(r"^(?P<base>[A-Za-z_][A-Za-z0-9_]*)\[(?P<index>[0-9]+)\]$")


def modbus_point(sig: Signal) -> ModbusPoint:
    """The signal's Modbus point (a Modbus source's signals all have one: config checks it)."""
    return cast(ModbusPoint, sig.modbus)


def opcua_point(sig: Signal) -> OpcUaPoint:
    return cast(OpcUaPoint, sig.opcua)


def s7_point(sig: Signal) -> S7Point:
    return cast(S7Point, sig.s7)


def logix_point(sig: Signal) -> LogixPoint:
    return cast(LogixPoint, sig.logix)


@dataclass(frozen=True)
class Model:
    """How a simulated signal's value moves."""

    kind: str  # counter | status | constant
    start: int

    @classmethod
    def of(cls, signal: Signal) -> Model:
        seed = zlib.crc32(signal.name.encode())
        if signal.meaning in COUNTER_MEANINGS:
            return cls("counter", 1000 + seed % 1000)
        if signal.meaning in STATUS_MEANINGS:
            return cls("status", 0)
        return cls("constant", 100 + seed % 900)

    def raw(self, elapsed: float) -> int:
        if self.kind == "counter":
            return self.start + int(elapsed)
        if self.kind == "status":
            return STATUS_CYCLE[int(elapsed / STATUS_PERIOD_S) % len(STATUS_CYCLE)]
        return self.start


def published_value(signal: Signal, raw: int | bool):
    """What the collector publishes for a raw value (Modbus scale applied, bits as booleans)."""
    if signal.modbus is not None:
        if signal.modbus.function in (1, 2):
            return bool(raw)
        if signal.modbus.scale is not None:
            return round(raw * signal.modbus.scale, 6)
        return raw
    if _opcua_type(signal) == "Double":
        return raw / 10
    return raw


def expected(signal: Signal, elapsed: float):
    """The value the simulator serves for `signal` `elapsed` seconds after it started."""
    model = Model.of(signal)
    raw = model.raw(elapsed)
    if signal.s7 is not None or signal.logix is not None:
        return _typed(signal, model, raw)
    if signal.modbus is not None and signal.modbus.function in (1, 2):
        raw = bool(raw % 2) if model.kind == "constant" else raw != 0
    return published_value(signal, raw)


def _point_type(signal: Signal) -> str:
    return (signal.s7.type if signal.s7 is not None else logix_point(signal).type).lower()


def _typed(signal: Signal, model: Model, raw: int):
    """An S7 or Logix value: bools from the model (constants odd or even), reals raw / 4 (exact
    in 32 bits), one-byte integers below 100, a char a capital letter."""
    kind = _point_type(signal)
    if kind == "bool":
        return bool(raw % 2) if model.kind == "constant" else raw != 0
    if kind in ("real", "lreal"):
        return raw / 4
    if kind in ("byte", "sint", "usint"):
        return raw % 100
    if kind == "char":
        return chr(65 + raw % 26)
    return raw


def _opcua_type(signal: Signal) -> str:
    if signal.meaning in COUNTER_MEANINGS or signal.meaning in STATUS_MEANINGS:
        return "UInt32"
    return "Double"


class Recorder:
    """Appends one JSON line per received request (flushed at once: a test reads it live)."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = open(path, "a", buffering=1)  # noqa: SIM115 (lives as long as the server)
        self._lock = threading.Lock()  # the S7 and EtherNet/IP servers record from threads

    def started(self, when: float) -> None:
        Path(f"{self.path}.started").write_text(f"{when:.3f}\n")

    def record(self, **entry) -> None:
        entry["t"] = round(time.time(), 3)
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self._fh.write(line)


def _ready(started: float, recorder: Recorder) -> None:
    """Tell the parent we serve ("READY" on stdout); when the value models started (wall clock)
    goes to `<record file>.started`."""
    recorder.started(started)
    print("READY", flush=True)


def source_from_json(doc: dict) -> Source:
    from plantctl.collector.config import LogixPoint, ModbusPoint, OpcUaPoint, S7Point

    sigs = []
    for s in doc["signals"]:
        sigs.append(
            Signal(
                s["name"],
                s["data_class"],
                float(s["interval_s"]),
                s.get("meaning"),
                s.get("unit"),
                ModbusPoint(**s["modbus"]) if s.get("modbus") else None,
                OpcUaPoint(**s["opcua"]) if s.get("opcua") else None,
                S7Point(**s["s7"]) if s.get("s7") else None,
                LogixPoint(**s["logix"]) if s.get("logix") else None,
            )
        )
    return Source(
        doc["id"],
        doc["machine"],
        doc["protocol"],
        doc["address"],
        doc["port"],
        doc["topic_prefix"],
        tuple(sigs),
        doc.get("unit_id", 1),
        doc.get("rack", 0),
        doc.get("slot", 1),
    )


def source_to_json(source: Source) -> dict:
    def sig(s: Signal) -> dict:
        out = {
            "name": s.name,
            "data_class": s.data_class,
            "interval_s": s.interval_s,
            "meaning": s.meaning,
            "unit": s.unit,
        }
        if s.modbus:
            out["modbus"] = {
                "function": s.modbus.function,
                "address": s.modbus.address,
                "count": s.modbus.count,
                "scale": s.modbus.scale,
            }
        if s.opcua:
            out["opcua"] = {"node_id": s.opcua.node_id, "operation": s.opcua.operation}
        if s.s7:
            out["s7"] = {
                "area": s.s7.area,
                "offset": s.s7.offset,
                "type": s.s7.type,
                "db": s.s7.db,
                "bit": s.s7.bit,
            }
        if s.logix:
            out["logix"] = {"tag": s.logix.tag, "type": s.logix.type}
        return out

    return {
        "id": source.id,
        "machine": source.machine,
        "protocol": source.protocol,
        "address": source.address,
        "port": source.port,
        "unit_id": source.unit_id,
        "rack": source.rack,
        "slot": source.slot,
        "topic_prefix": source.topic_prefix,
        "signals": [sig(s) for s in source.signals],
    }
