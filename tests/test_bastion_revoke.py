"""Emergency revocation on the lab bastion (issue 14, item 4): `plantctl access revoke GRANT
--site S`, with the real Pulumi engine and a booted bastion running the real sshd (root).

An active internal grant (key only) holds two open connections, one with its certificate and a
`-L` forward, one with its plain key line. Revoking it closes both within 5 s (measured from
the command's start to the ssh processes' exit), refuses new logins either way (KRL for the
certificate, key files removed), and prints the pull-request edit. The next `up` keeps it out
of the bastion (the stack reads the revocation from the lab state); a new approval dated on or
after the revocation's day (re-approval) brings it back. Bad input (unknown grant or site, no
lab up) exits 2 and changes nothing.

Traffic only goes to addresses inside the namespaces this test creates.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_bastion_mfa import _ssh, lab_stack
from test_bastion_mfa import pytestmark as LAB_MARKS
from test_bastion_window import Held, _leader, _through_forward
from test_stack_lab import ROOT, SITE, _stamp

PY = sys.executable
TIMINGS = ROOT / ".state" / "lab-revoke-timings.json"
GRANT = "g-rw-9005"
WHO = ("ridgeway-enterprise-client", "abello", GRANT, "10.20.20.21:22", "gw-rw-01 22")


def lab_test(func):
    for mark in reversed(LAB_MARKS):
        func = mark(func)
    return func


def active_grant(now: datetime) -> str:
    return f"""
  - id: {GRANT}
    person: abello
    site: ridgeway
    target: gw-rw-01
    services: [{{protocol: tcp, port: 22, name: ssh}}]
    start: {_stamp(now - timedelta(hours=1))}
    end: {_stamp(now + timedelta(hours=3))}
    ticket: CHG-9005
    justification: Lab test of an emergency revocation
    via: rw-bastion
    mfa: false
    session_recording: false
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    extra = active_grant(datetime.now(UTC))
    with lab_stack(tmp_path_factory.mktemp("revoke"), extra, TIMINGS) as lab:
        yield lab


def _revoke(lab, grant: str = GRANT, site: str = SITE, prefix: str | None = None):
    return subprocess.run(
        [PY, "-m", "plantctl", "access", "revoke", grant, "--site", site,
         "--inventory", str(lab.inventory), "--prefix", prefix or lab.prefix,
         "--state-dir", str(lab.state)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _login(lab, cert: bool):
    crt = lab.state / "ssh-ca" / f"{GRANT}-cert.pub"
    if not crt.exists():  # the stack dropped it with the revoked grant: the one handed out
        crt = lab.tmp / "handed-out-cert.pub"
    done, _ = _ssh(lab, WHO, None, cert=crt if cert else None)
    return done


def _bastion(lab) -> Path:
    return Path("/run/plantctl-stacks") / lab.prefix / "machines" / "rw-bastion" / "root"


@lab_test
def test_revoke_closes_open_sessions_at_once_and_refuses_new_logins(lab):
    crt = lab.state / "ssh-ca" / f"{GRANT}-cert.pub"
    (lab.tmp / "handed-out-cert.pub").write_bytes(crt.read_bytes())  # what the grantee holds
    for cert in (True, False):
        ok = _login(lab, cert)
        assert ok.returncode == 0 and ok.stdout.strip() == f"plantctl-lab {WHO[4]}", ok.stderr
    port = 20000 + (os.getpid() + 7) % 20000
    forward = Held(lab, "forward", "-L", f"127.0.0.1:{port}:{WHO[3]}", who=WHO)
    plain = Held(lab, "plain-key", who=WHO, cert=False)
    deadline = time.monotonic() + 20
    while "plantctl-lab" not in _through_forward(lab, port, WHO):
        assert forward.open() and plain.open(), (forward.proc.stderr, plain.proc.stderr)
        assert time.monotonic() < deadline, "the forward did not come up"
        time.sleep(0.3)
    time.sleep(1)
    assert forward.open() and plain.open()
    started = datetime.now(UTC)
    done = _revoke(lab)
    assert done.returncode == 0, done.stderr
    for held in (forward, plain):
        held.join(timeout=10)
        assert held.gone is not None, f"the {held.name} connection is still open after revoke"
        closed = (held.gone - started).total_seconds()
        assert closed <= 5, f"the {held.name} connection closed {closed:.2f} s after revoke"
        lab.timings[f"revoke_to_{held.name}_closed_s"] = round(closed, 2)
    reported = re.search(r"session process\(es\) closed \(([0-9.]+) s to none left\)", done.stdout)
    assert reported, done.stdout
    lab.timings["revoke_command_closed_s"] = float(reported.group(1))
    # the pull-request edit: the grant's end moved to the revocation
    at = json.loads((lab.state / "revocations.json").read_text())["revocations"][0]["at"]
    assert f"+    end: {at}" in done.stdout
    assert re.search(r"^-    end: \S+$", done.stdout, re.M)
    assert "--- a/" in done.stdout and "access/grants.yaml" in done.stdout
    assert "re-approved (a new approval dated" in done.stdout
    # no new login, with the certificate (KRL) or the plain key
    for cert in (True, False):
        refused = _login(lab, cert)
        assert refused.returncode == 255 and "Permission denied" in refused.stderr
    krl = _bastion(lab) / "etc/ssh/plantctl_revoked.krl"
    crt = lab.state / "ssh-ca" / f"{GRANT}-cert.pub"
    query = subprocess.run(["ssh-keygen", "-Q", "-f", str(krl), str(crt)],
                           capture_output=True, text=True)  # fmt: skip
    assert query.returncode == 1 and "REVOKED" in query.stdout
    print(f"revoke timings: {lab.timings}")


@lab_test
def test_the_next_stack_run_keeps_it_revoked(lab):
    assert GRANT in lab.outputs["outputs"]["grants"]  # the first up deployed it
    outputs = lab.stackrun("up")
    assert GRANT not in outputs["outputs"]["grants"]
    for cert in (True, False):
        refused = _login(lab, cert)
        assert refused.returncode == 255 and "Permission denied" in refused.stderr
    sshd = (_bastion(lab) / "etc/ssh/sshd_config").read_text()
    assert GRANT not in re.search(r"^AllowUsers (.*)$", sshd, re.M).group(1).split()
    assert GRANT not in (_bastion(lab) / "etc/plantctl/grant-ends").read_text()
    # the stack's own KRL (in the state and on the bastion) still lists the handed-out one
    crt = lab.tmp / "handed-out-cert.pub"
    for krl in (
        lab.state / "ssh-ca" / "revoked.krl",
        _bastion(lab) / "etc/ssh/plantctl_revoked.krl",
    ):
        query = subprocess.run(["ssh-keygen", "-Q", "-f", str(krl), str(crt)],
                               capture_output=True, text=True)  # fmt: skip
        assert "REVOKED" in query.stdout


@lab_test
def test_a_new_approval_re_enables_it(lab):
    grants = lab.inventory / "access" / "grants.yaml"
    text = grants.read_text()
    today = datetime.now(UTC).date().isoformat()
    mine = text.index(f"id: {GRANT}")
    head, tail = text[:mine], text[mine:]
    tail = tail.replace(
        f"      - {{person: mlopez, team: ops-ridgeway, date: {today}}}\n",
        f"      - {{person: mlopez, team: ops-ridgeway, date: {today}}}\n"
        f"      - {{person: tberg, team: it-security, date: {today}}}\n",
        1,
    )
    grants.write_text(head + tail)
    outputs = lab.stackrun("up")
    assert GRANT in outputs["outputs"]["grants"]
    deadline = time.monotonic() + 20
    while (ok := _login(lab, True)).returncode != 0:  # sshd reloads
        assert time.monotonic() < deadline, ok.stderr
        time.sleep(0.5)
    assert ok.stdout.strip() == f"plantctl-lab {WHO[4]}"
    assert _login(lab, False).returncode == 0


@lab_test
def test_no_session_of_the_grant_is_left_after_destroy(lab):
    assert _leader(lab)
    lab.stackrun("destroy")
    lab.destroyed = True


# -- bad input: exit 2, a clear message, nothing changed (no lab needed) ----------------------


class _NoLab:
    def __init__(self, tmp: Path):
        self.inventory = ROOT / "inventory"
        self.state = tmp / "state"
        self.prefix = "nolabhere"


@pytest.mark.parametrize(
    ("grant", "site", "message"),
    [
        ("g-rw-0099", SITE, "no grant 'g-rw-0099' at site 'ridgeway'; its grants: g-rw-0007"),
        ("g-rw-0007", "atlantis", "no site 'atlantis' in the inventory; sites:"),
        ("g-rw-0007", "lakeside", "no grant 'g-rw-0007' at site 'lakeside'"),
    ],
)
def test_revoke_of_an_unknown_grant_or_site_exits_2(tmp_path, grant, site, message):
    nolab = _NoLab(tmp_path)
    done = _revoke(nolab, grant, site)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("plantctl access revoke: ") and message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not nolab.state.exists()


def test_revoke_without_a_lab_up_exits_2(tmp_path):
    nolab = _NoLab(tmp_path)
    done = _revoke(nolab, "g-rw-0007", SITE)
    assert done.returncode == 2, done.stderr
    expected = "needs root" if os.geteuid() else "no lab bastion 'rw-bastion' of site 'ridgeway'"
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert not nolab.state.exists()
