"""PLC simulators: a machine's controller as a server that records requests: pymodbus (Modbus
TCP), asyncua (OPC UA), python-snap7's own server (S7) and cpppo's EtherNet/IP server (Logix
tags), the last two third-party simulators the project did not write.

A simulator serves exactly the signals a collector configuration reads from one machine (a
`config.Source`): Modbus coils, discrete inputs, holding and input registers at the configured
addresses, OPC UA variables with the configured node ids, S7 data blocks, inputs, outputs and
markers at the configured byte offsets, or Logix tags (arrays for `Name[i]` signals). Values
follow a small model so a test can check what arrives (`expected`):

- counters (production counts, energy): start value + 1 per second since the simulator started;
- machine status: cycles through STATUS_CYCLE, one state per STATUS_PERIOD_S seconds;
- everything else: a constant derived from the signal name.

Every request the server receives is appended to a JSON-lines record file before it is handled:
Modbus `{"protocol": "modbus", "function": 3, ...}`, OPC UA `{"protocol": "opcua", "service":
"Read"}`, S7 `{"protocol": "s7", "rosctr": 1, "function": 4}` (each S7 PDU as snap7's server
received it, decoded here) and snap7's own data events (`{"protocol": "s7-event", "code": ...}`),
EtherNet/IP `{"protocol": "enip", "command": 111, "services": [[76, 145]]}` (every encapsulation
request and the CIP services in it, nested Unconnected Send and Multiple Service Packet
included, decoded by a recording proxy in front of cpppo's server). `PlcSimulator.writes()`
lists any request that is not a read, so a test can prove none ever arrived.

Run one with `PlcSimulator(source, record=..., netns=...)` (a child process, in a lab namespace
or on loopback), or directly: `python -m plantctl.lab.plc --spec FILE --bind ADDR --port N
--record FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from plantctl.collector.config import Signal, Source
from plantctl.lab import process
from plantctl.lab.netns import Namespace

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
    return (signal.s7.type if signal.s7 is not None else signal.logix.type).lower()


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


# -- servers (run inside the simulator process) --------------------------------------------------


async def serve_modbus(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator.simutils import SimUtils

    started = time.time()
    tables: dict[int, list[Signal]] = {1: [], 2: [], 3: [], 4: []}
    for sig in source.signals:
        tables[sig.modbus.function].append(sig)

    def size(fc: int) -> int:
        return max([s.modbus.address + s.modbus.count for s in tables[fc]] + [1]) + 1

    # ModbusSequentialDataBlock(1, ...): protocol address 0 is values[0].
    device = ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [False] * _round16(size(1))),
        di=ModbusSequentialDataBlock(1, [False] * _round16(size(2))),
        hr=ModbusSequentialDataBlock(1, [0] * size(3)),
        ir=ModbusSequentialDataBlock(1, [0] * size(4)),
    )

    async def refresh(fc, start_address, address, count, registers, values):
        """Called by pymodbus on every access: write the current model values in place."""
        elapsed = time.time() - started
        table = tables.get(fc, [])
        if fc in (1, 2):
            bits = SimUtils.registersToBits(registers)
            for sig in table:
                for i in range(sig.modbus.count):
                    bit = sig.modbus.address + i - start_address * 16
                    if 0 <= bit < len(bits):
                        bits[bit] = bool(expected(sig, elapsed))
            registers[:] = SimUtils.bitsToRegisters(bits)[: len(registers)]
        elif fc in (3, 4):
            for sig in table:
                raw = Model.of(sig).raw(elapsed)
                words = [
                    (raw >> (16 * (sig.modbus.count - 1 - i))) & 0xFFFF
                    for i in range(sig.modbus.count)
                ]
                offset = sig.modbus.address - start_address
                registers[offset : offset + len(words)] = words
        return None

    device.simdevice.action = refresh
    context = ModbusServerContext(devices={source.unit_id: device}, single=False)

    def trace(sending: bool, pdu):
        if not sending:
            recorder.record(
                protocol="modbus",
                function=pdu.function_code,
                device_id=getattr(pdu, "dev_id", None),
                address=getattr(pdu, "address", None),
                count=getattr(pdu, "count", None),
            )
        return pdu

    server = ModbusTcpServer(context, address=(bind, port), trace_pdu=trace)
    await server.serve_forever(background=True)
    _ready(started, recorder)
    await asyncio.Event().wait()


def _round16(n: int) -> int:
    return ((n + 15) // 16) * 16


async def serve_opcua(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    from asyncua import Server, ua
    from asyncua.server import uaprocessor

    original = uaprocessor.UaProcessor._process_message

    async def recording(self, typeid, requesthdr, seqhdr, body):
        name = ua.ObjectIdNames.get(typeid.Identifier, str(typeid.Identifier))
        recorder.record(
            protocol="opcua", service=name.removesuffix("Request_Encoding_DefaultBinary")
        )
        return await original(self, typeid, requesthdr, seqhdr, body)

    # This process is the simulator and nothing else: recording every service it answers.
    uaprocessor.UaProcessor._process_message = recording

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{bind}:{port}/")
    server.set_server_name(f"plantctl lab PLC {source.machine}")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    needed = max(int(s.opcua.node_id.split(";")[0][3:]) for s in source.signals)
    while len(await server.get_namespace_array()) <= needed:
        await server.register_namespace(
            f"urn:plantctl:lab:{source.machine}:{len(await server.get_namespace_array())}"
        )
    started = time.time()
    nodes = []
    for sig in source.signals:
        vtype = getattr(ua.VariantType, _opcua_type(sig))
        node = await server.nodes.objects.add_variable(
            ua.NodeId.from_string(sig.opcua.node_id),
            f"2:{sig.name}",
            ua.Variant(expected(sig, 0), vtype),
        )
        nodes.append((sig, node, vtype))
    async with server:
        _ready(started, recorder)
        while True:
            elapsed = time.time() - started
            for sig, node, vtype in nodes:
                await node.write_value(ua.Variant(expected(sig, elapsed), vtype))
            await asyncio.sleep(0.25)


_S7_FORMATS = {
    "byte": ">B", "word": ">H", "uint": ">H", "int": ">h", "dword": ">I", "udint": ">I",
    "dint": ">i", "real": ">f", "lreal": ">d",
}  # fmt: skip


def s7_bytes(signal: Signal, value, current: int = 0) -> bytes:
    """The big-endian bytes an S7 CPU holds for `value` (a bool: the byte `current` with the
    signal's bit set or cleared)."""
    kind = signal.s7.type
    if kind == "bool":
        mask = 1 << signal.s7.bit
        return bytes([(current | mask) if value else (current & ~mask & 0xFF)])
    if kind == "char":
        return value.encode("latin-1")
    return struct.pack(_S7_FORMATS[kind], value)


def serve_s7(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    """python-snap7's own server (snap7.server.Server) with the source's areas; every S7 PDU it
    receives recorded (decoded here, before the server handles it), and its data events."""
    from snap7.server import Server
    from snap7.type import SrvArea

    codes = {"db": SrvArea.DB, "inputs": SrvArea.PE, "outputs": SrvArea.PA, "markers": SrvArea.MK}
    sizes: dict[tuple[str, int], int] = {}
    for sig in source.signals:
        key = (sig.s7.area, sig.s7.db if sig.s7.area == "db" else 0)
        sizes[key] = max(sizes.get(key, 0), sig.s7.offset + sig.s7.size + 16)
    buffers = {key: bytearray(size) for key, size in sizes.items()}
    server = Server(log=False)
    for (area, index), buf in buffers.items():
        server.register_area(codes[area], index, buf)
    started = time.time()

    def refresh() -> None:
        elapsed = time.time() - started
        for sig in source.signals:
            buf = buffers[(sig.s7.area, sig.s7.db if sig.s7.area == "db" else 0)]
            at = sig.s7.offset
            data = s7_bytes(sig, expected(sig, elapsed), buf[at])
            buf[at : at + len(data)] = data

    received = server._process_request  # this process is the simulator and nothing else

    def recording(request_data: bytes, client_address):
        pdu = bytes(request_data)
        rosctr = pdu[1] if len(pdu) > 1 else None
        function = pdu[10] if rosctr == 0x01 and len(pdu) > 10 else None
        recorder.record(protocol="s7", rosctr=rosctr, function=function, size=len(pdu))
        refresh()
        return received(request_data, client_address)

    def event(evt) -> None:
        if evt.EvtCode not in _S7_HOUSEKEEPING_EVENTS:
            recorder.record(protocol="s7-event", code=evt.EvtCode, area=evt.EvtParam1)

    server._process_request = recording
    server.set_events_callback(event)
    refresh()
    server.start_to(bind, port)
    try:
        _ready(started, recorder)
        threading.Event().wait()
    finally:
        server.stop()


def _cip(msg: bytes, out: list[list[int]]) -> None:
    """Appends [service, target] of a CIP request: 0x91 for a symbolic (tag) path, else the
    class of a logical path; the requests inside Unconnected Send and Multiple Service Packet."""
    if not msg:
        return
    service = msg[0]
    words = msg[1] if len(msg) > 1 else 0
    path, body = msg[2 : 2 + 2 * words], msg[2 + 2 * words :]
    target = path[1] if path[:1] == b"\x20" and len(path) > 1 else (path[0] if path else -1)
    out.append([service, target])
    if service == 0x52 and path[:2] == b"\x20\x06" and len(body) >= 4:  # Unconnected Send
        size = struct.unpack("<H", body[2:4])[0]
        _cip(body[4 : 4 + size], out)
    elif service == 0x0A and len(body) >= 2:  # Multiple Service Packet
        count = struct.unpack("<H", body[:2])[0]
        offsets = [struct.unpack("<H", body[2 + 2 * i : 4 + 2 * i])[0] for i in range(count)]
        for i, start in enumerate(offsets):
            end = offsets[i + 1] if i + 1 < count else len(body)
            _cip(body[start:end], out)


def enip_requests(stream: bytes) -> tuple[list[tuple[int, list[list[int]]]], bytes]:
    """(encapsulation command, [[service, target], ...]) of every complete EtherNet/IP request
    in `stream`, and the undecoded rest."""
    out = []
    while len(stream) >= 24:
        command, length = struct.unpack("<HH", stream[:4])
        if len(stream) < 24 + length:
            break
        data, stream = stream[24 : 24 + length], stream[24 + length :]
        services: list[list[int]] = []
        if command in ENIP_CIP_COMMANDS and len(data) >= 8:
            count = struct.unpack("<H", data[6:8])[0]
            at = 8
            for _ in range(count):
                kind, size = struct.unpack("<HH", data[at : at + 4])
                item = data[at + 4 : at + 4 + size]
                at += 4 + size
                if kind == 0xB2:  # unconnected data
                    _cip(item, services)
                elif kind == 0xB1:  # connected data: a sequence count first
                    _cip(item[2:], services)
        out.append((command, services))
    return out, stream


def s7_requests(stream: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """(ROSCTR, function) of every S7 PDU in a TPKT/COTP `stream`, and the undecoded rest."""
    out = []
    while len(stream) >= 4:
        size = struct.unpack(">H", stream[2:4])[0]
        if len(stream) < size:
            break
        frame, stream = stream[:size], stream[size:]
        cotp = frame[4:]
        if len(cotp) < 2 or cotp[1] != 0xF0:  # connection request etc.: not an S7 PDU
            continue
        pdu = cotp[1 + cotp[0] :]
        if pdu and pdu[0] == 0x32:
            out.append((pdu[1], pdu[10] if len(pdu) > 10 else -1))
    return out, stream


class RecordingProxy:
    """Listens on `listen`, forwards every connection to `upstream` unchanged and hands what the
    clients sent, decoded by `decoder` (s7_requests, enip_requests), to `record` (one call per
    decoded request)."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], decoder, record):
        self.upstream = upstream
        self.decoder = decoder
        self.record = record
        self._server = socket.create_server(listen)
        self.port = self._server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        pending = b""
        try:
            while data := src.recv(65536):
                if record:
                    pending += data
                    found, pending = self.decoder(pending)
                    for request in found:
                        self.record(request)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stop = True
        self._server.close()


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_enip(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    """cpppo's EtherNet/IP server (cpppo.server.enip.main) with the source's tags, on this
    namespace's loopback; the values come from the model on every read (an Attribute class, as
    cpppo documents for remote data); a recording proxy on `bind`:`port` in front of it decodes
    and records every request."""
    from cpppo.server.enip import device
    from cpppo.server.enip import main as enip_main

    scalars: dict[str, Signal] = {}
    arrays: dict[str, dict[int, Signal]] = {}
    kinds: dict[str, str] = {}
    for sig in source.signals:
        m = _ELEMENT.match(sig.logix.tag)
        if m:
            arrays.setdefault(m["base"], {})[int(m["index"])] = sig
            kinds[m["base"]] = sig.logix.type
        else:
            scalars[sig.logix.tag] = sig
            kinds[sig.logix.tag] = sig.logix.type
    started = time.time()

    def wire(sig: Signal, elapsed: float):
        value = expected(sig, elapsed)
        return int(value) if isinstance(value, bool) else value

    def current(name: str):
        elapsed = time.time() - started
        if name in scalars:
            return wire(scalars[name], elapsed)
        elements = arrays[name]
        zero = 0.0 if kinds[name] in ("REAL", "LREAL") else 0
        return [
            wire(elements[i], elapsed) if i in elements else zero for i in range(max(elements) + 1)
        ]

    class ModelAttribute(device.Attribute):
        @property
        def value(self):
            return current(self.name) if self.name in kinds else self.default

        @value.setter
        def value(self, v) -> None:  # a write: recorded by the proxy, the model stays
            pass

    tags = []
    for name, kind in kinds.items():
        size = max(arrays[name]) + 1 if name in arrays else 0
        tags.append(f"{name}={kind}[{size}]" if size else f"{name}={kind}")
    inner = _free_loopback_port()

    def record(request) -> None:
        command, services = request
        recorder.record(protocol="enip", command=command, services=services)

    def announce() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", inner), 0.2):
                _ready(started, recorder)
                return
            time.sleep(0.1)

    proxy = RecordingProxy((bind, port), ("127.0.0.1", inner), enip_requests, record)
    threading.Thread(target=announce, daemon=True).start()
    try:
        enip_main.main(["--address", f"127.0.0.1:{inner}", *tags], attribute_class=ModelAttribute)
    finally:
        proxy.close()


def _ready(started: float, recorder: Recorder) -> None:
    """Tell the parent we serve ("READY" on stdout); when the value models started (wall clock)
    goes to `<record file>.started`."""
    recorder.started(started)
    print("READY", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plantctl.lab.plc", description="Serve one machine's signals as a PLC."
    )
    parser.add_argument("--spec", required=True, help="JSON: one collector config source")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True, help="JSON-lines file of received requests")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    source = source_from_json(json.loads(Path(args.spec).read_text()))
    recorder = Recorder(Path(args.record))
    logging.getLogger("snap7").setLevel(logging.ERROR)
    logging.getLogger("enip").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        if source.protocol == "s7":
            serve_s7(source, args.bind, args.port, recorder)
        elif source.protocol == "ethernet-ip":
            serve_enip(source, args.bind, args.port, recorder)
        else:
            serve = serve_modbus if source.protocol == "modbus-tcp" else serve_opcua
            asyncio.run(serve(source, args.bind, args.port, recorder))
    return 0


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


# -- the handle a test holds -------------------------------------------------------------------


class PlcSimulator:
    """One simulator process serving `source` on `bind`:`port` (default: the source's own
    address and port), in `netns` if given. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        source: Source,
        workdir: Path,
        *,
        netns: Namespace | None = None,
        bind: str | None = None,
        port: int | None = None,
    ):
        self.source = source
        self.netns = netns
        self.bind = bind or source.address
        self.port = port or source.port
        self.workdir = Path(workdir)
        self.record_path = self.workdir / f"{source.machine}.requests.jsonl"
        self.log_path = self.workdir / f"{source.machine}.log"
        self._proc: subprocess.Popen | None = None
        self.started_at: float | None = None  # wall clock when its value models started

    def start(self, timeout: float = 60) -> PlcSimulator:
        """Launch and wait until it serves."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> PlcSimulator:
        """Start the process (returns at once; several simulators can start in parallel)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec = self.workdir / f"{self.source.machine}.spec.json"
        spec.write_text(json.dumps(source_to_json(self.source)))
        self.record_path.write_text("")
        args = [
            sys.executable,
            "-m",
            "plantctl.lab.plc",
            "--spec",
            str(spec),
            "--bind",
            self.bind,
            "--port",
            str(self.port),
            "--record",
            str(self.record_path),
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 (handed to the child)
        kwargs = dict(
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            self._proc = (
                self.netns.popen(args, **kwargs) if self.netns else subprocess.Popen(args, **kwargs)
            )
        finally:
            log.close()
        return self

    def wait_ready(self, timeout: float = 60) -> PlcSimulator:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"PLC simulator for {self.source.machine} exited "
                    f"{self._proc.returncode}: {self._log_tail()}"
                )
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.2)
            if ready and self._proc.stdout.readline().strip() == b"READY":
                self.started_at = float(Path(f"{self.record_path}.started").read_text())
                return self
        self.stop()
        raise RuntimeError(
            f"PLC simulator for {self.source.machine} not ready after "
            f"{timeout:.0f} s: {self._log_tail()}"
        )

    def stop(self) -> None:
        if self._proc is not None:
            process.terminate(self._proc.pid, timeout=5)
            self._proc.wait(timeout=5)
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> PlcSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-8:])
        except FileNotFoundError:
            return ""

    # -- what it saw ---------------------------------------------------------------------------

    def requests(self) -> list[dict]:
        try:
            lines = self.record_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def writes(self) -> list[dict]:
        """Every received request that is not a read (must stay empty for a collector)."""

        def is_read(r: dict) -> bool:
            if r["protocol"] == "modbus":
                return r["function"] in MODBUS_READ_FUNCTIONS
            if r["protocol"] == "s7":
                return (r["rosctr"], r["function"]) in S7_READ_PDUS
            if r["protocol"] == "s7-event":
                return r["code"] == S7_EVENT_DATA_READ
            if r["protocol"] == "enip":
                if r["command"] in ENIP_SESSION_COMMANDS:
                    return not r["services"]
                return r["command"] in ENIP_CIP_COMMANDS and all(
                    tuple(s) in CIP_READ_SERVICES for s in r["services"]
                )
            return r["protocol"] == "opcua" and r["service"] in OPCUA_READ_SERVICES

        return [r for r in self.requests() if not is_read(r)]

    def expected(self, signal_name: str, at: float | None = None):
        """The value served for a signal at wall-clock time `at` (default now)."""
        sig = next(s for s in self.source.signals if s.name == signal_name)
        elapsed = (at or time.time()) - (self.started_at or time.time())
        return expected(sig, max(0.0, elapsed))


if __name__ == "__main__":
    sys.exit(main())
