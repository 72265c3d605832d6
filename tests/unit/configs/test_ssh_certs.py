"""Unit tests of plantctl.configs.ssh_certs (the grant window as a user certificate), the sshd
lines that trust the bastion CA, and the plan's pending grants (deployable before their start)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from plantctl.configs import authorized_keys, ssh_certs, sshd_config
from plantctl.model import tokens
from plantctl.plant import grants

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForAuthorizedKeysUnitTests000000000000"
KEYS = {"dokafor": KEY, "rkessler": KEY}
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # g-rw-0007 active, g-rw-0008 starts later


def _plan(inv, now: datetime = NOW):
    return grants.build(inv, "ridgeway", KEYS, now=now)


def test_a_grant_that_starts_later_is_skipped_and_pending(plant):
    plan = _plan(plant)
    assert [e.grant for e in plan.entries] == ["g-rw-0007"]
    assert [e.grant for e in plan.pending] == ["g-rw-0008"]
    assert ("g-rw-0008", "it starts at 2026-12-03T08:00:00-05:00; deploy again then") in {
        (s.grant, s.reason) for s in plan.skipped
    }


def test_validity_is_the_grant_window_in_utc_to_the_second(plant):
    [vendor] = _plan(plant).pending
    assert ssh_certs.validity(vendor) == "20261203130000Z:20261203190000Z"
    assert ssh_certs.identity(vendor) == "grant:g-rw-0008:rkessler"
    assert ssh_certs.principal(vendor) == "g-rw-0008"


def test_principals_carry_the_grants_restrictions(plant):
    [vendor] = _plan(plant).pending
    text = ssh_certs.render_principals(vendor)
    line = text.splitlines()[1]
    assert line == f"{authorized_keys.options(vendor)} g-rw-0008"
    assert 'permitopen="10.20.20.10:443"' in line and 'expiry-time="' in line


def test_sign_args_refuse_malformed_values():
    good = ("ca", "grant:g-rw-0008:rkessler", "g-rw-0008", "20261203130000Z:20261203190000Z")
    args = ssh_certs.sign_args(*good, 1, "k.pub")
    assert args[args.index("-V") + 1] == good[3]
    assert args[-5:] == ["-O", "clear", "-O", "permit-port-forwarding", "k.pub"]
    for bad in [
        ("ca", "grant:x:y -O permit-pty", "g-rw-0008", good[3]),
        ("ca", good[1], "root ALL", good[3]),
        ("ca", good[1], good[2], "always:forever"),
    ]:
        with pytest.raises(tokens.UnsafeToken):
            ssh_certs.sign_args(*bad, 1, "k.pub")


def test_sshd_trusts_the_ca_only_when_asked():
    text = sshd_config.render("10.20.36.10", 22, ("g-rw-0007",), (), True)
    assert f"TrustedUserCAKeys {ssh_certs.CA_FILE}\n" in text
    assert f"AuthorizedPrincipalsFile {ssh_certs.PRINCIPALS_DIR}/%u\n" in text
    assert "TrustedUserCAKeys" not in sshd_config.render("10.20.36.10", 22, ("g-rw-0007",))


# Only a machine without `make setup` skips it; in CI (openssh-client installed) it always runs.
@pytest.mark.skipif(
    not os.environ.get("CI") and not shutil.which("ssh-keygen"), reason="no ssh-keygen"
)
def test_the_certificate_is_valid_for_the_window_only(plant, tmp_path):
    [vendor] = _plan(plant).pending
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "ca"], check=True
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "k"], check=True
    )
    args = ssh_certs.sign_args(
        str(tmp_path / "ca"), ssh_certs.identity(vendor), ssh_certs.principal(vendor),
        ssh_certs.validity(vendor), 7, str(tmp_path / "k.pub"),
    )  # fmt: skip
    subprocess.run(args, check=True)
    shown = subprocess.run(
        ["ssh-keygen", "-L", "-f", tmp_path / "k-cert.pub"], capture_output=True, text=True
    ).stdout
    assert 'Key ID: "grant:g-rw-0008:rkessler"' in shown
    assert "g-rw-0008" in shown.split("Principals:")[1].split("Critical")[0]
    valid = shown.split("Valid:")[1].splitlines()[0]
    assert "2026-12-03T13:00:00" in valid or "2026-12-03T08:00:00" in valid  # local time zone
    extensions = shown.split("Extensions:")[1].split()
    assert extensions == ["permit-port-forwarding"]
