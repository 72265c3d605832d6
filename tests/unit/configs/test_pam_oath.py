"""Unit tests of the bastion's second factor: plantctl.configs.pam_oath (PAM stack, users file,
otpauth URI), the sshd Match block for MFA accounts, the plan's mfa flag and the seeds file of
the lab provider (kept across updates, 0600, only a fingerprint out)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from plantctl.configs import pam_oath, sshd_config
from plantctl.model import tokens
from plantctl.plant import grants
from plantctl.providers import lab_oath

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForAuthorizedKeysUnitTests000000000000"
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # g-rw-0007 and g-rw-0008 both active
SEED = "3132333435363738393031323334353637383930"  # RFC 6238's test seed, "1234567890" x2


def test_pam_auth_is_pam_oath_alone():
    text = pam_oath.render_pam()
    auth = [line for line in text.splitlines() if line.startswith("auth")]
    assert auth[0].split()[3] == "pam_oath.so"
    assert f"usersfile={pam_oath.USERS_FILE}" in auth[0]
    assert "window=1" in auth[0] and "digits=6" in auth[0]
    assert auth[1:] == ["auth requisite pam_deny.so"]
    assert "common-auth" not in text and "pam_unix" not in text  # no Unix passwords
    assert "password requisite pam_deny.so" in text


@pytest.mark.parametrize("kw", [{"window": 9}, {"digits": 4}, {"users_file": "/x y"}])
def test_pam_refuses_odd_parameters(kw):
    with pytest.raises(tokens.UnsafeToken):
        pam_oath.render_pam(**kw)


def test_users_file_round_trip_and_quoting():
    seeds = [pam_oath.Seed("g-rw-0008", SEED), pam_oath.Seed("g-rw-0007", "ab" * 20)]
    text = pam_oath.render_users(seeds)
    assert text.splitlines()[1] == f"HOTP/T30/6 g-rw-0007 - {'ab' * 20}"
    assert pam_oath.parse_users(text) == {"g-rw-0007": "ab" * 20, "g-rw-0008": SEED}
    # pam_oath's rewrite appends the last code and its time: still parsed
    used = f"HOTP/T30/6 g-rw-0008 - {SEED} 287082 2026-12-03T15:00:00L\n"
    assert pam_oath.parse_users(used) == {"g-rw-0008": SEED}
    with pytest.raises(tokens.UnsafeToken):
        pam_oath.render_users([pam_oath.Seed("root ALL", SEED)])
    with pytest.raises(tokens.UnsafeToken):
        pam_oath.render_users([pam_oath.Seed("g-rw-0007", "not-hex")])


def test_otpauth_uri_is_the_seed_in_base32():
    uri = urlparse(pam_oath.otpauth_uri("ridgeway", "g-rw-0008", SEED))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/plantctl-ridgeway%3Ag-rw-0008"
    query = {k: v[0] for k, v in parse_qs(uri.query).items()}
    assert query["issuer"] == "plantctl-ridgeway"
    assert (query["digits"], query["period"], query["algorithm"]) == ("6", "30", "SHA1")
    secret = query["secret"]
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)).hex() == SEED


# Only a machine without `make setup` skips it; in CI (make setup installs oathtool) it runs.
@pytest.mark.skipif(
    not os.environ.get("CI") and not shutil.which("oathtool"), reason="oathtool not installed"
)
def test_the_uri_secret_and_the_users_file_seed_give_the_same_code():
    query = parse_qs(urlparse(pam_oath.otpauth_uri("ridgeway", "g-rw-0008", SEED)).query)
    at = "2026-12-03 15:00:00 UTC"
    by_hex = subprocess.run(["oathtool", "--totp", "-N", at, SEED], capture_output=True, text=True)
    by_b32 = subprocess.run(
        ["oathtool", "--totp", "-b", "-N", at, query["secret"][0]], capture_output=True, text=True
    )
    assert by_hex.stdout == by_b32.stdout and re.fullmatch(r"[0-9]{6}\n", by_hex.stdout)
    moment = datetime(2026, 12, 3, 15, 0, tzinfo=UTC).timestamp()
    assert pam_oath.totp(SEED, moment) == by_hex.stdout.strip()


def test_totp_matches_rfc_6238():
    # RFC 6238 appendix B, SHA-1, 8 digits
    for at, code in [(59, "94287082"), (1111111109, "07081804"), (2000000000, "69279037")]:
        assert pam_oath.totp(SEED, at, digits=8) == code


def test_grant_uri_refuses_what_has_no_seed():
    users = pam_oath.render_users([pam_oath.Seed("g-rw-0008", SEED)])
    grant = {"site": "ridgeway", "mfa": True}
    assert pam_oath.grant_uri("ridgeway", grant, "g-rw-0008", users).startswith("otpauth://")
    for site, g, gid, text, why in [
        ("ridgeway", None, "g-x", users, "no grant"),
        ("northfield", grant, "g-rw-0008", users, "no grant"),
        ("ridgeway", {"site": "ridgeway", "mfa": False}, "g-rw-0008", users, "mfa: false"),
        ("ridgeway", grant, "g-rw-0008", None, "no TOTP users file"),
        ("ridgeway", grant, "g-rw-0009", users, "no seed"),
    ]:
        with pytest.raises(ValueError, match=why):
            pam_oath.grant_uri(site, g, gid, text)


def test_sshd_asks_mfa_accounts_for_a_code_after_the_key():
    text = sshd_config.render("10.20.36.10", 22, ("g-rw-0007", "g-rw-9003"), ("g-rw-0007",))
    head, match = text.split("Match User ", 1)
    assert "AuthenticationMethods publickey\n" in head
    assert "KbdInteractiveAuthentication no\n" in head
    assert match.splitlines() == [
        "g-rw-0007",
        "    AuthenticationMethods publickey,keyboard-interactive",
        "    KbdInteractiveAuthentication yes",
    ]
    assert "Match" not in sshd_config.render("10.20.36.10", 22, ("g-rw-9003",))
    with pytest.raises(tokens.UnsafeToken):
        sshd_config.render("10.20.36.10", 22, ("g-rw-9003",), ("g-rw-0007",))


def test_plan_entries_carry_mfa_from_the_grant(plant):
    plan = grants.build(plant, "ridgeway", {"dokafor": KEY, "rkessler": KEY}, now=NOW)
    by_grant = {e.grant: e for e in plan.entries}
    assert by_grant["g-rw-0008"].mfa and by_grant["g-rw-0007"].mfa  # the sample asks for it
    assert by_grant["g-rw-0008"].totp_window == grants.TOTP_WINDOW


def test_seeds_are_kept_across_updates_and_stay_private(tmp_path):
    first = lab_oath.issue(tmp_path / "oath", ["g-rw-0007"])
    path = tmp_path / "oath" / "users.oath"
    assert first["users_file"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    seed = pam_oath.parse_users(path.read_text())["g-rw-0007"]
    assert len(seed) == 2 * pam_oath.SEED_BYTES
    assert seed not in repr(first)  # only the path and a fingerprint leave the provider
    second = lab_oath.issue(tmp_path / "oath", ["g-rw-0007", "g-rw-0008"])
    seeds = pam_oath.parse_users(path.read_text())
    assert seeds["g-rw-0007"] == seed and seeds["g-rw-0008"] != seed
    assert second["fingerprint"] != first["fingerprint"]
    lab_oath.issue(tmp_path / "oath", ["g-rw-0008"])
    assert set(pam_oath.parse_users(path.read_text())) == {"g-rw-0008"}
