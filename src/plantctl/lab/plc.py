"""PLC simulators: a machine's controller as a pymodbus or asyncua server that records requests.

A simulator serves exactly the signals a collector configuration reads from one machine (a
`config.Source`): Modbus coils, discrete inputs, holding and input registers at the configured
addresses, or OPC UA variables with the configured node ids. Values follow a small model so a test
can check what arrives (`expected`):

- counters (production counts, energy): start value + 1 per second since the simulator started;
- machine status: cycles through STATUS_CYCLE, one state per STATUS_PERIOD_S seconds;
- everything else: a constant derived from the signal name.

Every request the server receives is appended to a JSON-lines record file before it is handled:
Modbus `{"protocol": "modbus", "function": 3, ...}`, OPC UA `{"protocol": "opcua", "service":
"Read"}`. `PlcSimulator.writes()` lists any request that is not a read, so a test can prove none
ever arrived.

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
import select
import subprocess
import sys
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
    if signal.modbus is not None and signal.modbus.function in (1, 2):
        raw = bool(raw % 2) if model.kind == "constant" else raw != 0
    return published_value(signal, raw)


def _opcua_type(signal: Signal) -> str:
    if signal.meaning in COUNTER_MEANINGS or signal.meaning in STATUS_MEANINGS:
        return "UInt32"
    return "Double"


class Recorder:
    """Appends one JSON line per received request (flushed at once: a test reads it live)."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = open(path, "a", buffering=1)  # noqa: SIM115 (lives as long as the server)

    def started(self, when: float) -> None:
        Path(f"{self.path}.started").write_text(f"{when:.3f}\n")

    def record(self, **entry) -> None:
        entry["t"] = round(time.time(), 3)
        self._fh.write(json.dumps(entry, sort_keys=True) + "\n")


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
    serve = serve_modbus if source.protocol == "modbus-tcp" else serve_opcua
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(source, args.bind, args.port, recorder))
    return 0


def source_from_json(doc: dict) -> Source:
    from plantctl.collector.config import ModbusPoint, OpcUaPoint

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
        return out

    return {
        "id": source.id,
        "machine": source.machine,
        "protocol": source.protocol,
        "address": source.address,
        "port": source.port,
        "unit_id": source.unit_id,
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
            return r["protocol"] == "opcua" and r["service"] in OPCUA_READ_SERVICES

        return [r for r in self.requests() if not is_read(r)]

    def expected(self, signal_name: str, at: float | None = None):
        """The value served for a signal at wall-clock time `at` (default now)."""
        sig = next(s for s in self.source.signals if s.name == signal_name)
        elapsed = (at or time.time()) - (self.started_at or time.time())
        return expected(sig, max(0.0, elapsed))


if __name__ == "__main__":
    sys.exit(main())
