"""A scripted shift (issue 18 item 4): PLC simulators play a shift in which a press stops for 12
minutes, the compressor's pressure sensor freezes and a gateway loses its broker for a while;
the real collectors read them and publish to a real Mosquitto over TLS, a snapshot listens at
the broker with a role's certificate, and the review computed from that snapshot reports
exactly those three events and the downtime within a minute of the script.

Time runs on a compressed clock, honestly scaled: SCALE plant seconds per real second from an
origin every component shares. The simulators' scripts are in plant seconds
(lab/plc/scenario.py); the collectors read at the inventory's declared intervals divided by
SCALE (a status every 30 plant s is read every 0.5 real s); the snapshot's listener maps every
time it sees (receipt times, the samples' and the health's own) to plant time (LabClock). So
an hour of the plant takes a minute, the inventory's intervals, the staleness rules and the
review's minutes are all in plant time, and the snapshot says `clock: x60`. What does not scale
is the MQTT machinery (keep-alive, reconnect back-off of 1-5 real s): an outage therefore ends
up to 5 plant minutes after the link is back, which the test allows for.

The downtime is measured from machine-status samples every 30 plant s: each edge of the stop is
known to a sample, so the figure is within 30 s of the script plus the clock's jitter (0.1 s
real = 6 plant s); the test asks for 1 minute.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from plantctl.collector import config
from plantctl.lab.mosquitto import free_port
from plantctl.lab.plc import PlcSimulator, Scenario
from plantctl.model.loader import load
from plantctl.plant import collector_config
from plantctl.reports import plant_health
from plantctl.reports.governance import plant as plant_sections

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCALE = 60.0
SHIFT_S = 3600  # plant seconds: one real minute
STOP = (600, 1320)  # rw-press-01 stopped from minute 10 to minute 22
FREEZE_AT = 1500  # rw-comp-01's pressure stuck from minute 25
OUTAGE = (2100, 2700)  # gw-rw-03's link to the broker cut from minute 35 to 45
# Declared intervals of the lab plant (plant seconds): the sample's 1 s status would be read 60
# times a real second at this scale.
INTERVALS = {"status": 30, "alarm": 30, "running": 30, "shot-count": 60, "cycle-time": 30,
             "barrel-temp": 30, "energy": 60, "pressure": 30}  # fmt: skip
PRESSURE = "ridgeway/cell-molding/rw-comp-01/energy/pressure"
SCRIPTS = {
    "rw-press-01": {
        "status": {"value": 1, "events": [{"from_s": STOP[0], "to_s": STOP[1], "value": 3}]},
        "alarm": {"value": 0},
        "shot-count": {"counter": {"start": 5000, "per_s": 0.05},
                       "hold": [{"from_s": STOP[0], "to_s": STOP[1]}]},
        "cycle-time": {"wave": {"mean": 300, "amplitude": 20, "period_s": 900}},
        "barrel-temp": {"wave": {"mean": 2200, "amplitude": 50, "period_s": 600}},
    },
    "rw-press-02": {
        "status": {"value": 1},
        "shot-count": {"counter": {"start": 8000, "per_s": 0.04}},
    },
    "rw-comp-01": {
        "running": {"value": 1},
        "energy": {"counter": {"start": 100000, "per_s": 0.01}},
        "pressure": {"wave": {"mean": 700, "amplitude": 40, "period_s": 600},
                     "freeze": {"from_s": FREEZE_AT}},
    },
}  # fmt: skip
HEALTH_CLASS = """  - id: gateway-health
    name: Gateway health
    owner: maint-ridgeway
    viewers: [maintenance-technician, network-admin]
    editors: []
    exporters: []
    retention: {days: 90, min_days: 30, max_days: 365}
    official_reports: false
    correction_owner: maint-ridgeway
    dashboard_change_approver: maint-ridgeway
"""


class Link:
    """A TCP link from a gateway to its broker that can be cut (open connections closed, new
    ones refused at once) and restored: the gateway loses its broker, the broker its client
    without a DISCONNECT (so it publishes the gateway's will)."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._cut = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _close(self, *socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
            with self._lock:
                self._open.discard(s)

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            socks = list(self._open)
        self._close(*socks)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self.cut()
        self._server.close()


def _lab_inventory(tmp_path: Path) -> Path:
    """The sample inventory with the gateway-health data class, its Modbus collectors only
    (their simulators take scripts) and the lab plant's intervals."""
    inv = tmp_path / "repo" / "inventory"
    shutil.copytree(ROOT / "inventory", inv)
    classes = inv / "data_classes.yaml"
    classes.write_text(classes.read_text() + HEALTH_CLASS)
    path = inv / "sites" / "ridgeway" / "collectors.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["collectors"] = [c for c in doc["collectors"] if c["protocol"] == "modbus-tcp"]
    for col in doc["collectors"]:
        for sig in col["signals"]:
            sig["interval_s"] = INTERVALS[sig["name"]]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return inv


def _collector_doc(inv, gateway: str, tmp_path: Path, authority, broker_port: int) -> dict:
    cred = authority.issue(gateway)
    doc = collector_config.render(
        inv,
        gateway,
        tls={"ca_file": str(authority.cert), "cert_file": str(cred.cert),
             "key_file": str(cred.key)},
        state_dir=str(tmp_path / f"{gateway}-state"),
    )  # fmt: skip
    assert doc["health"] is True
    doc["broker"]["host"] = "127.0.0.1"
    doc["broker"]["port"] = broker_port
    for src in doc["sources"]:
        src["address"] = "127.0.0.1"
        src["port"] = free_port()
        for sig in src["signals"]:
            sig["interval_s"] = sig["interval_s"] / SCALE  # the lab clock: see the module
    return doc


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    *args], check=True, capture_output=True)  # fmt: skip


def _wait(what: str, cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


def test_a_scripted_shift_is_reported_as_it_happened(
    tmp_path, authority, broker, collector, plantctl
):
    inv_path = _lab_inventory(tmp_path)
    inv = load(inv_path)
    # The shift starts once simulators and collectors are up (each imports pymodbus and paho:
    # seconds on a loaded machine); the simulators need the origin when they start.
    origin = time.time() + 20
    clock = plant_health.LabClock(origin, SCALE)
    link = Link(broker.port)
    docs = {
        "gw-rw-02": _collector_doc(inv, "gw-rw-02", tmp_path, authority, broker.port),
        "gw-rw-03": _collector_doc(inv, "gw-rw-03", tmp_path, authority, link.port),
    }
    sims = []
    role = authority.issue("role.maintenance-technician")
    listener = plant_health.Listener(
        "127.0.0.1", broker.port, "ridgeway", ca=authority.cert, cert=role.cert, key=role.key,
        topics=plant_health.signal_topics(inv, "ridgeway"), clock=clock,
    )  # fmt: skip
    try:
        for doc in docs.values():
            for src in config.parse(doc).sources:
                script = Scenario(origin, SCALE, SCRIPTS[src.machine])
                sims.append(PlcSimulator(src, tmp_path / "plc", scenario=script).launch())
        for sim in sims:
            sim.wait_ready()
        listener.start()
        for doc in docs.values():
            collector(doc)

        def online(gw: str) -> bool:
            msg = listener.observed().messages.get(config.health_topic("ridgeway", gw))
            return bool(msg and msg.get("state") == "online")

        _wait("health from both gateways", lambda: online("gw-rw-02") and online("gw-rw-03"), 30)
        late = time.time() - origin
        assert late < 0, f"simulators and collectors up {late:.1f} s after the shift's start"

        def at(plant_s: float) -> None:
            time.sleep(max(0.0, origin + plant_s / SCALE - time.time()))

        at(OUTAGE[0])
        link.cut()
        at(OUTAGE[1])
        link.restore()
        at(SHIFT_S)
        # the gateway's spool has gone out once it says so in a health after the link is back
        restored = clock.plant(origin + OUTAGE[1] / SCALE)

        def drained() -> bool:
            msg = listener.observed().messages.get(config.health_topic("ridgeway", "gw-rw-03"))
            return bool(msg and msg["ts"] > restored and msg.get("backlog") == 0)

        _wait("an empty spool on gw-rw-03", drained, 25)
    finally:
        listener.stop()
        link.close()
    end = time.time()
    for sim in sims:
        assert sim.writes() == []
        sim.stop()
    observed = listener.observed()
    now = datetime.fromtimestamp(clock.plant(end), UTC)
    snap = plant_health.snapshot(
        inv, "ridgeway", observed.messages, now, None, observed, (origin, clock.plant(end))
    )
    snap_path = tmp_path / "snap.json"
    snap_path.write_text(json.dumps(snap))  # kept with the test's files when it fails
    assert snap["clock"] == {"origin": origin, "scale": SCALE}

    # exactly the three scripted events, nothing else (no gap, stale, slow or bad value)
    events = snap["events"]
    assert sorted((e["kind"], e["subject"]) for e in events) == [
        ("broker-outage", "gw-rw-03"), ("frozen", PRESSURE), ("machine-stop", "rw-press-01")
    ], json.dumps(events, indent=1)  # fmt: skip
    minute = {e["kind"]: e for e in events}
    stop, frozen, outage = minute["machine-stop"], minute["frozen"], minute["broker-outage"]
    assert abs(stop["from"] - origin - STOP[0]) <= 60 and abs(stop["to"] - origin - STOP[1]) <= 60
    assert abs(stop["minutes"] - 12) <= 1 and stop["state"] == "stopped"
    assert abs(frozen["from"] - origin - FREEZE_AT) <= 60
    assert abs(outage["from"] - origin - OUTAGE[0]) <= 60 and outage["reason"] == "will"
    # back once the link is: paho retries every 1-5 real s, i.e. up to 5 plant minutes
    assert OUTAGE[1] - 60 <= outage["to"] - origin <= OUTAGE[1] + 6 * 60
    summary = snap["summary"]
    assert summary["gateways_online"] == 2 and summary["signals_stale"] == 0, summary
    assert summary["sources_failing"] == summary["sources_slow"] == summary["backlog"] == 0
    assert summary["signals_inaccurate"] == 1  # the frozen pressure
    assert summary["broker_outages"] == 1

    # the downtime figure from the machine-status samples: 12 minutes, all of it rw-press-01's
    down = snap["goals"]["rw-downtime"]["measured"]
    assert abs(down["value"] - 12) <= 1, down
    assert abs(down["per_machine"]["rw-press-01"] - 12) <= 1
    assert down["per_machine"]["rw-press-02"] == down["per_machine"]["rw-comp-01"] == 0
    assert down["machines_without_data"] == ["rw-cnc-01", "rw-cnc-02"]  # no collector here
    # parts: the presses count while they run (rw-press-01 not during its stop)
    parts = snap["goals"]["rw-production-reporting"]["measured"]["per_machine"]
    shift_min = (clock.plant(end) - origin) / 60
    assert parts["rw-press-02"] == pytest.approx(0.04 * 60 * shift_min, rel=0.1)
    assert parts["rw-press-01"] == pytest.approx(0.05 * 60 * (shift_min - 12), rel=0.1)

    # the review from that snapshot: events, accuracy, progress per machine, charts
    repo = inv_path.parent
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "lab plant")
    out = tmp_path / "review"
    run = plantctl("review", "--since", "2026-01-01", "--plant", str(snap_path),
                   "--output", str(out), cwd=repo)  # fmt: skip
    assert run.code == 0, run.err
    md = (out / "review.md").read_text()
    assert "## Events of ridgeway in the period (lab clock x60)" in md
    for kind, subject in (("machine-stop", "rw-press-01"), ("broker-outage", "gw-rw-03"),
                          ("frozen", PRESSURE)):  # fmt: skip
        assert f"| {kind} | {subject} |" in md
    assert md.count("| machine-stop |") == 1 and md.count("| broker-outage |") == 1
    assert f"| rw-downtime | rw-press-01 | {down['per_machine']['rw-press-01']:g} min |" in md
    assert "| rw-downtime | rw-cnc-01 | no data |" in md
    assert "lost the broker" in md and "![Events of the period](plant-events.png)" in md
    for name in ("goal-progress.png", "plant-events.png"):
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    rows = plant_sections.timeline_data(snap)
    assert set(rows) == {"rw-press-01: stopped", "gw-rw-03: broker lost", "pressure: frozen"}
    assert plant_sections.chart_data(snap)["rw-downtime"]["per_machine"] == down["per_machine"]
    digest = plant_sections.digest(snap)
    assert "| machine-stop | rw-press-01 |" in digest and "| broker-outage | gw-rw-03 |" in digest


def test_plant_snapshot_record_listens_to_health_and_samples(tmp_path, authority, broker, plantctl):
    """`plantctl plant snapshot --broker ... --record SECONDS` at a real Mosquitto: what is
    published while it listens (a health, a press's status samples with a stop) is judged."""
    import paho.mqtt.client as mqtt

    cred = authority.issue("gw-rw-02")
    role = authority.issue("role.maintenance-technician")
    status = "ridgeway/cell-molding/rw-press-01/machine-status/status"
    t0 = time.time() - 60

    def publish() -> None:
        time.sleep(1.5)  # the command has subscribed by then
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-rw-02")
        client.tls_set(ca_certs=str(authority.cert), certfile=str(cred.cert),
                       keyfile=str(cred.key))  # fmt: skip
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        health = {"gateway": "gw-rw-02", "state": "online", "ts": time.time(), "backlog": 0}
        client.publish("ridgeway/_health/gw-rw-02", json.dumps(health), qos=1, retain=True)
        for i in range(61):  # every second; stopped (3) from second 10 to 30
            value = 3 if 10 <= i < 30 else 1
            sample = {"ts": t0 + i, "value": value, "gateway": "gw-rw-02"}
            client.publish(status, json.dumps(sample), qos=1).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()

    thread = threading.Thread(target=publish)
    thread.start()
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--broker",
                   f"127.0.0.1:{broker.port}", "--ca", str(authority.cert), "--cert",
                   str(role.cert), "--key", str(role.key), "--record", "4")  # fmt: skip
    thread.join()
    assert run.code == 1, run.err  # the other gateways are silent
    snap = json.loads(run.out)
    assert snap["gateways"]["gw-rw-02"]["state"] == "online"
    assert snap["signals"][status]["accuracy"]["samples"] == 61
    stops = [e for e in snap["events"] if e["kind"] == "machine-stop"]
    assert [(s["subject"], round(s["from"] - t0), round(s["to"] - t0)) for s in stops] == [
        ("rw-press-01", 10, 30)
    ]
    down = snap["goals"]["rw-downtime"]["measured"]
    assert down["per_machine"] == {"rw-press-01": pytest.approx(20 / 60, abs=0.001)}
