"""The grant window enforced by the lab bastion's sshd itself (issue 14, item 2, first half), with
the real Pulumi engine and a booted bastion running the real sshd (root).

Every grant's key is signed at apply time by the bastion's SSH CA into a user certificate valid
from the grant's start to its end (`ssh-keygen -V start:end`); sshd trusts the CA
(TrustedUserCAKeys) and the account's principals file carries the grant's restrictions. A grant
that starts after the stack run is deployed by it: refused before its start, accepted from its
start, refused after its end, with no stack run in between. The grant's window is short (tens
of seconds); the test polls and reports how late sshd let it in and shut it out.

Traffic only goes to addresses inside the namespaces this test creates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from test_bastion_mfa import _ssh, lab_stack, pytestmark  # noqa: F401 (the lab marks)
from test_stack_lab import ROOT, _stamp

TIMINGS = ROOT / ".state" / "lab-window-timings.json"
LEAD = 75  # seconds from writing the inventory to the grant's start: the stack is up by then
WHO = ("ridgeway-enterprise-client", "abello", "g-rw-9004", "10.20.20.21:22", "gw-rw-01 22")
WINDOW: dict[str, datetime] = {}


def short_grant(now: datetime) -> str:
    start = (now + timedelta(seconds=LEAD)).replace(microsecond=0)
    # the end on a whole minute: authorized_keys' and principals' expiry-time is in minutes
    end = (start + timedelta(seconds=80)).replace(second=0)
    WINDOW.update(start=start, end=end)
    return f"""
  - id: g-rw-9004
    person: abello
    site: ridgeway
    target: gw-rw-01
    services: [{{protocol: tcp, port: 22, name: ssh}}]
    start: {_stamp(start)}
    end: {_stamp(end)}
    ticket: CHG-9004
    justification: Lab test of a grant window of a few tens of seconds
    via: rw-bastion
    mfa: false
    session_recording: false
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    extra = short_grant(datetime.now(UTC))
    with lab_stack(tmp_path_factory.mktemp("window"), extra, TIMINGS) as lab:
        yield lab


def _try(lab):
    cert = lab.state / "ssh-ca" / f"{WHO[2]}-cert.pub"
    done, _ = _ssh(lab, WHO, None, cert=cert)
    return done


def _wait_until(moment: datetime) -> None:
    left = (moment - datetime.now(UTC)).total_seconds()
    if left > 0:
        time.sleep(left)


def test_a_grant_deployed_before_its_start_is_refused_then_accepted_then_refused(lab):
    runs = dict(lab.timings)
    start, end = WINDOW["start"], WINDOW["end"]
    assert datetime.now(UTC) < start - timedelta(seconds=3), "the stack came up too late"
    cert = (lab.state / "ssh-ca" / f"{WHO[2]}-cert.pub").read_text()
    assert cert.startswith("ssh-ed25519-cert-v01@openssh.com ")
    # before the start: refused by sshd (the certificate is not valid yet, no plain key line)
    before = _try(lab)
    assert before.returncode == 255, before.stderr
    assert "Permission denied (publickey)" in before.stderr
    assert "plantctl-lab" not in before.stdout
    # from the start: accepted, with no stack run in between
    _wait_until(start - timedelta(seconds=2))
    while True:
        attempt_at = datetime.now(UTC)
        done = _try(lab)
        if done.returncode == 0:
            break
        assert attempt_at < start + timedelta(seconds=10), f"not let in: {done.stderr}"
        assert attempt_at < start + timedelta(seconds=1) or "Permission denied" in done.stderr
        time.sleep(0.2)
    assert done.stdout.strip() == f"plantctl-lab {WHO[4]}"
    assert attempt_at >= start - timedelta(seconds=1)  # not before its start (clock: 1 s)
    lab.timings["activation_late_s"] = round((attempt_at - start).total_seconds(), 2)
    # through the window it keeps working
    _wait_until(end - timedelta(seconds=4))
    assert _try(lab).returncode == 0
    # after the end: refused
    while True:
        attempt_at = datetime.now(UTC)
        done = _try(lab)
        if done.returncode != 0:
            break
        assert attempt_at < end + timedelta(seconds=10), "still let in after the end"
        time.sleep(0.2)
    assert done.returncode == 255 and "Permission denied (publickey)" in done.stderr
    assert attempt_at >= end - timedelta(seconds=1)  # not cut short
    lab.timings["refused_after_end_s"] = round((attempt_at - end).total_seconds(), 2)
    assert lab.timings.keys() - runs.keys() <= {"activation_late_s", "refused_after_end_s"}
    # and it stays refused
    time.sleep(2)
    assert _try(lab).returncode == 255


def test_destroy_removes_the_ca(lab):
    lab.stackrun("destroy")
    lab.destroyed = True
    assert not (lab.state / "ssh-ca").exists()
