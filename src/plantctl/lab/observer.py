"""An independent MQTT observer for tests: `mosquitto_sub` with a persistent session, QoS 1.

It is deliberately not plantctl code (the collector publishes with paho): what it prints is what
the broker delivered. Its session survives a broker restart (clean session off, broker
persistence on), so messages published while it is reconnecting are queued for it, not lost.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from plantctl.lab import process
from plantctl.lab.netns import Namespace


class Subscriber:
    def __init__(
        self,
        workdir: Path,
        *,
        host: str,
        port: int,
        ca: Path,
        cert: Path,
        key: Path,
        client_id: str,
        topic: str = "#",
        netns: Namespace | None = None,
    ):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.out = self.dir / f"{client_id}.messages"
        self.args = [
            "mosquitto_sub",
            "-h",
            host,
            "-p",
            str(port),
            "--cafile",
            str(ca),
            "--cert",
            str(cert),
            "--key",
            str(key),
            "-t",
            topic,
            "-q",
            "1",
            "-c",
            "-i",
            client_id,
            "-v",
        ]
        self.netns = netns
        self._proc: subprocess.Popen | None = None

    def start(self) -> Subscriber:
        out = open(self.out, "ab")  # noqa: SIM115 (handed to the child)
        try:
            args = ["stdbuf", "-oL", *self.args]
            kwargs: dict = dict(
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._proc = (
                self.netns.popen(args, **kwargs) if self.netns else subprocess.Popen(args, **kwargs)
            )
        finally:
            out.close()
        return self

    def stop(self) -> None:
        if self._proc is not None:
            process.terminate(self._proc.pid, timeout=5)
            self._proc.wait(timeout=5)
            self._proc = None

    def __enter__(self) -> Subscriber:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def messages(self) -> list[tuple[str, dict | str]]:
        """(topic, payload) for every message so far; JSON payloads decoded."""
        found: list[tuple[str, dict | str]] = []
        try:
            lines = self.out.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return found
        for line in lines:
            topic, _, payload = line.partition(" ")
            if not payload:
                continue
            try:
                found.append((topic, json.loads(payload)))
            except json.JSONDecodeError:
                found.append((topic, payload))
        return found

    def wait_for(
        self, predicate: Callable[[list], bool], timeout: float = 30, what: str = "messages"
    ) -> list:
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if predicate(msgs):
                return msgs
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what} did not arrive within {timeout:.0f} s ({len(msgs)} messages seen)"
                )
            time.sleep(0.2)
