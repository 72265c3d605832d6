"""MFA at the lab bastion (issue 14, item 1), with the real Pulumi engine, a booted bastion running
the real sshd and PAM (pam_oath), and codes computed by the real oathtool (root).

A lab stack of its own (prefix plci<hex>, its own state dir and backend, as test_stack_lab): the
sample plant plus test_stack_lab's two grants and one internal grant with `mfa: false`. Grants with
`mfa: true` need their key and then a TOTP code (keyboard-interactive, answered through
SSH_ASKPASS by a small script that prints the code); the `mfa: false` grant logs in with its key
alone. Codes come from the otpauth URI that `plantctl access otp-uri` prints, as a grantee's
authenticator would compute them.

Traffic only goes to addresses inside the namespaces this test creates.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from test_stack_lab import ROOT, SITE, Lab, _stamp, leftovers, sweep_stale_test_labs

PY = sys.executable
BASTION = "10.20.36.10"
TIMINGS = ROOT / ".state" / "lab-mfa-timings.json"
KBD_REFUSED = "Permission denied (keyboard-interactive)"  # key accepted, the code refused

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        os.geteuid() != 0 and not os.environ.get("CI"), reason="the lab needs root; CI has it"
    ),
]

# vendor (external, mfa: true, from the internet), internal dokafor (sample, mfa: true, office),
# internal kito (mfa: false, office)
VENDOR = ("ridgeway-internet", "rkessler", "g-rw-9001", "10.20.20.10:443", "rw-hmi-01 443")
INTERNAL_MFA = (
    "ridgeway-enterprise-client",
    "dokafor",
    "g-rw-0007",
    "10.20.20.22:22",
    "gw-rw-02 22",
)
KEY_ONLY = ("ridgeway-enterprise-client", "kito", "g-rw-9003", "10.20.20.21:22", "gw-rw-01 22")


def key_only_grant(now: datetime) -> str:
    return f"""
  - id: g-rw-9003
    person: kito
    site: ridgeway
    target: gw-rw-01
    services: [{{protocol: tcp, port: 22, name: ssh}}]
    start: {_stamp(now - timedelta(hours=1))}
    end: {_stamp(now + timedelta(hours=3))}
    ticket: CHG-9003
    justification: Lab test of an internal grant without MFA
    via: rw-bastion
    mfa: false
    session_recording: false
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
"""


@contextlib.contextmanager
def lab_stack(tmp: Path, extra_grants: str, timings: Path):
    """A lab stack of its own (Lab of test_stack_lab) with `extra_grants` appended, up."""
    from plantctl.providers.lab import RUN_ROOT, teardown
    from plantstack.run import environment

    assert shutil.which("oathtool"), "oathtool is not installed (tools/apt-packages.txt)"
    assert Path("/lib/x86_64-linux-gnu/security/pam_oath.so").exists(), (
        "libpam-oath is not installed (tools/apt-packages.txt)"
    )
    assert shutil.which("pulumi", path=environment()["PATH"]), "run `make setup` (Pulumi CLI)"
    sweep_stale_test_labs()
    lab = Lab(tmp)
    grants = lab.inventory / "access" / "grants.yaml"
    grants.write_text(grants.read_text().rstrip("\n") + extra_grants)
    askpass = lab.tmp / "askpass"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$PLANTCTL_TEST_CODE"\n')
    askpass.chmod(0o755)
    lab.askpass = askpass  # type: ignore[attr-defined]
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    owner = RUN_ROOT / f"{lab.prefix}.owner"
    owner.write_text(str(os.getpid()))
    try:
        lab.outputs = lab.stackrun("up")
        yield lab
    finally:
        if not lab.destroyed:
            lab.stackrun("destroy", check=False)
            teardown(lab.prefix)
        owner.unlink(missing_ok=True)
        timings.parent.mkdir(parents=True, exist_ok=True)
        timings.write_text(json.dumps(lab.timings, indent=1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    extra = key_only_grant(datetime.now(UTC))
    with lab_stack(tmp_path_factory.mktemp("mfa"), extra, TIMINGS) as lab:
        yield lab


def _ssh(lab, who: tuple, code: str | None, account: str | None = None, cert: Path | None = None):
    """ssh -W through the bastion with the person's key (and `cert`, a grant's certificate);
    `code` answers keyboard-interactive (None: BatchMode, no answer at all). Returns (result,
    seconds)."""
    src, login, grant, target, _ = who
    config, known = lab.tmp / "ssh_config", lab.tmp / "known_hosts"  # not /dev/null
    config.touch()
    args = ["ssh", "-F", str(config), "-i", str(lab.state / "keys" / login)]
    if cert is not None:
        args += ["-o", f"CertificateFile={cert}"]
    for option in (
        "IdentitiesOnly=yes",
        "StrictHostKeyChecking=no",
        f"UserKnownHostsFile={known}",
        "ConnectTimeout=5",
        "ControlPath=none",
        "LogLevel=ERROR",
        "NumberOfPasswordPrompts=1",
        "PreferredAuthentications=publickey,keyboard-interactive",
        f"BatchMode={'yes' if code is None else 'no'}",
    ):
        args += ["-o", option]
    args += ["-W", target, f"{account or grant}@{BASTION}"]
    env = {
        **os.environ,
        "SSH_ASKPASS": str(lab.askpass),
        "SSH_ASKPASS_REQUIRE": "force",
        "DISPLAY": ":0",
        "PLANTCTL_TEST_CODE": code or "",
    }
    started = time.monotonic()
    done = lab.inside(src, args, timeout=30, stdin=subprocess.DEVNULL, env=env)
    return done, round(time.monotonic() - started, 2)


def _secret(lab, grant: str) -> str:
    """The base32 secret from `plantctl access otp-uri` (what the approver hands over)."""
    done = subprocess.run(
        [PY, "-m", "plantctl", "access", "otp-uri", grant, "--site", SITE,
         "--inventory", str(lab.inventory), "--state-dir", str(lab.state)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    uri = urlparse(done.stdout.strip())
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    return parse_qs(uri.query)["secret"][0]


def _code(secret: str, at: float | None = None) -> str:
    moment = datetime.fromtimestamp(at if at is not None else time.time(), UTC)
    done = subprocess.run(
        ["oathtool", "--totp", "-b", "-N", moment.strftime("%Y-%m-%d %H:%M:%S UTC"), secret],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _fresh_step(margin: float = 8) -> None:
    """Wait, if needed, so that the next `margin` seconds stay in one 30 s TOTP step."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.5)


def _bastion_root(lab) -> Path:
    return Path("/run/plantctl-stacks") / lab.prefix / "machines" / "rw-bastion" / "root"


def test_the_bastion_has_pam_oath_and_private_seeds_outside_the_state(lab):
    root = _bastion_root(lab)
    sshd = (root / "etc/ssh/sshd_config").read_text()
    match = sshd.split("Match User ", 1)[1].splitlines()
    # g-rw-0008 starts on 2026-12-03: deployed now, its certificate valid from its start
    assert set(match[0].split(",")) == {"g-rw-0007", "g-rw-0008", "g-rw-9001", "g-rw-9002"}
    assert match[1].strip() == "AuthenticationMethods publickey,keyboard-interactive"
    assert (
        "pam_oath.so usersfile=/etc/plantctl/oath/users.oath window=1"
        in (root / "etc/pam.d/sshd").read_text()
    )
    users = root / "etc/plantctl/oath/users.oath"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600 and users.stat().st_uid == 0
    seeds = [line.split()[3] for line in users.read_text().splitlines() if line.startswith("HOTP")]
    assert len(seeds) == 4
    backend = lab.tmp / "backend"
    state = "".join(p.read_text(errors="replace") for p in backend.rglob("*") if p.is_file())
    assert "oath" in state  # the seeds resource is in the state...
    for seed in seeds:  # ...but no seed, in hex or base32
        assert seed not in state
        assert base64.b32encode(bytes.fromhex(seed)).decode().rstrip("=") not in state
    assert not any(seed in p.read_text(errors="replace") for p in ROOT.glob("inventory/**/*.yaml")
                   for seed in seeds)  # fmt: skip


@pytest.mark.enforces("RA-010")
def test_key_without_a_code_is_refused(lab):
    for code in (None, ""):
        refused, _ = _ssh(lab, VENDOR, code)
        assert refused.returncode == 255, refused.stderr
        assert KBD_REFUSED in refused.stderr  # the key was accepted, the code was not
        assert "plantctl-lab" not in refused.stdout


@pytest.mark.enforces("RA-010")
def test_key_with_a_wrong_code_is_refused(lab):
    secret = _secret(lab, VENDOR[2])
    _fresh_step()
    now = time.time()
    valid = {_code(secret, now + 30 * k) for k in range(-2, 3)}
    wrong = next(c for c in (f"{(int(min(valid)) + n) % 10**6:06d}" for n in range(1, 9))
                 if c not in valid)  # fmt: skip
    refused, _ = _ssh(lab, VENDOR, wrong)
    assert refused.returncode == 255 and KBD_REFUSED in refused.stderr


@pytest.mark.enforces("RA-010")
def test_another_accounts_code_is_refused(lab):
    theirs = _secret(lab, INTERNAL_MFA[2])
    _fresh_step()
    refused, _ = _ssh(lab, VENDOR, _code(theirs))
    assert refused.returncode == 255 and KBD_REFUSED in refused.stderr
    # and the other way round: the vendor's code is not the internal account's
    refused, _ = _ssh(lab, INTERNAL_MFA, _code(_secret(lab, VENDOR[2])))
    assert refused.returncode == 255 and KBD_REFUSED in refused.stderr


@pytest.mark.enforces("RA-010")
def test_key_and_the_right_code_work_once_and_the_code_cannot_be_reused(lab):
    secret = _secret(lab, VENDOR[2])
    _fresh_step()
    code = _code(secret)
    ok, seconds = _ssh(lab, VENDOR, code)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"plantctl-lab {VENDOR[4]}"
    lab.timings["mfa_login_s"] = seconds
    # the same code again, within its step: pam_oath refuses a replayed code
    replay, _ = _ssh(lab, VENDOR, code)
    assert replay.returncode == 255 and KBD_REFUSED in replay.stderr
    # the next step's code works: replay protection does not lock the grantee out
    time.sleep(30 - time.time() % 30 + 0.5)
    again, seconds = _ssh(lab, VENDOR, _code(secret))
    assert again.returncode == 0, again.stderr
    lab.timings["mfa_login_next_step_s"] = seconds
    # the internal MFA grant too, with its own code, from the office
    _fresh_step()
    ok, seconds = _ssh(lab, INTERNAL_MFA, _code(_secret(lab, INTERNAL_MFA[2])))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"plantctl-lab {INTERNAL_MFA[4]}"
    lab.timings["mfa_login_internal_s"] = seconds


def test_an_internal_grant_without_mfa_logs_in_with_its_key_alone(lab):
    ok, seconds = _ssh(lab, KEY_ONLY, None)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"plantctl-lab {KEY_ONLY[4]}"
    lab.timings["key_only_login_s"] = seconds
    done = subprocess.run(
        [PY, "-m", "plantctl", "access", "otp-uri", KEY_ONLY[2], "--site", SITE,
         "--inventory", str(lab.inventory), "--state-dir", str(lab.state)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "mfa: false" in done.stderr


def test_destroy_leaves_nothing(lab):
    lab.stackrun("destroy")
    lab.destroyed = True
    assert leftovers(lab.prefix) == []
    assert not (lab.state / "oath" / "users.oath").exists()
