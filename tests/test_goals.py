"""Goals in the inventory (issue 18) and the plant in the review: goals load and their references
are checked; `plantctl plant snapshot` judges the gateways' health messages against the
inventory; `plantctl review --plant` adds device health, data accuracy and goal progress, with a
chart whose data is checked here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plantctl.collector import config
from plantctl.model.loader import load
from plantctl.plant import broker_access
from plantctl.reports import plant_health
from plantctl.reports.governance import plant as plant_sections

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"
AT = datetime(2026, 11, 22, 12, tzinfo=UTC).timestamp()


def test_the_sample_has_three_agreed_goals_its_collectors_serve():
    inv = load(ROOT / "inventory")
    goals = inv.of("goal")
    assert sorted(goals) == ["rw-compressor-energy", "rw-downtime", "rw-production-reporting"]
    served = {g for c in inv.of("collector").values() for g in c.data["serves"]}
    assert served == set(goals)
    assert set(inv.get("site", "ridgeway").data["pilot"]["goals"]) == set(goals)
    for goal in goals.values():
        kinds = {inv.get("team", a["team"]).data["kind"] for a in goal.data["agreed_by"]}
        assert {"it", "operations"} <= kinds
        if "budget" in goal.data:
            assert "management" in kinds


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "goals.yaml",
            "      machines: [rw-comp-01]\n",
            "      machines: [lk-press-01]\n",
            "machine of ridgeway 'lk-press-01' does not exist",
        ),
        (
            "goals.yaml",
            "{team: plant-management, person: hpark,",
            "{team: plant-management, person: hparks,",
            "person 'hparks' does not exist",
        ),
        ("goals.yaml", "meaning: energy-use", "meaning: kwh", "glossary term 'kwh' does not exist"),
        (
            "goals.yaml",
            "owners: [maint-ridgeway,",
            "owners: [maintenance,",
            "team 'maintenance' does not exist",
        ),
        (
            "sites/ridgeway/site.yaml",
            "goals: [rw-downtime,",
            "goals: [lk-downtime,",
            "goal of ridgeway 'lk-downtime' does not exist",
        ),
    ],
)
def test_a_goal_reference_that_names_nothing_is_refused(sample, plantctl, file, old, new, message):
    path = sample / file
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    run = plantctl("validate", "--inventory", str(sample))
    assert run.code == 2
    assert message in run.err and "[INV-REF]" in run.err


def _messages(inv) -> dict[str, dict]:
    """gw-rw-01 online (every signal fresh but cnc-02's part count, read 10 min ago; col-rw-cnc-02
    failing), gw-rw-02 gone (its will), gw-rw-03 never heard of."""
    sources = {}
    for rec in inv.site_objects("collector", "ridgeway"):
        if rec.data["gateway"] != "gw-rw-01":
            continue
        prefix = broker_access.topic_prefix(inv, rec.data, "ridgeway")
        signals = {
            config.topic(prefix, s["data_class"], s["name"]): AT - 0.5 for s in rec.data["signals"]
        }
        sources[rec.key] = {"machine": rec.data["machine"], "samples": 10,
                            "read_errors": 0, "last_read": AT - 0.5, "failing": False,
                            "signals": signals}  # fmt: skip
    stale = "ridgeway/cell-machining/rw-cnc-02/production-counts/part-count"
    sources["col-rw-cnc-02"]["signals"][stale] = AT - 600
    sources["col-rw-cnc-02"].update(failing=True, read_errors=12)
    return {
        "ridgeway/_health/gw-rw-01": {"gateway": "gw-rw-01", "site": "ridgeway", "state": "online",
                                      "ts": AT + 2.0, "backlog": 42, "sources": sources},
        "ridgeway/_health/gw-rw-02": {"gateway": "gw-rw-02", "state": "offline", "reason": "will",
                                      "ts": AT - 300},
    }  # fmt: skip


def _write_input(tmp_path: Path, measured: dict | None = None) -> Path:
    inv = load(ROOT / "inventory")
    path = tmp_path / "health.json"
    doc = {"messages": _messages(inv), "measured": measured or {}}
    path.write_text(json.dumps(doc))
    return path


def test_the_snapshot_says_what_the_gateways_said(tmp_path, plantctl):
    src = _write_input(tmp_path, {"rw-downtime": {"value": 1620, "period": {
        "start": "2026-07-01", "end": "2026-09-30"}}})  # fmt: skip
    out = tmp_path / "snap.json"
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(src),
                   "--now", NOW, "--output", str(out))  # fmt: skip
    assert run.code == 1, run.err  # needs attention
    snap = json.loads(out.read_text())
    assert snap["schema"] == plant_health.SCHEMA and snap["taken"] == NOW
    gw = snap["gateways"]
    assert gw["gw-rw-01"]["state"] == "online"
    assert gw["gw-rw-01"]["sources_failing"] == ["col-rw-cnc-02"]
    assert gw["gw-rw-01"]["backlog"] == 42 and gw["gw-rw-01"]["health_age_s"] == -2.0
    assert gw["gw-rw-02"] == {"state": "offline", "reason": "will", "ts": AT - 300, "backlog": 0,
                              "sources_failing": [], "sources_slow": [],
                              "read_errors": {}}  # fmt: skip
    assert gw["gw-rw-03"]["state"] == "silent"
    sig = snap["signals"]
    stale = "ridgeway/cell-machining/rw-cnc-02/production-counts/part-count"
    assert sig[stale]["stale"] and sig[stale]["age_s"] == 600
    assert sig["ridgeway/cell-machining/rw-cnc-01/machine-status/status"]["stale"] is False
    # every signal of gw-rw-02 and gw-rw-03 was never read (as far as the snapshot knows)
    never = {t for t, s in sig.items() if s["last_read"] is None}
    assert never == {t for t, s in sig.items() if s["gateway"] in ("gw-rw-02", "gw-rw-03")}
    assert snap["summary"] == {
        "gateways_online": 1, "gateways_offline": 1, "gateways_silent": 1, "sources_failing": 1,
        "sources_slow": 0, "backlog": 42, "signals_stale": 1 + len(never),
        "signals_inaccurate": 0, "broker_outages": 0,
        "goals_without_data": ["rw-compressor-energy", "rw-production-reporting"],
    }  # fmt: skip
    down = snap["goals"]["rw-downtime"]
    assert down["measured"]["value"] == 1620 and down["baseline"]["value"] == 1800
    assert "ridgeway/cell-machining/rw-cnc-01/downtime-reasons/downtime-reason" in down["providers"]
    energy = snap["goals"]["rw-compressor-energy"]
    assert energy["providers"] == ["ridgeway/cell-molding/rw-comp-01/energy/energy"]
    assert energy["stale_providers"] == energy["providers"]


def test_a_healthy_plant_exits_0_and_bad_input_2(tmp_path, plantctl):
    inv = load(ROOT / "inventory")
    messages = {}
    for gw in ("gw-rw-01", "gw-rw-02", "gw-rw-03"):
        signals = {}
        for rec in inv.site_objects("collector", "ridgeway"):
            if rec.data["gateway"] == gw:
                prefix = broker_access.topic_prefix(inv, rec.data, "ridgeway")
                signals.update({config.topic(prefix, s["data_class"], s["name"]): AT
                                for s in rec.data["signals"]})  # fmt: skip
        messages[config.health_topic("ridgeway", gw)] = {
            "state": "online",
            "ts": AT,
            "backlog": 0,
            "sources": {"x": {"signals": signals}},
        }
    # mosquitto_sub -v lines are read too
    lines = tmp_path / "health.txt"
    lines.write_text("".join(f"{t} {json.dumps(p)}\n" for t, p in messages.items()))
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(lines),
                   "--now", NOW)  # fmt: skip
    assert run.code == 0, run.err
    assert json.loads(run.out)["summary"]["signals_stale"] == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("ridgeway/_health/gw-rw-01 {not json\n")
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(bad))
    assert run.code == 2 and "bad.txt:1" in run.err
    run = plantctl("plant", "snapshot", "--site", "nowhere", "--from-file", str(lines))
    assert run.code == 2 and "no site 'nowhere'" in run.err
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--broker", "h:1")
    assert run.code == 2 and "needs --ca" in run.err


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-11-20T10:00:00Z",
           "GIT_COMMITTER_DATE": "2026-11-20T10:00:00Z"}  # fmt: skip
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()  # fmt: skip


def test_the_review_shows_device_health_data_accuracy_and_goal_progress(
    tmp_path, plantctl, monkeypatch
):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(ROOT / "inventory", repo / "inventory")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "i")
    measured = {"rw-downtime": {"value": 1620, "period": {"start": "2026-07-01",
                                                          "end": "2026-09-30"}}}  # fmt: skip
    snap_path = tmp_path / "snap.json"
    run = plantctl("plant", "snapshot", "--inventory", str(repo / "inventory"), "--site",
                   "ridgeway", "--from-file", str(_write_input(tmp_path, measured)),
                   "--now", NOW, "--output", str(snap_path))  # fmt: skip
    assert run.code == 1, run.err
    out = tmp_path / "review"
    run = plantctl("review", "--since", "2026-01-01", "--now", NOW, "--plant", str(snap_path),
                   "--output", str(out), cwd=repo)  # fmt: skip
    assert run.code == 0, run.err
    md = (out / "review.md").read_text()
    assert "## Device health of ridgeway (snapshot 2026-11-22T12:00:00Z)" in md
    assert "| gw-rw-02 | offline | none | 0 |  | offline (will) |" in md
    assert "| gw-rw-03 | silent |" in md
    assert "failing: col-rw-cnc-02; backlog 42 samples" in md
    assert "## Data accuracy of ridgeway: stale signals" in md
    assert "| ridgeway/cell-machining/rw-cnc-02/production-counts/part-count | col-rw-cnc-02 |" \
        " 10 s | 600 s ago |" in md  # fmt: skip
    assert "## Goal progress of ridgeway" in md
    assert "| rw-downtime | downtime | 1800 min (2026-04-01..2026-06-30) |" in md
    assert "1620 min (2026-07-01..2026-09-30) | 67 % of the way to target |" in md
    assert "| rw-production-reporting | production-count |" in md
    assert "| no data | no data: nothing measured for the period |" in md
    assert "![Goal progress](goal-progress.png)" in md
    html = (out / "review.html").read_text()
    assert "<h2 id='goal-progress-of-ridgeway'>" in html and 'alt="Goal progress"' in html

    # the chart: a PNG, not empty, and the series behind it are the goals' figures
    png = out / "goal-progress.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    data = plant_sections.chart_data(json.loads(snap_path.read_text()))
    assert data == {
        "rw-compressor-energy": {"unit": "kWh", "baseline": 42000, "target": 37800,
                                 "measured": None},
        "rw-downtime": {"unit": "min", "baseline": 1800, "target": 1530, "measured": 1620},
        "rw-production-reporting": {"unit": "parts", "baseline": 12000, "target": 12600,
                                    "measured": None},
    }  # fmt: skip


def test_a_review_without_a_snapshot_has_no_plant_sections(tmp_path):
    snap = plant_health.snapshot(load(ROOT / "inventory"), "lakeside", {}, datetime.now(UTC))
    assert snap["goals"] == {} and plant_sections.chart(snap, tmp_path) == {}
    titles = [t for t, _, _ in plant_sections.sections(snap)]
    assert titles[0].startswith("Device health of lakeside")


def test_a_source_slower_than_its_declared_intervals_is_named():
    inv = load(ROOT / "inventory")
    # col-rw-cnc-02 declares status every 1 s and the part count every 10 s: 660 in 600 s
    health = {"state": "online", "started": AT - 600, "ts": AT, "backlog": 0, "sources": {
        "col-rw-cnc-02": {"samples": 329, "signals": {}},
        "col-rw-cnc-01": {"samples": 5000, "signals": {}},
    }}  # fmt: skip
    snap = plant_health.snapshot(inv, "ridgeway", {"ridgeway/_health/gw-rw-01": health}, None)
    assert snap["gateways"]["gw-rw-01"]["sources_slow"] == ["col-rw-cnc-02"]
    assert snap["summary"]["sources_slow"] == 1
    health["sources"]["col-rw-cnc-02"]["samples"] = 330
    snap = plant_health.snapshot(inv, "ridgeway", {"ridgeway/_health/gw-rw-01": health}, None)
    assert snap["gateways"]["gw-rw-01"]["sources_slow"] == []
    health["started"] = AT - 30  # too early to tell
    health["sources"]["col-rw-cnc-02"]["samples"] = 0
    snap = plant_health.snapshot(inv, "ridgeway", {"ridgeway/_health/gw-rw-01": health}, None)
    assert snap["gateways"]["gw-rw-01"]["sources_slow"] == []


def test_the_digest_is_short_markdown_for_the_meeting(tmp_path, plantctl):
    src = _write_input(tmp_path)
    run = plantctl("plant", "snapshot", "--site", "ridgeway", "--from-file", str(src),
                   "--now", NOW, "--format", "markdown")  # fmt: skip
    assert run.code == 1, run.err
    assert run.out.startswith("# Plant digest: ridgeway at 2026-11-22T12:00:00Z\n")
    assert "1 gateway(s) online, 1 offline, 1 silent; 1 source(s) failing, 0 slow;" in run.out
    assert "goals without data: rw-compressor-energy, rw-downtime, rw-production-reporting." \
        in run.out  # fmt: skip
    assert run.out.count("\n## ") == 3
