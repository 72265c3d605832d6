"""Unit tests of plantctl.configs.grant_reaper: the ends file from the grants' ends, and the
reaper script run by the real sh with stand-ins for pkill and logger (the lab test,
tests/test_bastion_window.py, runs it on the booted bastion against real sshd sessions)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime

import pytest

from plantctl.configs import grant_reaper, ssh_certs, sshd_config
from plantctl.model import tokens
from plantctl.plant import grants

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForGrantUnitTests00000000000000000000"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_the_ends_file_holds_each_deployed_account_and_its_certificate_end(plant):
    plan = grants.build(plant, "ridgeway", {"dokafor": KEY, "rkessler": KEY}, now=NOW)
    deployed = plan.entries + plan.pending
    text = grant_reaper.render_ends(deployed)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    # the end the certificate is signed with (ssh_certs.validity), in seconds since the epoch
    for entry in deployed:
        end = datetime.strptime(ssh_certs.validity(entry).split(":")[1], "%Y%m%d%H%M%SZ")
        assert f"{entry.account} {int(end.replace(tzinfo=UTC).timestamp())}" in lines
    assert len(lines) == 2


def test_revocation_moves_one_accounts_end_and_keeps_the_others():
    text = "# header\ng-rw-0007 1800000000\ng-rw-0008 1900000000\n"
    moved = grant_reaper.with_end(text, "g-rw-0008", 1700000000)
    assert moved.splitlines() == ["# header", "g-rw-0007 1800000000", "g-rw-0008 1700000000"]
    assert grant_reaper.with_end("", "g-rw-0009", 5) == "g-rw-0009 5\n"
    with pytest.raises(tokens.UnsafeToken):
        grant_reaper.with_end(text, "bad name;", 5)


def test_sshd_reads_the_krl_with_certificates():
    text = sshd_config.render("10.20.36.10", 22, ("g-rw-0007",), (), True)
    assert f"RevokedKeys {ssh_certs.KRL_FILE}\n" in text
    assert "RevokedKeys" not in sshd_config.render("10.20.36.10", 22, ("g-rw-0007",))
    assert ssh_certs.krl_spec(["grant:g-1:abello", "grant:g-1:abello"]) == "id: grant:g-1:abello\n"
    with pytest.raises(tokens.UnsafeToken):
        ssh_certs.krl_spec(["grant:g-1:abello\nkey: ssh-ed25519 AAAA"])


def test_the_unit_is_wanted_by_sshd_and_restarted():
    assert f"Wants={grant_reaper.UNIT}" in grant_reaper.render_ssh_dropin()
    unit = grant_reaper.render_unit()
    assert f"ExecStart={grant_reaper.SCRIPT}" in unit and "Restart=always" in unit
    files = grant_reaper.files(())
    assert files[grant_reaper.SCRIPT]["mode"] == 0o755
    assert set(files) == {grant_reaper.SCRIPT, grant_reaper.UNIT_FILE, grant_reaper.SSH_DROPIN,
                          grant_reaper.ENDS_FILE}  # fmt: skip


@pytest.mark.skipif(not os.environ.get("CI") and not shutil.which("sh"), reason="no sh")
def test_the_script_kills_only_accounts_whose_end_has_passed(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "pkill").write_text(f'#!/bin/sh\necho "pkill $*" >> {calls}\nexit 0\n')
    (bin_dir / "logger").write_text(f'#!/bin/sh\necho "logger $*" >> {calls}\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    ends = tmp_path / "ends"
    now = int(time.time())
    ends.write_text(
        f"# comment\ng-ended {now - 5}\ng-later {now + 3600}\ng-garbled soon\ng-revoked {now}\n"
    )
    script = tmp_path / "reaper"
    script.write_text(grant_reaper.render_script(str(ends)))
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(["sh", str(script)], env=env, timeout=1.5)
    seen = calls.read_text().splitlines()
    assert "pkill -KILL -u g-ended" in seen and "pkill -KILL -u g-revoked" in seen
    assert not any("g-later" in line or "g-garbled" in line for line in seen)
    assert any(line.startswith("logger -t plantctl-grant-reaper closed the sessions of g-ended")
               for line in seen)  # fmt: skip
