"""Data accuracy, events and goal progress from recorded samples (issue 18 item 3): a snapshot
file with an hour of samples of the sample plant (a press that stops and alarms, a signal with a
gap, one slower than declared, a value out of its declared range, a counter reset, a frozen
sensor, a gateway that lost its broker) gives exactly those findings, the downtime per machine,
the charts with the series behind them, and the goals without data say so; near misses of each
rule give none. The lab run of the same kind is tests/collector/test_plant_shift.py."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plantctl.lab.plc.scenario import Scenario, value_at
from plantctl.model.loader import load
from plantctl.reports import plant_accuracy, plant_health, plant_progress
from plantctl.reports.governance import plant as plant_sections

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 22, 11, tzinfo=UTC).timestamp()
NOW = "2026-11-22T12:00:00Z"
PRESS = "ridgeway/cell-molding/rw-press-01"
STATUS = f"{PRESS}/machine-status/status"
TEMP = f"{PRESS}/machine-status/barrel-temp"
SHOTS = f"{PRESS}/production-counts/shot-count"
CYCLE = f"{PRESS}/machine-status/cycle-time"
STATUS2 = "ridgeway/cell-molding/rw-press-02/machine-status/status"
PRESSURE = "ridgeway/cell-molding/rw-comp-01/energy/pressure"


def _series(every: float, value, until: float = 3600, skip=None) -> list[list]:
    return [
        [START + t, value(t)]
        for t in (i * every for i in range(int(until / every) + 1))
        if not (skip and skip[0] < t < skip[1])
    ]


def _status(t: float) -> int:
    if 600 <= t < 1320:
        return 3  # stopped, 12 minutes
    if 2000 <= t < 2060:
        return 4  # alarm, 1 minute
    return 1


def _observed(**changes) -> dict:
    samples = {
        STATUS: _series(1, _status),
        STATUS2: _series(1, lambda t: 1, skip=(1000, 1100)),  # a 100 s gap, 3 s allowed
        TEMP: _series(5, lambda t: 450.0 if 1800 <= t < 1815 else 220.0 + math.sin(t / 60)),
        SHOTS: _series(10, lambda t: int(t / 10) if t < 3000 else int((t - 3000) / 10)),
        CYCLE: _series(30, lambda t: 31.5 + math.sin(t / 90)),  # declared every 10 s
        PRESSURE: _series(5, lambda t: round(7 + math.sin(t / 100), 3) if t < 1500 else 7.25),
    }
    samples.update(changes)
    log = [
        {"ts": START - 5, "topic": "ridgeway/_health/gw-rw-03", "state": "online",
         "retained": True},
        {"ts": START + 2100, "topic": "ridgeway/_health/gw-rw-03", "state": "offline",
         "reason": "will"},
        {"ts": START + 2700, "topic": "ridgeway/_health/gw-rw-03", "state": "online"},
    ]  # fmt: skip
    messages = {
        f"ridgeway/_health/{gw}": {"state": "online", "ts": START + 3590, "backlog": 0}
        for gw in ("gw-rw-01", "gw-rw-02", "gw-rw-03")
    }
    return {"messages": messages, "samples": samples, "health_log": log}


def _snapshot(doc: dict) -> dict:
    obs = plant_health.Observed(doc["messages"], {}, doc["samples"], doc["health_log"])
    return plant_health.snapshot(
        load(ROOT / "inventory"), "ridgeway", doc["messages"],
        datetime.fromtimestamp(START + 3600, UTC), None, obs,
    )  # fmt: skip


def test_an_hour_of_samples_gives_exactly_its_events_and_the_downtime():
    snap = _snapshot(_observed())
    got = [(e["kind"], e["subject"], e.get("from") and round(e["from"] - START)) for e in
           snap["events"]]  # fmt: skip
    assert got == [
        ("machine-stop", "rw-press-01", 600),
        ("gaps", STATUS2, 1000),
        ("frozen", PRESSURE, 1500),
        ("out-of-range", TEMP, 1800),
        ("machine-stop", "rw-press-01", 2000),
        ("broker-outage", "gw-rw-03", 2100),
        ("backwards", SHOTS, 3000),
        ("slow", CYCLE, None),
    ]
    stops = [e for e in snap["events"] if e["kind"] == "machine-stop"]
    assert [(s["state"], s["minutes"]) for s in stops] == [("stopped", 12.0), ("alarm", 1.0)]
    outage = snap["gateways"]["gw-rw-03"]["outages"]
    assert outage == [{"from": START + 2100, "to": START + 2700, "reason": "will", "minutes": 10}]
    acc = snap["signals"][TEMP]["accuracy"]["out_of_range"]
    assert acc == {"count": 3, "first": START + 1800, "lowest": 450.0, "highest": 450.0,
                   "declared": [0, 400]}  # fmt: skip

    down = snap["goals"]["rw-downtime"]["measured"]
    assert down["value"] == pytest.approx(13, abs=0.01)
    assert down["per_machine"] == {"rw-press-01": pytest.approx(13, abs=0.01), "rw-press-02": 0}
    assert down["machines_without_data"] == ["rw-cnc-01", "rw-cnc-02", "rw-comp-01"]
    # the reset adds nothing: 299 counted before it, 60 after
    assert snap["goals"]["rw-production-reporting"]["measured"]["value"] == 299 + 60
    assert snap["goals"]["rw-compressor-energy"]["measured"] is None  # no energy sample
    assert snap["summary"]["goals_without_data"] == ["rw-compressor-energy"]
    # a quarter's 1800 minutes prorated to the hour measured
    assert snap["goals"]["rw-downtime"]["prorated"]["baseline"] == pytest.approx(
        1800 * 3600 / (91 * 86400), abs=0.001
    )
    assert not plant_health.healthy(snap)


@pytest.mark.parametrize(
    ("topic", "series"),
    [
        # 19 samples of one value over 19 intervals: not yet frozen
        (PRESSURE, _series(5, lambda t: 7.25 if 1500 <= t < 1595 else round(7 + t / 3600, 4))),
        # exactly the declared maximum is in range
        (TEMP, _series(5, lambda t: 400.0 if t == 1800 else 220.0 + math.sin(t / 60))),
        # a counter that stands still has not gone backwards
        (SHOTS, _series(10, lambda t: min(int(t / 10), 200))),
        # a pause of exactly three intervals is no gap
        (STATUS2, _series(1, lambda t: 1, skip=(1000, 1003))),
        # every 15 s against a declared 10 s is within the factor 1.5
        (CYCLE, _series(15, lambda t: 31.5 + math.sin(t / 90))),
    ],
)
def test_near_misses_give_no_finding(topic, series):
    snap = _snapshot(_observed(**{topic: series}))
    assert plant_accuracy.findings(snap["signals"][topic]["accuracy"]) == []
    assert topic not in {e["subject"] for e in snap["events"]}


def test_the_review_sections_the_charts_and_the_digest(tmp_path):
    snap = _snapshot(_observed())
    sections = {title: rows for title, _, rows in plant_sections.sections(snap)}
    events = sections["Events of ridgeway in the period"]
    assert [r[0] for r in events].count("machine-stop") == 2
    per_machine = sections["Goal progress of ridgeway per machine"]
    assert per_machine[1][:3] == ["rw-downtime", "rw-press-01", "13 min"]
    assert ["rw-compressor-energy", "(all)", "no data", ""] in per_machine
    progress = {r[0]: r for r in sections["Goal progress of ridgeway"]}
    assert progress["rw-compressor-energy"][4:6] == [
        "no data", "no data: nothing measured for the period"
    ]  # fmt: skip
    # 13 minutes in the hour against a quarter's 1800 minutes prorated (0.82 min)
    assert progress["rw-downtime"][5].startswith("worse than the baseline (baseline 0.824,")
    assert "prorated to the 60 min measured" in progress["rw-downtime"][5]
    accuracy = sections["Data accuracy of ridgeway: samples against declared intervals and ranges"]
    assert next(r[:2] for r in accuracy if r[0] == PRESSURE) == [PRESSURE, "frozen"]
    assert any(r[1] == "no samples" for r in accuracy)  # signals nothing was heard from

    images = plant_sections.chart(snap, tmp_path)
    assert set(images) == {"goals", "timeline"}
    for path in images.values():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # the series behind the charts
    data = plant_sections.chart_data(snap)
    assert (
        data["rw-downtime"]["per_machine"]
        == snap["goals"]["rw-downtime"]["measured"]["per_machine"]
    )
    assert data["rw-downtime"]["baseline"] == snap["goals"]["rw-downtime"]["prorated"]["baseline"]
    assert data["rw-compressor-energy"]["measured"] is None
    rows = plant_sections.timeline_data(snap)
    assert rows == {
        "rw-press-01: stopped": [(START + 600, START + 1320), (START + 2000, START + 2060)],
        "gw-rw-03: broker lost": [(START + 2100, START + 2700)],
        "pressure: frozen": [(START + 1500, START + 3600)],
    }
    digest = plant_sections.digest(snap)
    assert "## Events of ridgeway in the period" in digest
    assert "| broker-outage | gw-rw-03 |" in digest
    assert "3 value(s) outside the declared 0..400 (seen 450..450)" in digest
    assert "8 event(s) in the period, 1 broker outage(s), 5 signal(s) with accuracy" in digest
    assert "samples against declared intervals" not in digest  # the events say it, shorter


def test_the_command_reads_samples_and_refuses_bad_ones(tmp_path, plantctl):
    src = tmp_path / "observed.json"
    src.write_text(json.dumps({**_observed(), "measured": {}}))
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(src),
                   "--now", NOW)  # fmt: skip
    assert run.code == 1, run.err
    snap = json.loads(run.out)
    assert len(snap["events"]) == 8 and snap["summary"]["signals_inaccurate"] == 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"messages": {}, "samples": {STATUS: [[1]]}}))
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(bad))
    assert run.code == 2 and f"samples of '{STATUS}' must be [[ts, value], ...]" in run.err
    bad.write_text(json.dumps({"messages": {}, "health_log": [{"topic": "x"}]}))
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(bad))
    assert run.code == 2 and "health_log[0] needs a numeric ts" in run.err
    assert "Traceback" not in run.err


def test_undeclared_status_values_count_as_unknown_not_as_up():
    sig = {"interval_s": 1, "states": {"1": "running", "3": "stopped"}}
    samples = [[0, 1], [1, 7], [2, 7], [3, 3], [4, 1], [5, 1]]
    got = plant_progress.machine_status(sig, samples)
    assert (got["up_s"], got["down_s"], got["unknown_s"]) == (2, 1, 2)
    assert got["undeclared_values"] == ["7"]
    bits = {"interval_s": 1, "states": {"true": "running", "false": "stopped"}}
    assert plant_progress.machine_status(bits, [[0, True], [1, False], [5, True]])["down_s"] == 0
    # a 4 s pause (3 intervals allowed) is unknown, not down


def test_a_scenario_scripts_stops_counters_and_a_frozen_sensor():
    stop = {"value": 1, "events": [{"from_s": 600, "to_s": 1320, "value": 3}]}
    assert [value_at(stop, t) for t in (599, 600, 1319, 1320)] == [1, 3, 3, 1]
    count = {"counter": {"start": 100, "per_s": 0.5}, "hold": [{"from_s": 10, "to_s": 20}]}
    assert [value_at(count, t) for t in (0, 10, 15, 20, 30)] == [100, 105, 105, 105, 110]
    wave = {"wave": {"mean": 700, "amplitude": 40, "period_s": 600}, "freeze": {"from_s": 150}}
    assert value_at(wave, 150) == 740 and value_at(wave, 2000) == 740 != value_at(wave, 100)
    lab = Scenario(origin=1000.0, scale=60, signals={"status": stop})
    assert lab.plant_s(1010.0) == 600 and lab.raw("status", 1010.0) == 3
    assert lab.plant_s(900.0) == 0  # before the origin the plant is at its start
    clock = plant_health.LabClock(1000.0, 60)
    assert clock.plant(1010.0) == 1600.0 and clock.plant(1000.0) == 1000.0


def test_goals_are_measured_per_shift_in_the_sites_time_zone(tmp_path, plantctl):
    # 11:00 UTC is 06:00 at Ridgeway (America/New_York, EST): two shifts start in the hour
    doc = _observed()
    obs = plant_health.Observed(doc["messages"], {}, doc["samples"], doc["health_log"])
    snap = plant_health.snapshot(
        load(ROOT / "inventory"), "ridgeway", doc["messages"],
        datetime.fromtimestamp(START + 3600, UTC), None, obs, shifts=["06:30", "06:00"],
    )  # fmt: skip
    down = snap["goals"]["rw-downtime"]["measured"]["per_shift"]
    assert [(s["shift"], s["value"]) for s in down] == [
        ("2026-11-22 06:00", pytest.approx(12, abs=0.01)),  # the stop
        ("2026-11-22 06:30", pytest.approx(1, abs=0.01)),  # the alarm
    ]
    parts = snap["goals"]["rw-production-reporting"]["measured"]["per_shift"]
    assert [(s["shift"], s["value"]) for s in parts] == [
        ("2026-11-22 06:00", 179),
        ("2026-11-22 06:30", 180),  # 120 up to the reset, 60 after it
    ]
    assert (
        sum(s["value"] for s in parts)
        == snap["goals"]["rw-production-reporting"]["measured"]["value"]
    )
    sections = {title: rows for title, _, rows in plant_sections.sections(snap)}
    assert ["rw-downtime", "2026-11-22 06:30", "1 min", "rw-press-01 1, rw-press-02 0"] in (
        sections["Goal progress of ridgeway per shift"]
    )
    # shift starts are HH:MM; the shift in force at the period's start is the first
    src = tmp_path / "observed.json"
    src.write_text(json.dumps(doc))
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(src),
                   "--shifts", "06:00,6:30")  # fmt: skip
    assert run.code == 2 and "shift start '6:30' is not HH:MM" in run.err
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(src),
                   "--shifts", "07:00,15:00,23:00", "--now", NOW)  # fmt: skip
    assert run.code == 1
    per_shift = json.loads(run.out)["goals"]["rw-downtime"]["measured"]["per_shift"]
    assert [s["shift"] for s in per_shift] == ["2026-11-21 23:00"]  # the night shift
    assert per_shift[0]["value"] == pytest.approx(13, abs=0.01)
