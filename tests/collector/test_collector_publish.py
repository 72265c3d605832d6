"""The collector against real simulators and a real broker on loopback: values arrive on the
right topics, only reads reach the machines, and a broker outage loses nothing."""

from __future__ import annotations

import time

import pytest

from plantctl.collector import config
from plantctl.lab.plc import Model

pytestmark = pytest.mark.slow


def test_values_arrive_on_the_right_topics_and_machines_see_only_reads(
    loopback_config, subscriber, plcs, collector
):
    docs = [loopback_config(gw) for gw in ("gw-rw-01", "gw-rw-02")]
    sims = {}
    for doc in docs:
        sims.update(plcs(doc))
    procs = [collector(doc) for doc in docs]
    expected_topics = {
        src.topic(sig): (src, sig)
        for doc in docs
        for src in config.parse(doc).sources
        for sig in src.signals
    }
    # Every signal published at least once (the slowest interval in the sample plant is 30 s).
    msgs = subscriber.wait_for(
        lambda m: expected_topics.keys() <= {t for t, _ in m},
        timeout=45,
        what="a sample of every signal",
    )
    assert {t for t, _ in msgs} == set(expected_topics), "no topic outside the configuration"
    assert "ridgeway/cell-molding/rw-press-01/machine-status/status" in expected_topics
    assert "ridgeway/cell-machining/rw-cnc-01/production-counts/part-count" in expected_topics

    for topic, payload in msgs:
        src, sig = expected_topics[topic]
        sim = sims[src.machine]
        assert payload["gateway"] in ("gw-rw-01", "gw-rw-02")
        if sig.unit:
            assert payload["unit"] == sig.unit
        kind = Model.of(sig).kind
        if kind == "constant":
            assert payload["value"] == sim.expected(sig.name), topic
        elif kind == "counter":
            assert abs(payload["value"] - sim.expected(sig.name, payload["ts"])) <= 2, topic
        else:
            assert payload["value"] in (1, 2, 3, True), topic

    for proc in procs:
        assert proc.stop() == 0, proc.log()
    for machine, sim in sims.items():
        assert sim.requests(), f"{machine} was never read"
        assert sim.writes() == [], f"{machine} received a write"
        if sim.source.protocol == "modbus-tcp":
            assert {r["function"] for r in sim.requests()} <= {1, 2, 3, 4}
        else:
            services = {r["service"] for r in sim.requests()}
            assert "Read" in services or "Publish" in services
            assert not services & {"Write", "Call", "HistoryUpdate", "AddNodes", "DeleteNodes"}


def test_broker_outage_loses_no_sample(loopback_config, broker, subscriber, plcs, collector):
    doc = loopback_config("gw-rw-02", interval=0.1)
    plcs(doc)
    proc = collector(doc)
    subscriber.wait_for(lambda m: len(m) >= 20, timeout=20)
    broker.stop()
    outage_started = time.time()
    time.sleep(5)
    during = proc.status()
    assert during["backlog"] > 50, f"samples are not buffered while the broker is away: {during}"
    broker.start()
    # Every sample taken, including those of the outage, arrives.
    time.sleep(3)
    last = proc.status()["last_seq"]
    msgs = subscriber.wait_for(
        lambda m: {p["seq"] for _, p in m} >= set(range(1, last + 1)),
        timeout=30,
        what=f"samples 1..{last}",
    )
    assert proc.stop() == 0, proc.log()
    seqs = {p["seq"] for _, p in msgs}
    taken_during = [p for _, p in msgs if outage_started < p["ts"] < outage_started + 5]
    assert len(taken_during) > 50
    assert set(range(1, last + 1)) <= seqs, "lost samples"
