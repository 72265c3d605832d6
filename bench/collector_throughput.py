"""Collector throughput: samples per second one gateway's collector reads from a PLC and gets
acknowledged by the broker, with TLS (client certificates) and QoS 1, on this machine.

A simulator serves `--signals` values, all read every `--interval` seconds (the offered rate is
signals / interval); the collector publishes to a local Mosquitto; an independent subscriber
(mosquitto_sub, QoS 1) counts what the broker delivered. Reported per protocol: offered rate,
acknowledged rate (broker PUBACKs, from the collector's status), delivered rate (subscriber).

- modbus-tcp: the project's recording simulator, input registers (today's figure);
- opcua: the project's recording simulator (asyncua), one Read service call per poll for all
  the nodes;
- s7: python-snap7's own server, DINTs in one data block;
- ethernet-ip: cpppo's EtherNet/IP server, the signals elements of one DINT array (read as
  ranges of 100 elements);
- ethernet-ip-tags: the same, one DINT tag per signal: one pycomm3 read of all the poll
  group's tags per poll (Multiple Service Packets as large as the Large Forward Open's 4000
  bytes allow: about 220 tags a request, one connection kept open); reported, not held to the
  target: cpppo's server parses every request with its pure-Python automata (about 1 ms of CPU
  per tag whatever the number of tags or the packing), the simulator is the bottleneck (see the
  CPU columns);
- ethernet-ip-tags-N: one DINT tag per signal as above, the signals spread over N controllers
  (`--plcs`, a cpppo server process each, one connection each: a gateway that reads several
  machines). The collector reads each source in its own worker thread, so the controllers are
  read in parallel; held to the target only when the machine has a core per simulator (not on
  a shared 2-core machine, where the simulators' share of the cores is the figure);
- modbus-sparkplug: modbus-tcp published as Sparkplug B DDATA instead of JSON.

What was tried for ethernet-ip-tags (issue 20): the reads are already multi-service (pycomm3
packs about 220 tag reads in one request on a 4000-byte Large Forward Open connection; 20, 100
or 500 tags per poll cost cpppo the same ~0.9-1.0 ms CPU per tag); cpppo under Python 3.12 or
3.13 instead of 3.11 costs the same per tag (~850-900 us); 2 or 4 connections to one cpppo
server cost as much or more per tag (one Python process: ~0.9-1.04 ms); several controllers
(ethernet-ip-tags-N) read in parallel by the collector scale only with free cores, one cpppo
process needs a whole core per ~1,000 tags/s. The collector's own cost per Logix tag sample
(~90 us CPU, TLS and QoS 1 included) is that of the other protocols.

Besides the rates, the CPU time the collector process and the simulator used in the measured
window, per sample (microseconds), and the simulator's share of one core: a simulator near 100 %
of a core is what limits the figure, not the collector. The last two columns turn the costs into
rates: samples per second a whole core would serve at the simulator's cost per sample, and what
one core of the collector would take at its own (on a shared machine the simulator rarely gets
a whole core; these say what the measured costs mean, they are not measured rates).

    .venv/bin/python bench/collector_throughput.py --protocol all --seconds 15

Target (issues 5 and 20): at least 1,000 samples per second per gateway, for each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plantctl.collector import config
from plantctl.lab.mosquitto import LocalBroker, free_port
from plantctl.lab.observer import Subscriber
from plantctl.lab.pki import Authority
from plantctl.lab.plc import PlcSimulator

PROTOCOLS = (
    "modbus-tcp",
    "opcua",
    "s7",
    "ethernet-ip",
    "ethernet-ip-tags",
    "ethernet-ip-tags-N",
    "modbus-sparkplug",
)


def synthetic(
    signals: int,
    interval: float,
    port: int,
    broker_port: int,
    ca: Authority,
    state_dir: Path,
    protocol: str = "modbus-tcp",
    plcs: int = 1,
) -> dict:
    cred = ca.issue("gateway.gw-bench")  # the gateway's broker account
    doc = _modbus(signals, interval, port, broker_port, ca, state_dir, cred)
    src = doc["sources"][0]
    if protocol == "ethernet-ip-tags-N":
        return _split(doc, plcs)
    if protocol == "modbus-sparkplug":
        doc["payload"] = "sparkplug-b"
        doc["sparkplug_group"] = "bench"
    elif protocol == "opcua":
        src["protocol"] = "opcua"
        for i, sig in enumerate(src["signals"]):
            del sig["modbus"]
            sig["opcua"] = {"node_id": f"ns=2;s=Bench.V{i}", "operation": "read"}
    elif protocol == "s7":
        src["protocol"] = "s7"
        for i, sig in enumerate(src["signals"]):
            del sig["modbus"]
            sig["s7"] = {"area": "db", "db": 1, "offset": 4 * i, "type": "dint"}
    elif protocol.startswith("ethernet-ip"):
        src["protocol"] = "ethernet-ip"
        for i, sig in enumerate(src["signals"]):
            del sig["modbus"]
            tag = f"T{i}" if protocol.startswith("ethernet-ip-tags") else f"T[{i}]"
            sig["logix"] = {"tag": tag, "type": "DINT"}
    return doc


def _split(doc: dict, plcs: int) -> dict:
    """ethernet-ip-tags over `plcs` controllers: the signals dealt out in turn, a port each."""
    src = doc["sources"][0]
    for i, sig in enumerate(src["signals"]):
        del sig["modbus"]
        sig["logix"] = {"tag": f"T{i}", "type": "DINT"}
    doc["sources"] = [
        src
        | {
            "id": f"col-bench-{k}",
            "machine": f"bench-plc-{k}",
            "protocol": "ethernet-ip",
            "port": src["port"] if k == 0 else free_port(),
            "topic_prefix": f"bench/cell/bench-plc-{k}",
            "signals": src["signals"][k::plcs],
        }
        for k in range(plcs)
    ]
    return doc


def _modbus(signals, interval, port, broker_port, ca, state_dir, cred) -> dict:
    return {
        "version": 1,
        "site": "bench",
        "gateway": "gw-bench",
        "state_dir": str(state_dir),
        "broker": {"host": "127.0.0.1", "port": broker_port, "client_id": "gw-bench",
                   "account": "gateway.gw-bench",
                   "tls": {"ca_file": str(ca.cert), "cert_file": str(cred.cert),
                           "key_file": str(cred.key)}},
        "sources": [{
            "id": "col-bench", "machine": "bench-plc", "protocol": "modbus-tcp",
            "address": "127.0.0.1", "port": port, "unit_id": 1,
            "topic_prefix": "bench/cell/bench-plc",
            "signals": [{"name": f"r{i}", "data_class": "machine-status", "interval_s": interval,
                         "meaning": "process-value", "modbus": {"function": 4, "address": i}}
                        for i in range(signals)],
        }],
    }  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def simulator(doc: dict, workdir: Path, protocol: str):
    """The PLC the bench reads: the project's simulator, snap7's server or cpppo's. Yields a
    function returning the CPU seconds the simulator has used so far."""
    src = doc["sources"][0]
    if protocol in ("modbus-tcp", "modbus-sparkplug", "opcua"):
        with PlcSimulator(config.parse(doc).sources[0], workdir / "plc") as sim:
            pid = sim._proc.pid
            yield lambda: cpu_seconds(pid)
    elif protocol == "s7":
        from snap7.server import Server
        from snap7.type import SrvArea

        server = Server()
        data = bytearray(4 * len(src["signals"]))
        for i in range(len(src["signals"])):
            data[4 * i : 4 * i + 4] = (1000 + i).to_bytes(4, "big")
        server.register_area(SrvArea.DB, 1, data)
        server.start(tcp_port=src["port"])
        try:
            # snap7's server runs in this process's threads (nothing else here uses the CPU)
            yield time.process_time
        finally:
            server.stop()
            server.destroy()
    else:
        procs = []
        for source in doc["sources"]:  # a cpppo server per controller
            n = len(source["signals"])
            tags = (
                [s["logix"]["tag"] + "=DINT" for s in source["signals"]]
                if "-tags" in protocol
                else [f"T=DINT[{n}]"]
            )
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "cpppo.server.enip",
                        "--address",
                        f"127.0.0.1:{source['port']}",
                        *tags,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        try:
            deadline = time.monotonic() + 20
            for source in doc["sources"]:
                while time.monotonic() < deadline:
                    with (
                        contextlib.suppress(OSError),
                        socket.create_connection(("127.0.0.1", source["port"]), 0.2),
                    ):
                        break
                    time.sleep(0.1)
            yield lambda: sum(cpu_seconds(p.pid) for p in procs)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)


def _delivered(sub: Subscriber, sparkplug: bool) -> int:
    if not sparkplug:
        return len(sub.messages())
    # binary payloads: count the DDATA topics mosquitto_sub printed at the start of a line
    return sum(1 for t, _ in sub.messages() if t.startswith("spBv1.0/bench/DDATA/"))


def measure(
    workdir: Path,
    signals: int = 500,
    interval: float = 0.25,
    seconds: float = 15.0,
    warmup: float = 3.0,
    protocol: str = "modbus-tcp",
    plcs: int = 1,
) -> dict:
    ca = Authority(workdir / "ca")
    server = ca.issue("broker-bench", server=True, ips=("127.0.0.1",))
    sparkplug = protocol == "modbus-sparkplug"
    with LocalBroker(workdir / "broker", ca=ca.cert, cert=server.cert, key=server.key) as broker:
        doc = synthetic(
            signals, interval, free_port(), broker.port, ca, workdir / "state", protocol, plcs
        )
        cfg_path = workdir / "collector.json"
        cfg_path.write_text(json.dumps(doc))
        obs = ca.issue("observer-bench")
        with (
            simulator(doc, workdir, protocol) as simulator_cpu,
            Subscriber(
                workdir / "observer",
                host="127.0.0.1",
                port=broker.port,
                ca=ca.cert,
                cert=obs.cert,
                key=obs.key,
                client_id="observer-bench",
            ) as sub,
        ):
            time.sleep(0.3)
            log = open(workdir / "collector.log", "ab")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "plantctl.collector", "--config", str(cfg_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            status_path = workdir / "state" / "status.json"
            try:
                time.sleep(warmup)
                s0, t0 = _status(status_path), time.monotonic()
                c0, p0 = cpu_seconds(proc.pid), simulator_cpu()
                d0 = _delivered(sub, sparkplug)
                time.sleep(seconds)
                s1, t1 = _status(status_path), time.monotonic()
                c1, p1 = cpu_seconds(proc.pid), simulator_cpu()
                d1 = _delivered(sub, sparkplug)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    elapsed = t1 - t0
    sampled = max(1, s1["sampled"] - s0["sampled"])
    return {
        "protocol": protocol.replace("-N", f"-{plcs}") if protocol.endswith("-N") else protocol,
        "signals": signals,
        "interval_s": interval,
        "offered_per_s": round(signals / interval, 1),
        "sampled_per_s": round((s1["sampled"] - s0["sampled"]) / elapsed, 1),
        "acknowledged_per_s": round((s1["published"] - s0["published"]) / elapsed, 1),
        "delivered_per_s": round((d1 - d0) / elapsed, 1),
        "backlog_end": s1["backlog"],
        "seconds": round(elapsed, 1),
        "collector_cpu_us_per_sample": round(1e6 * (c1 - c0) / sampled, 1),
        "simulator_cpu_us_per_sample": round(1e6 * (p1 - p0) / sampled, 1),
        "simulator_core_share": round((p1 - p0) / elapsed, 2),
        "collector_core_share": round((c1 - c0) / elapsed, 2),
        # what a whole core for the simulator(s) would give at the same cost per sample (a
        # shared machine's figure, normalised), and what one core of the collector could take
        "per_simulator_core_per_s": round(1e6 / max(1.0, 1e6 * (p1 - p0) / sampled), 1),
        "collector_core_ceiling_per_s": round(1e6 / max(1.0, 1e6 * (c1 - c0) / sampled), 1),
    }


def _status(path: Path) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.1)
    raise RuntimeError("the collector wrote no status")


def cpppo_alone(workdir: Path, signals: int = 500, seconds: float = 10.0, plcs: int = 1) -> dict:
    """cpppo's server without the collector, the broker or a schedule: the collector's Logix
    reader (one pycomm3 read of all of a controller's DINT tags, Multiple Service Packets on one
    connection) in a loop as fast as the server answers, one thread per controller (`plcs`
    cpppo servers, the signals dealt out among them). The ceiling of ethernet-ip-tags on this
    machine, and where the CPU goes (servers or client)."""
    import threading

    from plantctl.collector.logix import LogixReader

    protocol = "ethernet-ip-tags-N" if plcs > 1 else "ethernet-ip-tags"
    doc = synthetic(
        signals, 1.0, free_port(), 1, Authority(workdir / "ca"), workdir, protocol, plcs
    )
    counts = [0] * len(doc["sources"])
    stop = threading.Event()

    def loop(k: int, reader: LogixReader, tags: list[str]) -> None:
        while not stop.is_set():
            reader.read(tags)
            counts[k] += len(tags)

    with simulator(doc, workdir, protocol) as server_cpu:
        readers = []
        for src in doc["sources"]:
            tags = [s["logix"]["tag"] for s in src["signals"]]
            reader = LogixReader("127.0.0.1", src["port"], dict.fromkeys(tags, "DINT"), timeout=60)
            reader.read(tags)  # connected, warm
            readers.append((reader, tags))
        t0, c0, s0 = time.monotonic(), time.process_time(), server_cpu()
        threads = [
            threading.Thread(target=loop, args=(k, r, t), daemon=True)
            for k, (r, t) in enumerate(readers)
        ]
        for t in threads:
            t.start()
        time.sleep(seconds)
        values = sum(counts)
        t1, c1, s1 = time.monotonic(), time.process_time(), server_cpu()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        for reader, _ in readers:
            reader.close()
    return {
        "protocol": f"ethernet-ip-tags, cpppo alone, {plcs} server(s)",
        "signals": signals,
        "plcs": plcs,
        "values_per_s": round(values / (t1 - t0), 1),
        "server_cpu_us_per_value": round(1e6 * (s1 - s0) / max(1, values), 1),
        "client_cpu_us_per_value": round(1e6 * (c1 - c0) / max(1, values), 1),
        "server_core_share": round((s1 - s0) / (t1 - t0), 2),
        "seconds": round(t1 - t0, 1),
    }


def table(results: list[dict]) -> str:
    rows = [
        ("protocol", "offered/s", "acked/s", "delivered/s", "collector us/sample",
         "simulator us/sample", "simulator core", "collector core", "/s per sim core",
         "/s per collector core"),
        *[
            (r["protocol"], f"{r['offered_per_s']:.0f}", f"{r['acknowledged_per_s']:.1f}",
             f"{r['delivered_per_s']:.1f}", f"{r['collector_cpu_us_per_sample']:.0f}",
             f"{r['simulator_cpu_us_per_sample']:.0f}", f"{100 * r['simulator_core_share']:.0f} %",
             f"{100 * r['collector_core_share']:.0f} %",
             f"{r['per_simulator_core_per_s']:.0f}", f"{r['collector_core_ceiling_per_s']:.0f}")
            for r in results
        ],
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "all"), default="all")
    parser.add_argument(
        "--plcs", type=int, default=4, help="controllers (cpppo servers) of ethernet-ip-tags-N"
    )
    args = parser.parse_args()
    results = []
    for protocol in PROTOCOLS if args.protocol == "all" else (args.protocol,):
        with tempfile.TemporaryDirectory(prefix="plantctl-bench-") as tmp:
            result = measure(
                Path(tmp),
                args.signals,
                args.interval,
                args.seconds,
                protocol=protocol,
                plcs=args.plcs,
            )
        print(json.dumps(result), flush=True)
        results.append(result)
    print(table(results))
    tags_runs = {r["protocol"] for r in results if r["protocol"].startswith("ethernet-ip-tags")}
    for plcs in sorted({1 if p == "ethernet-ip-tags" else args.plcs for p in tags_runs}):
        with tempfile.TemporaryDirectory(prefix="plantctl-bench-") as tmp:
            alone = cpppo_alone(Path(tmp), args.signals, plcs=plcs)
        print(json.dumps(alone), flush=True)
        print(
            f"cpppo alone, {args.signals} tags on {plcs} server(s) read in a loop (no collector,"
            f" no broker): {alone['values_per_s']:.0f} values/s, servers "
            f"{alone['server_cpu_us_per_value']:.0f} us CPU per value "
            f"({100 * alone['server_core_share']:.0f} % of a core), client "
            f"{alone['client_cpu_us_per_value']:.0f} us; {os.cpu_count()} cores"
        )
    held = [r for r in results if not r["protocol"].startswith("ethernet-ip-tags")]
    return 0 if all(r["acknowledged_per_s"] >= 1000 for r in held) else 1


if __name__ == "__main__":
    sys.exit(main())
