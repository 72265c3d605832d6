"""Fixtures for the collector's tests: real PLC simulators on loopback, a real Mosquitto with TLS
client certificates from a throwaway CA, and an independent subscriber (mosquitto_sub)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plantctl.collector import config
from plantctl.lab.mosquitto import LocalBroker, free_port
from plantctl.lab.observer import Subscriber
from plantctl.lab.pki import Authority
from plantctl.lab.plc import PlcSimulator
from plantctl.model.loader import load
from plantctl.plant import broker_access, collector_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def inventory():
    return load(ROOT / "inventory")


@pytest.fixture(scope="session")
def authority(tmp_path_factory) -> Authority:
    return Authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def broker(tmp_path, authority):
    server = authority.issue("broker-local", server=True, ips=("127.0.0.1",))
    with LocalBroker(tmp_path / "broker", ca=authority.cert, cert=server.cert, key=server.key) as b:
        yield b


@pytest.fixture
def subscriber(tmp_path, authority, broker):
    cred = authority.issue("observer")
    sub = Subscriber(
        tmp_path / "observer",
        host="127.0.0.1",
        port=broker.port,
        ca=authority.cert,
        cert=cred.cert,
        key=cred.key,
        client_id="observer",
    )
    with sub:
        time.sleep(0.3)  # subscribed before anything is published
        yield sub


@pytest.fixture
def loopback_config(inventory, tmp_path, authority, broker):
    """loopback_config(gateway, interval=None): the gateway's real configuration from the
    inventory, pointed at loopback (each machine on its own free port of 127.0.0.1, the local
    broker, a private state directory); `interval` overrides every signal's interval."""

    def make(gateway: str, interval: float | None = None) -> dict:
        return _loopback_config(inventory, gateway, tmp_path, authority, broker, interval)

    return make


def _loopback_config(
    inventory,
    gateway: str,
    tmp_path: Path,
    authority: Authority,
    broker,
    interval: float | None = None,
) -> dict:
    cred = authority.issue(broker_access.gateway_account(gateway))  # CN = its broker account
    doc = copy.deepcopy(
        collector_config.render(
            inventory,
            gateway,
            tls={
                "ca_file": str(authority.cert),
                "cert_file": str(cred.cert),
                "key_file": str(cred.key),
            },
            state_dir=str(tmp_path / f"{gateway}-state"),
        )
    )
    doc["broker"]["host"] = "127.0.0.1"
    doc["broker"]["port"] = broker.port
    for src in doc["sources"]:
        src["address"] = "127.0.0.1"
        src["port"] = free_port()
        if interval is not None:
            for sig in src["signals"]:
                sig["interval_s"] = interval
    return doc


class CollectorProcess:
    def __init__(self, doc: dict, workdir: Path):
        self.doc = doc
        self.config_path = workdir / f"{doc['gateway']}.json"
        self.config_path.write_text(json.dumps(doc, indent=1))
        self.log_path = workdir / f"{doc['gateway']}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> CollectorProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plantctl.collector", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        code = self.proc.wait(timeout=20)
        self.proc = None
        return code

    def status(self) -> dict:
        path = Path(self.doc["state_dir"]) / "status.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def plcs(tmp_path):
    """Start simulators for a configuration's sources: plcs(doc) -> {machine: PlcSimulator}."""
    started: list[PlcSimulator] = []

    def start(doc: dict) -> dict[str, PlcSimulator]:
        cfg = config.parse(doc)
        sims = {}
        for src in cfg.sources:
            sim = PlcSimulator(src, tmp_path / "plc")
            started.append(sim)
            sims[src.machine] = sim.start()
        return sims

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def collector(tmp_path):
    running: list[CollectorProcess] = []

    def start(doc: dict) -> CollectorProcess:
        proc = CollectorProcess(doc, tmp_path).start()
        running.append(proc)
        return proc

    yield start
    for proc in running:
        proc.stop()
