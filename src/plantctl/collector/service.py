"""The collector service: samplers for every source, the spool, the publisher, a status file.

Runs until asked to stop (SIGTERM from systemd). A ReadOnlyViolation anywhere stops the whole
service with an error: a collector that tried to write is broken and must not keep running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import cast

from plantctl.collector.config import Config
from plantctl.collector.publisher import Publisher
from plantctl.collector.sampling import SourceRunner, runner_for
from plantctl.collector.sparkplug import EdgeNode
from plantctl.collector.spool import Spool

log = logging.getLogger(__name__)
STATUS_EVERY_S = 2.0
# How long stopping may take before the collector gives up on a source and exits anyway
# (systemd's TimeoutStopSec for the unit is longer). Samples are already in the spool.
STOP_GRACE_S = 5.0


class Collector:
    def __init__(self, config: Config):
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.spool_path = self.state_dir / "spool.sqlite"
        self.status_path = self.state_dir / "status.json"
        self.runners: list[SourceRunner] = []
        self.publisher: Publisher | None = None
        self._spool: Spool | None = None
        self.started = time.time()

    def _sink(self, items) -> None:
        # Sources run (and call this) only once run() has made the spool and the publisher.
        cast(Spool, self._spool).add(items)
        cast(Publisher, self.publisher).wake()

    def status(self) -> dict:
        pub = self.publisher
        return {
            "gateway": self.config.gateway,
            "started": round(self.started, 3),
            "updated": round(time.time(), 3),
            "connected": bool(pub and pub.connected),
            "sampled": sum(r.samples for r in self.runners),
            "published": pub.published if pub else 0,
            "inflight": pub.inflight() if pub else 0,
            "backlog": self._spool.backlog() if self._spool else 0,
            "last_seq": self._spool.last_seq() if self._spool else 0,
            "read_errors": {r.source.id: r.read_errors for r in self.runners},
            "broker_error": pub.last_error if pub else None,
        }

    def write_status(self) -> None:
        # Replaced whole; the collector imports nothing of the controller (core/atomic.py).
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1, sort_keys=True))
        os.replace(tmp, self.status_path)

    async def run(self, stop: asyncio.Event) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._spool = Spool(self.spool_path)
        backlog = self._spool.backlog()
        if backlog:
            log.info("%d samples from an earlier run are waiting to be published", backlog)
        node = EdgeNode(self.config) if self.config.payload == "sparkplug-b" else None
        self.publisher = Publisher(
            self.config.broker, self.spool_path, self.config.max_inflight, node=node
        )
        self.publisher.start()
        self.runners = [runner_for(s, self._sink, self.config.gateway) for s in self.config.sources]
        tasks = [asyncio.create_task(r.run(), name=r.source.id) for r in self.runners]
        stopper = asyncio.create_task(stop.wait(), name="stop")
        log.info(
            "collecting %d signals from %d machines for %s",
            self.config.signal_count(),
            len(self.runners),
            self.config.gateway,
        )
        try:
            while True:
                done, _ = await asyncio.wait(
                    [*tasks, stopper], timeout=STATUS_EVERY_S, return_when=asyncio.FIRST_COMPLETED
                )
                self.write_status()
                if stopper in done:
                    break
                for task in done:
                    exc = task.exception()
                    raise RuntimeError(f"source {task.get_name()} stopped") from exc
        finally:
            await _cancel([*tasks, stopper])
            self.publisher.stop()
            self.write_status()
            self._spool.close()


async def _cancel(tasks: list[asyncio.Task]) -> None:
    """Cancel until every task has ended, at most STOP_GRACE_S. Once is not always enough:
    a cancellation that arrives as a library's own wait_for() finishes is lost (asyncua's
    requests on Python 3.11), and that source would then run on."""
    pending = {t for t in tasks if not t.done()}
    deadline = asyncio.get_running_loop().time() + STOP_GRACE_S
    while pending and asyncio.get_running_loop().time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    if pending:
        log.warning("stopping without waiting for %s", ", ".join(t.get_name() for t in pending))
