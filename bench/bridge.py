"""Site brokers bridged to the enterprise broker, on this machine (root): latency and throughput.

The group of the sample plant (both sites' brokers and the enterprise broker as Mosquitto
processes in network namespaces with the rendered configurations and the lab CA, a lakeside
gateway added: plantctl.lab.bridged_sites), every gateway publishing through the collector's
publisher code (SQLite spool, QoS 1, TLS client certificates). Measured at the enterprise
broker by an independent subscriber (mosquitto_sub, QoS 1, arrival time per message):

- steady: every gateway at --rate samples/s for --seconds; latency from the sample's time to
  its arrival at the enterprise broker, p50/p99 (collector -> site broker -> bridge ->
  enterprise broker -> subscriber);
- outage: the same with both WAN legs down for --outage seconds: loss (must be 0), QoS 1
  duplicates, how late the outage's samples arrive;
- drain: the WAN down, one gateway per site spools --burst samples of forwarded classes, which
  wait in the site brokers' bridge queues; the WAN comes back: samples per second from the
  first to the last arrival (the bridges' throughput with a full queue), and the time from
  restore to the last;
- connected burst: the WAN up, the same bursts published at once: arrivals per second at the
  enterprise broker (here the Python publishers compete with the brokers for the cores).

    .venv/bin/python bench/bridge.py [--rate 20] [--seconds 20] [--outage 30] [--burst 20000]

Results: build/bench-bridge.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from plantctl.lab.bridged_sites import BridgedGroup, Sent, data_class, group_inventory, judge
from plantctl.lab.run import Lab
from plantctl.model.loader import load
from plantctl.plant import broker_access

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench-bridge.json"


def _gateways(inv, group: BridgedGroup) -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    for site in sorted(group.sites):
        for acc in broker_access.build(inv, site).accounts:
            if acc.kind == "gateway":
                found.append((site, acc.subject, acc.write))
    return found


def _wait_bridges(group: BridgedGroup, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(f"as {s.bridge.account} " in group.enterprise.log() for s in group.sites.values()):
            return
        time.sleep(0.2)
    raise RuntimeError("bridges did not connect")


def _wait_all(observer, sent, forwarded, outage=None, timeout=90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        report = judge(sent, observer.messages(), forwarded, outage)
        if report["missing"] == 0 or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def _fixed_rate(group, inv, rate, seconds, outage_s=None) -> dict:
    forwarded = {site: s.bridge.classes for site, s in group.sites.items()}
    observer = group.observe("enterprise", "lab.observer")
    time.sleep(1)
    running = [
        (site, gw, topics, group.publish(site, gw, list(topics), rate=rate))
        for site, gw, topics in _gateways(inv, group)
    ]
    outage = None
    if outage_s is None:
        time.sleep(seconds)
    else:
        time.sleep(seconds / 2)
        cut = group.cut()
        time.sleep(outage_s)
        outage = (cut, group.restore())
        time.sleep(seconds / 2)
    sent = []
    for site, gw, topics, pub in running:
        result = pub.stop()
        sent.append(Sent(gw, site, tuple(topics), result["taken"]))
    report = _wait_all(observer, sent, forwarded, outage)
    time.sleep(2)
    report = judge(sent, observer.messages(), forwarded, outage)
    observer.stop()
    report["gateways"] = len(running)
    report["offered_per_s"] = rate * len(running)
    return report


def _burst(group, inv, count, cut: bool) -> dict:
    """One gateway per site spools `count` samples of forwarded classes only."""
    forwarded = {site: s.bridge.classes for site, s in group.sites.items()}
    observer = group.observe("enterprise", "lab.observer")
    time.sleep(1)
    chosen = {}
    for site, gw, topics in _gateways(inv, group):
        mine = tuple(t for t in topics if data_class(t) in forwarded[site])
        if mine and site not in chosen:
            chosen[site] = (gw, mine)
    if cut:
        group.cut()
    start = time.time()
    pubs = [
        (site, gw, topics, group.publish(site, gw, list(topics), count=count))
        for site, (gw, topics) in sorted(chosen.items())
    ]
    sent = []
    for site, gw, topics, pub in pubs:
        assert pub.proc.stdout is not None
        while (line := pub.proc.stdout.readline()) and line.strip() != "SPOOLED":
            pass
        result = pub.stop()  # drains the spool into the site broker
        assert result["backlog"] == 0, result
        sent.append(Sent(gw, f"{site}", topics, result["taken"]))
    spooled = time.time()
    restored = group.restore() if cut else None
    report = _wait_all(observer, sent, forwarded)
    arrivals = sorted(at for at, _, _ in observer.messages())
    observer.stop()
    first, last = arrivals[0], arrivals[-1]
    total = report["unique"]
    out = {
        "samples": total,
        "missing": report["missing"],
        "duplicates": report["duplicates"],
        "first_to_last_s": round(last - first, 2),
        "per_s": round(total / max(last - first, 1e-6)),
        "publishers_to_site_brokers_s": round(spooled - start, 2),
    }
    if restored is not None:
        out["restore_to_first_s"] = round(first - restored, 2)
        out["restore_to_last_s"] = round(last - restored, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="samples/s per gateway")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--outage", type=float, default=30.0)
    ap.add_argument("--burst", type=int, default=20000, help="samples per site")
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/bridge.py needs root (network namespaces)", file=sys.stderr)
        return 2
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "load_1m_at_start": round(os.getloadavg()[0], 2)},
        "brokers": "Mosquitto processes in network namespaces (lab/bridged_sites.py)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        inv = load(group_inventory(ROOT / "inventory", Path(tmp) / "inventory"), cache=False)
        phases = (
            ("steady", lambda g: _fixed_rate(g, inv, args.rate, args.seconds)),
            ("outage", lambda g: _fixed_rate(g, inv, args.rate, args.seconds, args.outage)),
            ("drain", lambda g: _burst(g, inv, args.burst, cut=True)),
            ("connected_burst", lambda g: _burst(g, inv, args.burst, cut=False)),
        )
        for name, phase in phases:
            with Lab() as lab:  # a fresh group per phase: empty queues and spools
                group = BridgedGroup(lab, inv).build().start()
                _wait_bridges(group)
                results["queues"] = {
                    s: g.bridge.max_queued_messages for s, g in sorted(group.sites.items())
                }
                results[name] = phase(group)
                print(name, json.dumps(results[name]), flush=True)
    results["machine"]["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.output}")
    lost = results["outage"]["missing"] + results["drain"]["missing"]
    return 0 if lost == 0 and results["outage"]["leaked"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
