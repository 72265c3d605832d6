"""The grant window enforced by the lab bastion's sshd itself (issue 14, item 2, first half), with
the real Pulumi engine and a booted bastion running the real sshd (root).

Every grant's key is signed at apply time by the bastion's SSH CA into a user certificate valid
from the grant's start to its end (`ssh-keygen -V start:end`); sshd trusts the CA
(TrustedUserCAKeys) and the account's principals file carries the grant's restrictions. A grant
that starts after the stack run is deployed by it: refused before its start, accepted from its
start, refused after its end, with no stack run in between. The grant's window is short (tens
of seconds); the test polls and reports how late sshd let it in and shut it out.

Sessions opened inside the window are closed at its end by the bastion's grant reaper
(plantctl.configs.grant_reaper, a service inside the booted bastion): a connection holding a
`-L` forward and a multiplexing master that carried a `-W` channel, both opened inside the
window, are gone within 5 s after the end; the test reports how late (client side: the ssh
process exits when the bastion closes the connection).

Traffic only goes to addresses inside the namespaces this test creates.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_bastion_mfa import BASTION, _ssh, lab_stack, pytestmark  # noqa: F401 (the lab marks)
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


class Held:
    """An ssh connection to the bastion kept open (`-N`), in the client's namespace; `gone` is
    when its process exited (the bastion closed the connection)."""

    def __init__(self, lab, name: str, *options: str, who: tuple = WHO, cert: bool = True):
        src, login, grant, _target, _ = who
        key, crt = lab.state / "keys" / login, lab.state / "ssh-ca" / f"{grant}-cert.pub"
        config, known = lab.tmp / "ssh_config", lab.tmp / "known_hosts"
        config.touch()
        args = ["ip", "netns", "exec", lab.ns(src), "ssh", "-F", str(config), "-i", str(key)]
        # without the certificate: the plain key line of an active grant (authorized_keys)
        args += ["-o", f"CertificateFile={crt}"] if cert else []
        for option in ("IdentitiesOnly=yes", "BatchMode=yes",
                       "StrictHostKeyChecking=no", f"UserKnownHostsFile={known}",
                       "ConnectTimeout=5", "ExitOnForwardFailure=yes", "LogLevel=ERROR",
                       "ServerAliveInterval=60"):  # fmt: skip
            args += ["-o", option]
        args += ["-N", *options, f"{grant}@{BASTION}"]
        self.name, self.gone = name, None
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)  # fmt: skip
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.proc.wait()
        self.gone = datetime.now(UTC)

    def open(self) -> bool:
        return self.proc.poll() is None

    def join(self, timeout: float) -> None:
        self._waiter.join(timeout)
        if self.proc.poll() is None:
            self.proc.kill()


def _through_forward(lab, port: int, who: tuple = WHO) -> str:
    probe = f"import socket;print(socket.create_connection(('127.0.0.1', {port}), 5).recv(100))"
    done = lab.inside(who[0], ["python3", "-c", probe], timeout=15)
    return done.stdout


def _wait_until(moment: datetime) -> None:
    left = (moment - datetime.now(UTC)).total_seconds()
    if left > 0:
        time.sleep(left)


@pytest.mark.enforces("RA-002")  # the end a grant must have is kept by sshd and the reaper
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
    # sessions opened inside the window: a -L forward, and a master that carries a -W channel
    port = 20000 + os.getpid() % 20000
    target = WHO[3]
    forward = Held(lab, "forward", "-L", f"127.0.0.1:{port}:{target}")
    sock = lab.tmp / "master.sock"
    master = Held(lab, "master", "-M", "-S", str(sock))
    deadline = time.monotonic() + 20
    while not (sock.exists() and "plantctl-lab" in _through_forward(lab, port)):
        assert forward.open() and master.open(), (forward.proc.stderr, master.proc.stderr)
        assert time.monotonic() < deadline, "the forward did not come up"
        time.sleep(0.3)
    channel = lab.inside(WHO[0], ["ssh", "-S", str(sock), "-W", target, "x"], timeout=15,
                         stdin=subprocess.DEVNULL)  # fmt: skip
    assert channel.stdout.strip() == f"plantctl-lab {WHO[4]}", channel.stderr
    # through the window it keeps working, and the sessions stay open
    _wait_until(end - timedelta(seconds=4))
    assert _try(lab).returncode == 0
    assert forward.open() and master.open()
    assert "plantctl-lab" in _through_forward(lab, port)
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
    # the open sessions are closed by the bastion within 5 s after the end
    for held in (forward, master):
        held.join(timeout=max(0.0, (end - datetime.now(UTC)).total_seconds()) + 10)
        assert held.gone is not None, f"the {held.name} connection is still open after the end"
        late = (held.gone - end).total_seconds()
        assert -1 <= late <= 5, f"the {held.name} connection closed {late:.2f} s after the end"
        lab.timings[f"{held.name}_closed_after_end_s"] = round(late, 2)
    assert "plantctl-lab" not in _through_forward(lab, port)
    print(f"window timings: {lab.timings}")
    assert lab.timings.keys() - runs.keys() <= {
        "activation_late_s", "refused_after_end_s", "forward_closed_after_end_s",
        "master_closed_after_end_s",
    }  # fmt: skip
    # and it stays refused
    time.sleep(2)
    assert _try(lab).returncode == 255


@pytest.mark.enforces("RA-002")  # the end a grant must have is kept by sshd and the reaper
def test_the_bastion_runs_the_grant_reaper_and_no_session_of_the_grant_is_left(lab):
    from plantctl.configs import grant_reaper

    root = Path("/run/plantctl-stacks") / lab.prefix / "machines" / "rw-bastion" / "root"
    ends = (root / grant_reaper.ENDS_FILE.lstrip("/")).read_text()
    assert f"{WHO[2]} {int(WINDOW['end'].timestamp())}" in ends.splitlines()
    leader = _leader(lab)
    active = subprocess.run(
        ["nsenter", "-t", str(leader), "-a", "systemctl", "is-active", grant_reaper.UNIT],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert active.stdout.strip() == "active"
    left = subprocess.run(["nsenter", "-t", str(leader), "-a", "pgrep", "-u", WHO[2]],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert left.returncode == 1 and not left.stdout  # pgrep: nothing matched
    journal = subprocess.run(
        ["nsenter", "-t", str(leader), "-a", "journalctl", "-t", grant_reaper.TAG, "-o", "cat"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert f"closed the sessions of {WHO[2]}" in journal.stdout


def _leader(lab) -> int:  # the bastion's init, seen from the host
    from plantctl.lab import process

    marker = f"--machine={lab.prefix}-rw-bastion"
    for pid in process.all_pids():
        if marker in process.cmdline(pid):
            for child in process.children(pid):
                if process.comm(child) == "systemd":
                    return child
    raise AssertionError("no bastion machine")


def test_destroy_removes_the_ca(lab):
    lab.stackrun("destroy")
    lab.destroyed = True
    assert not (lab.state / "ssh-ca").exists()
