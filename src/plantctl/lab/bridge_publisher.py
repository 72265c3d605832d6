"""A gateway's publisher at a fixed rate, for the bridge lab (lab/bridged_sites.py, bench/).

It is the collector's own publishing path (collector/spool.py, collector/publisher.py: an SQLite
spool, QoS 1, a PUBACK removes a sample) fed by a clock instead of a PLC: every 1/rate seconds
one sample on the next of its topics, `{"seq": <spool sequence>, "ts": <time taken>, "gw": ...}`.
`--count` takes that many samples as fast as the spool accepts them instead (a burst).

    python -m plantctl.lab.bridge_publisher --host H --port P --ca F --cert F --key F \
        --account gateway.gw-1 --spool F --topic T [--topic T ...] (--rate R | --count N)

SIGTERM stops the sampling; what is spooled is then published (up to --drain-s) and one JSON
line is printed: {"taken", "published", "backlog", "connects"}.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from plantctl.collector.config import Broker, Tls
from plantctl.collector.publisher import Publisher
from plantctl.collector.spool import Spool


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plantctl.lab.bridge_publisher")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--spool", required=True, type=Path)
    ap.add_argument("--topic", action="append", required=True)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rate", type=float, help="samples per second")
    mode.add_argument("--count", type=int, help="take this many samples at once")
    ap.add_argument("--drain-s", type=float, default=120.0)
    args = ap.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    broker = Broker(
        args.host,
        args.port,
        args.account,
        Tls(args.ca, args.cert, args.key),
        keepalive_s=10,
        account=args.account,
    )
    spool = Spool(args.spool)
    publisher = Publisher(broker, args.spool)
    publisher.start()
    gw = args.account.split(".", 1)[1]
    taken = 0
    if args.count is not None:
        batch = 500
        while taken < args.count:
            n = min(batch, args.count - taken)
            now = time.time()
            spool.add(
                (args.topic[(taken + i) % len(args.topic)], {"ts": now, "gw": gw}) for i in range(n)
            )
            taken += n
            publisher.wake()
        print("SPOOLED", flush=True)
        stop.wait()
    else:
        period = 1.0 / args.rate
        start = time.monotonic()
        while not stop.is_set():
            spool.add([(args.topic[taken % len(args.topic)], {"ts": time.time(), "gw": gw})])
            taken += 1
            publisher.wake()
            stop.wait(max(0.0, start + taken * period - time.monotonic()))
    deadline = time.monotonic() + args.drain_s
    while (spool.backlog() or publisher.inflight()) and time.monotonic() < deadline:
        time.sleep(0.1)
    backlog = spool.backlog()
    publisher.stop(drain_s=2)
    spool.close()
    print(
        json.dumps(
            {
                "taken": taken,
                "published": publisher.published,
                "backlog": backlog,
                "connects": publisher.connects,
            }
        ),
        flush=True,
    )
    return 0 if backlog == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
