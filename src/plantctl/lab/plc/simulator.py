"""One PLC simulator as a child process (`PlcSimulator`), and its command line
(`python -m plantctl.lab.plc`)."""

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
from pathlib import Path

from plantctl.collector.config import Source
from plantctl.lab import process
from plantctl.lab.netns import Namespace
from plantctl.lab.plc.enip import serve_enip
from plantctl.lab.plc.modbus import serve_modbus
from plantctl.lab.plc.model import (
    CIP_READ_SERVICES,
    ENIP_CIP_COMMANDS,
    ENIP_SESSION_COMMANDS,
    MODBUS_READ_FUNCTIONS,
    OPCUA_READ_SERVICES,
    S7_EVENT_DATA_READ,
    S7_READ_PDUS,
    Recorder,
    expected,
    source_from_json,
    source_to_json,
)
from plantctl.lab.plc.opcua import serve_opcua
from plantctl.lab.plc.s7 import serve_s7
from plantctl.lab.plc.scenario import Scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plantctl.lab.plc", description="Serve one machine's signals as a PLC."
    )
    parser.add_argument("--spec", required=True, help="JSON: one collector config source")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True, help="JSON-lines file of received requests")
    parser.add_argument("--scenario", help="JSON: a scripted run (lab/plc/scenario.py; Modbus)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    source = source_from_json(json.loads(Path(args.spec).read_text()))
    scenario = (
        Scenario.from_json(json.loads(Path(args.scenario).read_text())) if args.scenario else None
    )
    if scenario is not None and source.protocol != "modbus-tcp":
        parser.error("--scenario is implemented for Modbus TCP simulators only")
    recorder = Recorder(Path(args.record))
    logging.getLogger("snap7").setLevel(logging.ERROR)
    logging.getLogger("enip").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        if source.protocol == "s7":
            serve_s7(source, args.bind, args.port, recorder)
        elif source.protocol == "ethernet-ip":
            serve_enip(source, args.bind, args.port, recorder)
        elif source.protocol == "modbus-tcp":
            asyncio.run(serve_modbus(source, args.bind, args.port, recorder, scenario))
        else:
            asyncio.run(serve_opcua(source, args.bind, args.port, recorder))
    return 0


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
        scenario: Scenario | None = None,
    ):
        self.source = source
        self.scenario = scenario
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
        if self.scenario is not None:
            script = self.workdir / f"{self.source.machine}.scenario.json"
            script.write_text(json.dumps(self.scenario.to_json()))
            args += ["--scenario", str(script)]
        log = open(self.log_path, "ab")  # noqa: SIM115 (handed to the child)
        kwargs: dict = dict(
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
        assert self._proc is not None and self._proc.stdout is not None, "launch() first"
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
