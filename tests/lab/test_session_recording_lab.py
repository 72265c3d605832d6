"""Session recording on a gateway (issue 14, item 3): the gateway_base role, converged by Ansible
through the bastion onto a booted gateway, gives each grant to that gateway an account, and
grants with `session_recording: true` tlog-rec-session as login shell; a session opened as that
grant is read back from the gateway's journal (tlog's own JSON records), and `plantctl access
log` finds it. A grant without recording and an admin are not recorded.

A small lab of its own (the site's zones, an IT workstation, a jump bastion, gw-rw-01), from a
private inventory copy with two grants to gw-rw-01 added and test keys for the people; the
converge runs only the role's access tasks (`--tags access`). Traffic only goes to addresses
inside the namespaces this test creates.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from lab_plant import ROOT, SITE, inventory_with_keys, make_keys, write_ssh_config

from plantctl.lab import File, Lab, cleanup
from plantctl.model.loader import load

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(900)]

GW = "gw-rw-01"
RECORDED, PLAIN = "g-rw-9010", "g-rw-9011"
VENDOR = "rkessler"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _grants(now: datetime) -> str:
    window = (
        f"start: {_stamp(now - timedelta(hours=1))}\n    end: {_stamp(now + timedelta(hours=3))}"
    )
    return f"""
  - id: {RECORDED}
    person: {VENDOR}
    site: {SITE}
    target: {GW}
    services: [{{protocol: tcp, port: 22, name: ssh}}]
    {window}
    ticket: CHG-9010
    justification: Lab test of a recorded vendor shell on a gateway
    via: rw-bastion
    mfa: true
    session_recording: true
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
      - {{person: tberg, team: it-security, date: {now:%Y-%m-%d}}}
  - id: {PLAIN}
    person: kito
    site: {SITE}
    target: {GW}
    services: [{{protocol: tcp, port: 22, name: ssh}}]
    {window}
    ticket: CHG-9011
    justification: Lab test of an internal shell on a gateway without recording
    via: rw-bastion
    mfa: false
    session_recording: false
    approvals:
      - {{person: mlopez, team: ops-ridgeway, date: {now:%Y-%m-%d}}}
"""


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the lab tests need root; CI runs them as root")
        pytest.skip("the lab tests need root (namespaces, nspawn); CI runs them as root")
    assert os.path.exists("/usr/bin/tlog-rec-session"), "tlog is not installed (apt-packages)"
    cleanup.remove_stale()
    work = tmp_path_factory.mktemp("recording")
    keys = make_keys(work)
    vendor_key = work / "keys" / VENDOR
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "v@lab", "-f", str(vendor_key)],
        check=True,
    )
    keys[VENDOR] = vendor_key
    inventory = inventory_with_keys(work, keys)
    people = inventory / "org/people.yaml"
    pub = vendor_key.with_suffix(".pub").read_text().strip()
    text, n = re.subn(
        r"(\{login: rkessler, [^}]*)\}", rf'\1, ssh_public_key: "{pub}"}}', people.read_text()
    )
    assert n == 1
    people.write_text(text)
    grants = inventory / "access/grants.yaml"
    grants.write_text(grants.read_text().rstrip("\n") + _grants(datetime.now(UTC)))
    inv = load(inventory)
    site = inv.get("site", SITE).data
    bastion = site["services"]["bastion"]
    gw_address = inv.get("gateway", GW).data["address"]
    with Lab() as lab:
        net = lab.site_network(inv, SITE)
        from plantctl.model import addressing

        ctl = net.host("it-ws", "enterprise", addressing.allocate(inv, SITE, "enterprise")[0])
        ns_b = net.host(bastion["id"], bastion["zone"], bastion["address"])
        ns_g = net.host(GW, inv.get("gateway", GW).data["zone"], gw_address)
        jump = keys["jump"].with_suffix(".pub").read_text()
        provision = keys["provision"].with_suffix(".pub").read_text()
        machines = {
            "bastion": lab.machine(
                bastion["id"], ns_b, services=["ssh.service"],
                files={"/root/.ssh/authorized_keys": File(jump, 0o600)},
            ),
            "gw": lab.machine(
                GW, ns_g, services=["ssh.service"], capabilities=["CAP_NET_ADMIN"],
                files={"/root/.ssh/authorized_keys": File(provision, 0o600)},
            ),
        }  # fmt: skip
        lab.boot(*machines.values())
        host_keys = {
            address: m.run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout
            for address, m in (
                (bastion["address"], machines["bastion"]),
                (gw_address, machines["gw"]),
            )
        }
        ssh_config = write_ssh_config(work, keys, ctl, bastion["address"], "10.20.20.*", host_keys)
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_SSH_ARGS": f"-F {ssh_config} -o ControlMaster=auto -o ControlPersist=60s",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp"),
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }
        started = time.monotonic()
        converge = subprocess.run(
            [str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
             "-i", str(inventory / "plantctl.ansible.yml"), str(ROOT / "playbooks/gateways.yml"),
             "--limit", GW, "-u", "root", "--tags", "access"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert converge.returncode == 0, converge.stdout[-4000:] + converge.stderr[-2000:]
        yield {
            "lab": lab,
            "work": work,
            "keys": keys,
            "inventory": inventory,
            "ssh_config": ssh_config,
            "gw": machines["gw"],
            "gw_address": gw_address,
            "converge_s": round(time.monotonic() - started, 1),
        }
        for sock in (work / "cp").glob("*"):
            subprocess.run(
                ["ssh", "-F", str(ssh_config), "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                capture_output=True, check=False, timeout=10,
            )  # fmt: skip


def _login(rec, account: str, key: str, command: str) -> subprocess.CompletedProcess:
    """ssh through the bastion to the gateway as a grant account, running `command`."""
    return subprocess.run(
        ["ssh", "-F", str(rec["ssh_config"]), "-i", str(rec["keys"][key]),
         "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "IdentitiesOnly=yes",
         "-l", account, rec["gw_address"], command],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _tlog_records(gw) -> list[dict]:
    out = gw.run(["journalctl", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER=tlog-rec-session"])
    found = []
    for line in out.stdout.splitlines():
        entry = json.loads(line)
        found.append({**entry, "record": json.loads(entry["MESSAGE"])})
    return found


def _wait_records(gw, marker: str, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        hits = [r for r in _tlog_records(gw) if marker in r["record"].get("out_txt", "")]
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.5)


@pytest.mark.enforces("RA-010", "RA-020")
def test_recorded_grant_accounts_have_tlog_as_shell_others_do_not(rec):
    gw = rec["gw"]
    print(f"converge (access tags) {rec['converge_s']} s")
    shells = {
        a: gw.run(["getent", "passwd", a]).stdout.strip().split(":")[-1]
        for a in (RECORDED, PLAIN, "dokafor")
    }
    assert shells == {
        RECORDED: "/usr/bin/tlog-rec-session", PLAIN: "/bin/bash", "dokafor": "/bin/bash"
    }  # fmt: skip
    groups = gw.run(["id", "-nG", RECORDED]).stdout.split()
    assert "plantctl-grants" in groups and "plantctl-admins" not in groups
    line = gw.path(f"/etc/ssh/authorized_keys/{RECORDED}").read_text().splitlines()[-1]
    assert line.startswith('from="10.20.36.10",restrict,pty,expiry-time="')
    assert "/bin/bash" in gw.path("/etc/tlog/tlog-rec-session.conf").read_text()


@pytest.mark.enforces("RA-010", "RA-020")
def test_a_recorded_session_is_read_back_from_the_gateway_journal(rec):
    marker = f"recorded-{time.time_ns()}"
    done = _login(rec, RECORDED, VENDOR, f"echo {marker}; id -un")
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout and RECORDED in done.stdout
    hits = _wait_records(rec["gw"], marker)
    assert hits, "no tlog record of the session in the gateway's journal"
    record = hits[0]["record"]
    assert record["user"] == RECORDED
    assert hits[0]["TLOG_USER"] == RECORDED  # the journal's own fields (augment)
    assert record["host"] == GW
    # the grant's output, not only the marker: the whole command's answer is there
    text = "".join(r["record"].get("out_txt", "") for r in _tlog_records(rec["gw"])
                   if r["record"]["session"] == record["session"])  # fmt: skip
    assert marker in text and RECORDED in text


def test_a_grant_without_recording_and_an_admin_are_not_recorded(rec):
    marker = f"plain-{time.time_ns()}"
    done = _login(rec, PLAIN, "kito", f"echo {marker}")
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout
    admin = _login(rec, "dokafor", "dokafor", f"echo {marker}-admin")
    assert admin.returncode == 0, admin.stderr
    time.sleep(3)  # more than tlog's latency (2 s): a recording would be in the journal now
    assert _wait_records(rec["gw"], marker, timeout=0) == []


def test_the_vendor_key_is_refused_for_another_grant_account(rec):
    done = _login(rec, PLAIN, VENDOR, "true")
    assert done.returncode == 255
    assert "Permission denied" in done.stderr or "Too many authentication failures" in done.stderr


def test_access_log_lists_the_recorded_session(rec):
    marker = f"logged-{time.time_ns()}"
    assert _login(rec, RECORDED, VENDOR, f"echo {marker}").returncode == 0
    assert _wait_records(rec["gw"], marker)
    since = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = subprocess.run(
        [sys.executable, "-m", "plantctl", "access", "log", "--site", SITE,
         "--inventory", str(rec["inventory"]), "--prefix", rec["lab"].prefix,
         "--since", since, "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    log = json.loads(done.stdout)
    recorded = [s for s in log["recordings"] if s["grant"] == RECORDED]
    assert recorded and all(s["gateway"] == GW for s in recorded)
    assert any(marker in s["output"] for s in recorded)
    assert not [s for s in log["recordings"] if s["grant"] == PLAIN]
