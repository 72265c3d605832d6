"""Mosquitto for the lab: a TLS-only configuration, and a broker process for tests on loopback.

`tls_config` is the listener a lab broker machine or a local test broker uses: TLS with client
certificates from the lab authority (the certificate's common name is the MQTT user name),
persistence so a subscriber's session and queued messages survive a broker restart.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

from plantctl.lab import process


def tls_config(
    *,
    port: int,
    bind: str | None,
    ca: Path,
    cert: Path,
    key: Path,
    persistence_dir: Path | None = None,
) -> str:
    lines = [
        "per_listener_settings false",
        "allow_anonymous false",
        f"listener {port}" + (f" {bind}" if bind else ""),
        f"cafile {ca}",
        f"certfile {cert}",
        f"keyfile {key}",
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",
        "max_queued_messages 100000",
        "max_inflight_messages 100",
    ]
    if persistence_dir is not None:
        lines += [
            "persistence true",
            f"persistence_location {persistence_dir}/",
            "autosave_interval 1",
        ]
    return "\n".join(lines) + "\n"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalBroker:
    """A mosquitto process on loopback (unit tests); stop() and start() again keep its data."""

    def __init__(
        self,
        workdir: Path,
        *,
        ca: Path,
        cert: Path,
        key: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
    ):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        (self.dir / "data").mkdir(exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            tls_config(
                port=self.port,
                bind=host,
                ca=ca,
                cert=cert,
                key=key,
                persistence_dir=self.dir / "data",
            )
            # a test broker reads its files from the test's private (root)
            # directory: it keeps the user it was started as
            + f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            + f"log_dest file {self.dir / 'mosquitto.log'}\n"
            + "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> LocalBroker:
        self._proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.dir / "mosquitto.log"
                raise RuntimeError(
                    f"mosquitto exited {self._proc.returncode}: "
                    + (log.read_text(errors="replace") if log.exists() else "")
                )
            with socket.socket() as s:
                if s.connect_ex((self.host, self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self._proc is not None:
            process.terminate(self._proc.pid, timeout=10)
            self._proc.wait(timeout=5)
            self._proc = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
