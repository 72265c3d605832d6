"""Collector throughput: samples per second one gateway's collector reads from a PLC and gets
acknowledged by the broker, with TLS (client certificates) and QoS 1, on this machine.

A Modbus simulator serves `--signals` input registers, all read every `--interval` seconds (the
offered rate is signals / interval); the collector publishes to a local Mosquitto; an independent
subscriber (mosquitto_sub, QoS 1) counts what the broker delivered. Reported: offered rate,
acknowledged rate (broker PUBACKs, from the collector's status), delivered rate (subscriber).

    .venv/bin/python bench/collector_throughput.py --signals 500 --interval 0.25 --seconds 15

Target (issue 5): at least 1,000 samples per second per gateway.
"""

from __future__ import annotations

import argparse
import json
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


def synthetic(
    signals: int, interval: float, port: int, broker_port: int, ca: Authority, state_dir: Path
) -> dict:
    cred = ca.issue("gw-bench")
    return {
        "version": 1,
        "site": "bench",
        "gateway": "gw-bench",
        "state_dir": str(state_dir),
        "broker": {"host": "127.0.0.1", "port": broker_port, "client_id": "gw-bench",
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


def measure(
    workdir: Path,
    signals: int = 500,
    interval: float = 0.25,
    seconds: float = 15.0,
    warmup: float = 3.0,
) -> dict:
    ca = Authority(workdir / "ca")
    server = ca.issue("broker-bench", server=True, ips=("127.0.0.1",))
    with LocalBroker(workdir / "broker", ca=ca.cert, cert=server.cert, key=server.key) as broker:
        doc = synthetic(signals, interval, free_port(), broker.port, ca, workdir / "state")
        cfg_path = workdir / "collector.json"
        cfg_path.write_text(json.dumps(doc))
        obs = ca.issue("observer-bench")
        with (
            PlcSimulator(config.parse(doc).sources[0], workdir / "plc"),
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
                s0, d0, t0 = _status(status_path), len(sub.messages()), time.monotonic()
                time.sleep(seconds)
                s1, d1, t1 = _status(status_path), len(sub.messages()), time.monotonic()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    elapsed = t1 - t0
    return {
        "signals": signals,
        "interval_s": interval,
        "offered_per_s": round(signals / interval, 1),
        "sampled_per_s": round((s1["sampled"] - s0["sampled"]) / elapsed, 1),
        "acknowledged_per_s": round((s1["published"] - s0["published"]) / elapsed, 1),
        "delivered_per_s": round((d1 - d0) / elapsed, 1),
        "backlog_end": s1["backlog"],
        "seconds": round(elapsed, 1),
    }


def _status(path: Path) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.1)
    raise RuntimeError("the collector wrote no status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plantctl-bench-") as tmp:
        result = measure(Path(tmp), args.signals, args.interval, args.seconds)
    print(json.dumps(result, indent=2))
    return 0 if result["acknowledged_per_s"] >= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
