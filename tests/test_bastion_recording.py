"""Forward recording at the lab bastion (issue 14, item 3) and the access log read from it (item
5), with the real Pulumi engine and a booted bastion: sshd, nftables marking a grant account's
connections, conntrack counting their bytes, the forward audit writing one journal event per
forwarded connection (plantctl.configs.forward_audit).

A lab stack of its own (as test_bastion_mfa): the sample plant plus test_stack_lab's grants
(g-rw-9001: a vendor with MFA and recording to the HMI's HTTPS; g-rw-9002: ended, its
certificate expired) and one internal key-only grant (g-rw-9003, kito, to gw-rw-01's SSH). The
forwards are real TCP connections to the lab's stand-ins; the test reads the events back from
the bastion's journal and `plantctl access log`.

Traffic only goes to addresses inside the namespaces this test creates.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from test_bastion_mfa import (  # noqa: F401 (pytestmark: the lab marks)
    KEY_ONLY,
    VENDOR,
    _code,
    _fresh_step,
    _secret,
    _ssh,
    key_only_grant,
    lab_stack,
    pytestmark,
)
from test_stack_lab import ROOT, SITE

from plantctl.lab import journals
from plantctl.lab.standins import INTERNET_HOST
from plantctl.reports import access_log

TIMINGS = ROOT / ".state" / "lab-recording-timings.json"
BANNER = "plantctl-lab rw-hmi-01 443\n"  # what the HMI stand-in answers (lab_tcp)
ENDED = ("ridgeway-enterprise-client", "kito", "g-rw-9002", "10.20.20.21:22", "gw-rw-01 22")
STARTED = datetime.now(UTC) - timedelta(seconds=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    extra = key_only_grant(datetime.now(UTC))
    with lab_stack(tmp_path_factory.mktemp("recording"), extra, TIMINGS) as lab:
        yield lab


def _forwards(lab, since: datetime) -> list[dict]:
    entries = journals.read(lab.prefix, "rw-bastion", access_log.BASTION_MATCHES, since)
    assert entries is not None, "the bastion is not booted"
    return access_log.forward_events(entries, "rw-bastion")


def _wait_forwards(lab, since: datetime, grant: str, count: int, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        found = [f for f in _forwards(lab, since) if f["grant"] == grant]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_the_bastion_runs_the_forward_audit_before_sshd(lab):
    leader = journals.leader(lab.prefix, "rw-bastion")
    assert leader is not None
    inside = ["nsenter", "-t", str(leader), "-a"]

    def run(*args: str) -> str:
        return subprocess.run([*inside, *args], capture_output=True, text=True, timeout=30).stdout

    assert run("systemctl", "is-active", "plantctl-forward-audit.service").strip() == "active"
    assert "plantctl-forward-audit.service" in run("systemctl", "show", "-p", "Requires", "ssh")
    ruleset = run("nft", "list", "table", "inet", "plantctl_forward_audit")
    # one mark per deployed grant account (uids resolved by nft inside the machine)
    # 0007, 0008 (starts later), 9001, 9002 (ended: the lab keeps it, its certificate expired), 9003
    assert ruleset.count("ct mark set 0x7a0000") == 5, ruleset
    assert run("cat", "/proc/sys/net/netfilter/nf_conntrack_acct").strip() == "1"
    # the host's own setting is not the bastion's business: not read, not changed here


@pytest.mark.enforces("RA-010", "RA-020")
def test_a_forward_is_one_audit_event_with_bytes_each_way(lab):
    since = datetime.now(UTC) - timedelta(seconds=2)
    secret = _secret(lab, VENDOR[2])
    _fresh_step()
    before = datetime.now(UTC)
    done, seconds = _ssh(lab, VENDOR, _code(secret))
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    assert done.stdout == BANNER
    lab.timings["vendor_forward_s"] = seconds
    [event] = _wait_forwards(lab, since, VENDOR[2], 1)
    assert event["person"] == "rkessler" and event["account"] == "g-rw-9001"
    assert event["target"] == "10.20.20.10:443"
    assert event["source"].startswith(f"{INTERNET_HOST}:"), event  # the vendor's own address
    start = datetime.fromisoformat(event["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(event["end"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= start <= end <= after + timedelta(seconds=5)
    # IP packets with headers: the banner and at least SYN/ACK/FIN back; SYN, ACKs, FIN out
    assert event["bytes_from_target"] >= len(BANNER) + 3 * 40, event
    assert event["bytes_to_target"] >= 3 * 40, event
    lab.timings["forward_event_late_s"] = round((datetime.now(UTC) - end).total_seconds(), 2)


@pytest.mark.enforces("RA-010", "RA-020")
def test_two_forwards_are_two_events_and_a_key_only_grant_is_recorded_too(lab):
    since = datetime.now(UTC) - timedelta(seconds=2)
    for _ in range(2):
        done, _ = _ssh(lab, KEY_ONLY, None)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"plantctl-lab {KEY_ONLY[4]}"
    found = _wait_forwards(lab, since, KEY_ONLY[2], 2)
    assert len(found) == 2
    assert len({f["connection"] for f in found}) == 2
    assert {f["target"] for f in found} == {"10.20.20.21:22"}
    assert all(f["person"] == "kito" for f in found)


@pytest.mark.enforces("RA-012")
def test_an_ended_grant_is_refused_and_forwards_nothing(lab):
    since = datetime.now(UTC) - timedelta(seconds=2)
    cert = lab.state / "ssh-ca" / f"{ENDED[2]}-cert.pub"
    done, _ = _ssh(lab, ENDED, None, cert=cert)
    assert done.returncode == 255 and "Permission denied" in done.stderr
    time.sleep(2)
    assert [f for f in _forwards(lab, since) if f["grant"] == ENDED[2]] == []


def _access_log(lab, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "plantctl", "access", "log", "--site", SITE,
         "--inventory", str(lab.inventory), "--prefix", lab.prefix,
         "--since", STARTED.strftime("%Y-%m-%dT%H:%M:%SZ"), *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_access_log_has_every_session_forward_and_refusal_with_its_grant(lab):
    done = _access_log(lab, "--format", "json")
    assert done.returncode == 0, done.stderr
    log = json.loads(done.stdout)
    print(json.dumps(log, indent=1)[:3000])
    sessions = {s["grant"] for s in log["sessions"]}
    assert {"g-rw-9001", "g-rw-9003"} <= sessions
    vendor = [s for s in log["sessions"] if s["grant"] == "g-rw-9001"]
    assert all(s["person"] == "rkessler" and s["source"].startswith(INTERNET_HOST) for s in vendor)
    assert all(s["methods"] == ["publickey", "keyboard-interactive/pam"] for s in vendor)
    assert all(s["end"] is not None and s["seconds"] >= 0 for s in vendor)
    assert {f["grant"] for f in log["forwards"]} >= {"g-rw-9001", "g-rw-9003"}
    ended = [r for r in log["refused"] if r["grant"] == "g-rw-9002"]
    assert ended and ended[0]["outside_window"], log["refused"]
    assert ended[0]["person"] == "kito"
    # the vendor was never refused for its window (it is open)
    assert not [r for r in log["refused"] if r["grant"] == "g-rw-9001" and r["outside_window"]]
    # the gateways are stand-ins in the stack lab: the log says so instead of inventing records
    assert "stand-in" in log["sources"]["gw-rw-01"]
    usage = {u["grant"]: u for u in access_log.usage(log)}
    assert usage["g-rw-9003"]["forwards"] >= 2
    assert usage["g-rw-9002"]["refused_outside_window"] >= 1
    text = _access_log(lab)
    assert text.returncode == 0 and "g-rw-9001 (rkessler)" in text.stdout


def test_destroy_removes_the_lab(lab):
    lab.stackrun("destroy")
    lab.destroyed = True
    assert journals.leader(lab.prefix, "rw-bastion") is None
