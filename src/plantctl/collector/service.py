"""The collector service: samplers for every source, the spool, the publisher, a status file.

With `health: true` (rendered when the inventory has the health data class) its health
(sources, last good read per signal, read errors, backlog, its clock) is published retained on
`<site>/_health/<gateway>` every HEALTH_EVERY_S (publisher.py; the will says offline).

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
HEALTH_EVERY_S = 10.0
# A source is failing when it has read nothing for this many of its longest intervals (the
# glossary's offline device: three intervals without an answer).
FAILING_AFTER_INTERVALS = 3
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
        self.health_every_s = HEALTH_EVERY_S
        self.last_read: dict[str, dict[str, float]] = {}  # source id -> topic -> ts
        self._health_at = 0.0

    def _sink(self, items) -> None:
        # Sources run (and call this) only once run() has made the spool and the publisher.
        cast(Spool, self._spool).add(items)
        cast(Publisher, self.publisher).wake()

    def _sink_of(self, source_id: str):
        reads = self.last_read.setdefault(source_id, {})

        def sink(items) -> None:
            for topic, fields in items:
                reads[topic] = fields["ts"]
            self._sink(items)

        return sink

    def health(self, now: float | None = None) -> dict:
        """What the health topic says: per source its machine, samples, read errors, whether
        it is failing and the last good read of each signal; the backlog and this clock."""
        now = time.time() if now is None else now
        pub = self.publisher
        sources = {}
        for r in self.runners:
            reads = self.last_read.get(r.source.id, {})
            last = max(reads.values(), default=None)
            longest = max((s.interval_s for s in r.source.signals), default=1.0)
            since = last if last is not None else self.started
            sources[r.source.id] = {
                "machine": r.source.machine,
                "samples": r.samples,
                "read_errors": r.read_errors,
                "last_read": last,
                "failing": now - since > FAILING_AFTER_INTERVALS * longest,
                "signals": {t: reads.get(t) for t in (r.source.topic(s) for s in r.source.signals)},
            }
        return {
            "gateway": self.config.gateway,
            "site": self.config.site,
            "ts": round(now, 3),
            "started": round(self.started, 3),
            "sources": sources,
            "backlog": self._spool.backlog() if self._spool else 0,
            "published": pub.published if pub else 0,
            "broker_error": pub.last_error if pub else None,
        }

    def publish_health(self) -> None:
        if self.publisher is not None:
            self.publisher.publish_health(self.health())
            self._health_at = time.monotonic()

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
            self.config.broker,
            self.spool_path,
            self.config.max_inflight,
            node=node,
            health_topic=self.config.health_topic if self.config.health else None,
        )
        self.runners = [
            runner_for(s, self._sink_of(s.id), self.config.gateway) for s in self.config.sources
        ]
        if self.config.health:
            self.publisher.publish_health(self.health())  # the first connection's message
        self.publisher.start()
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
                if self.config.health and time.monotonic() - self._health_at >= self.health_every_s:
                    self.publish_health()
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
