"""The access log and the review's "remote access used" from recorded journals (no lab): sshd and
the forward audit of a lab bastion, tlog of a lab gateway (tests/fixtures/access_log/README.md).
The lab tests (test_bastion_recording.py, lab/test_session_recording_lab.py) read them live."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_bastion_mfa import key_only_grant
from test_stack_lab import extra_grants

from plantctl.model.loader import load
from plantctl.reports import access_log
from plantctl.reports.governance import remote_access

FIXTURES = Path(__file__).parent / "fixtures" / "access_log"
RECORDED = """
  - id: g-rw-9010
    person: rkessler
    site: ridgeway
    target: gw-rw-01
    services: [{protocol: tcp, port: 22, name: ssh}]
    start: 2026-12-02T06:00:00Z
    end: 2026-12-02T10:00:00Z
    ticket: CHG-9010
    justification: A recorded vendor shell on a gateway
    via: rw-bastion
    mfa: true
    session_recording: true
    approvals:
      - {person: mlopez, team: ops-ridgeway, date: 2026-12-02}
"""
SINCE = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def inv(sample):
    grants = sample / "access" / "grants.yaml"
    now = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    grants.write_text(
        grants.read_text().rstrip("\n") + extra_grants(now) + key_only_grant(now) + RECORDED
    )
    return load(sample)


def _journal(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


def _log(inv):
    return access_log.build(
        inv, "ridgeway", SINCE, ("rw-bastion", _journal("bastion-journal.json")),
        {"gw-rw-01": _journal("gateway-journal.json"), "gw-rw-02": None},
    )  # fmt: skip


def test_sessions_at_the_bastion_with_grant_person_source_methods_and_time(inv):
    log = _log(inv)
    by_grant = {s["grant"]: s for s in log.sessions}
    assert set(by_grant) == {"g-rw-9001", "g-rw-9003"}
    vendor = by_grant["g-rw-9001"]
    assert vendor["person"] == "rkessler" and vendor["source"] == "203.0.113.10:33228"
    assert vendor["methods"] == ["publickey", "keyboard-interactive/pam"]
    assert vendor["end"] is not None and 0 <= vendor["seconds"] < 5
    assert by_grant["g-rw-9003"]["methods"] == ["publickey"]
    assert by_grant["g-rw-9003"]["person"] == "kito"


def test_refusals_say_why_and_which_were_outside_the_window(inv):
    refused = [(r["grant"], r["reason"], r["outside_window"]) for r in _log(inv).refused]
    assert refused == [
        ("g-rw-9001", "second factor refused", False),
        ("g-rw-9001", "second factor not given", False),
        ("g-rw-9002", "outside window: certificate expired", True),
        ("g-rw-9002", "outside window: key expired", True),
    ]
    assert all(r["person"] for r in _log(inv).refused)


def test_forwards_are_the_audit_events_with_their_grants(inv):
    forwards = _log(inv).forwards
    assert [(f["grant"], f["person"], f["target"]) for f in forwards] == [
        ("g-rw-9001", "rkessler", "10.20.20.10:443"),
        ("g-rw-9003", "kito", "10.20.20.21:22"),
    ]
    assert forwards[0]["source"] == "203.0.113.10:33228"  # the vendor's session at the bastion
    assert forwards[0]["bytes_from_target"] == 243 and forwards[0]["bytes_to_target"] == 268
    assert 0 < forwards[0]["seconds"] < 1


def test_recorded_sessions_on_gateways_and_what_was_not_read(inv):
    log = _log(inv)
    [rec] = log.recordings
    assert rec["grant"] == "g-rw-9010" and rec["person"] == "rkessler"
    assert rec["gateway"] == "gw-rw-01" and "capture-marker" in rec["output"]
    assert "stand-in" in log.sources["gw-rw-02"]
    assert log.sources["gw-rw-01"] == "1 journal entries (tlog)"


def test_usage_per_grant_and_the_review_section(inv):
    doc = json.loads(access_log.render_json(_log(inv)))
    usage = {u["grant"]: u for u in access_log.usage(doc)}
    assert usage["g-rw-9001"]["sessions"] == 1 and usage["g-rw-9001"]["refused"] == 2
    assert usage["g-rw-9001"]["refused_outside_window"] == 0
    assert usage["g-rw-9002"]["refused_outside_window"] == 2
    assert usage["g-rw-9010"]["recorded"] == 1
    [used, outside, read] = remote_access.sections(doc)
    assert used[0].startswith("Remote access used (site ridgeway since 2026-12-02T07:00:00Z)")
    rows = {r[0]: r for r in used[2]}
    assert rows["g-rw-9002"][-1] == "2" and rows["g-rw-9003"][4] == "1"
    assert [r[1] for r in outside[2]] == ["g-rw-9002", "g-rw-9002"]
    assert "rw-bastion" in read[2][0][0]
    text = access_log.render_text(_log(inv))
    assert "g-rw-9001 (rkessler) 203.0.113.10:33228 -> 10.20.20.10:443" in text


def test_the_review_without_a_log_says_so():
    [(title, _header, rows)] = remote_access.sections(None)
    assert title == "Remote access used" and "no access log given" in rows[0][0]


def test_a_file_that_is_not_an_access_log_is_refused(tmp_path, plantctl):
    bad = tmp_path / "log.json"
    bad.write_text('{"site": "ridgeway"}')
    with pytest.raises(remote_access.AccessLogError, match="not an access log"):
        remote_access.load(bad)
    bad.write_text("not json")
    run = plantctl("review", "--since", "HEAD", "--access-log", str(bad), "--output",
                   str(tmp_path / "out"))  # fmt: skip
    assert run.code == 2 and "not an access log" in run.err and "Traceback" not in run.err
    assert not (tmp_path / "out").exists()


def test_access_log_bad_input_exits_2_and_names_what_to_do(plantctl):
    run = plantctl("access", "log", "--site", "ridgeway", "--since", "last week")
    assert run.code == 2 and "is not YYYY-MM-DD" in run.err
    run = plantctl("access", "log", "--site", "ridgeway", "--since", "2026-12-01",
                   "--prefix", "nolabhere")  # fmt: skip
    assert run.code == 2 and "no booted machine of site 'ridgeway'" in run.err
    assert "make lab-up" in run.err
    run = plantctl("access", "log", "--site", "nowhere", "--since", "2026-12-01")
    assert run.code == 2 and "no site 'nowhere'" in run.err
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    run = plantctl("access", "log", "--site", "ridgeway", "--since", since, "--prefix", "Bad/")
    assert run.code == 2 and "not a lab name" in run.err


def test_the_review_shows_remote_access_used_from_a_log(inv, tmp_path, plantctl):
    log = tmp_path / "access.json"
    log.write_text(access_log.render_json(_log(inv)))
    out = tmp_path / "review"
    run = plantctl("review", "--since", "HEAD~1", "--access-log", str(log), "--output", str(out))
    assert run.code == 0, run.err
    text = (out / "review.md").read_text()
    assert "## Remote access used (site ridgeway since 2026-12-02T07:00:00Z)" in text
    assert "| g-rw-9002 | kito | 0 | 0 min 00 s | 0 | 0 | 0 | 2 | 2 |" in text
    assert "## Remote access: attempts refused outside the window" in text
    assert "Remote access used" in (out / "review.html").read_text()
