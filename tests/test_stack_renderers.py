"""The generated files of the stacks, from the sample plant: nftables, Mosquitto, sshd and
authorized_keys. Inventory text is data: unsafe values are refused before they reach a file."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plantctl.configs import authorized_keys, mosquitto, nftables, sshd_config
from plantctl.model import tokens
from plantctl.model.loader import load
from plantctl.plant import broker_access, grants, segmentation

SAMPLE = Path(__file__).resolve().parents[1] / "inventory"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForRendererTests000000000000000000000"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def inv():
    return load(SAMPLE)


def test_every_conduit_service_is_one_rule_and_the_rest_is_dropped(inv):
    seg = segmentation.build(inv, "ridgeway")
    text = nftables.render(seg, {z.id: f"z{i}" for i, z in enumerate(seg.zones)})
    accepts = [
        line.strip()
        for line in text.splitlines()
        if line.strip().endswith('"') and "accept" in line
    ]
    assert len(accepts) == len(seg.flows) == 12
    assert "type filter hook forward priority filter; policy drop;" in text
    assert (
        "ip saddr 10.20.20.21 ip daddr { 10.20.11.21, 10.20.11.22 } tcp dport 4840 counter accept "
        'comment "gateways-read-machining/opcua"'
    ) in text
    # from and to the internet: anything outside the site supernet
    assert "ip saddr != 10.20.0.0/16 ip daddr 10.20.36.10 tcp dport 22" in text
    assert "ip saddr 10.20.40.0/24 ip daddr != 10.20.0.0/16 tcp dport 443" in text


# Only a machine without `make setup` skips it; in CI (make setup installs nft) it always runs.
@pytest.mark.skipif(
    not os.environ.get("CI") and (shutil.which("nft") is None or shutil.which("unshare") is None),
    reason="nft or unshare missing (make setup installs them)",
)
def test_nft_accepts_the_ruleset(inv, tmp_path):
    seg = segmentation.build(inv, "ridgeway")
    path = tmp_path / "plant.nft"
    path.write_text(nftables.render(seg, {z.id: f"z{i}" for i, z in enumerate(seg.zones)}))
    done = subprocess.run(
        ["unshare", "--net", "nft", "-c", "-f", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_zone_name_that_is_not_an_id_never_reaches_the_ruleset(inv):
    seg = segmentation.build(inv, "ridgeway")
    evil = dataclasses.replace(seg.flows[0], conduit='x" accept; flush ruleset; #')
    bad = dataclasses.replace(seg, flows=(evil,))
    with pytest.raises(tokens.UnsafeToken, match="is not an id"):
        nftables.render(bad)
    with pytest.raises(tokens.UnsafeToken, match="interface"):
        nftables.render(seg, {"dmz": 'eth0" accept'})


def test_broker_listens_with_tls_only_and_requires_a_client_certificate(inv):
    access = broker_access.build(inv, "ridgeway")
    conf = mosquitto.render_conf(access)
    assert "allow_anonymous false" in conf
    assert "listener 8883 10.20.35.10\ncafile /etc/mosquitto/plant/ca.crt" in conf
    assert "require_certificate true\nuse_identity_as_username true" in conf
    assert conf.count("listener ") == 1


def test_acl_roles_read_only_what_they_may_view_and_collectors_write_their_own(inv):
    access = broker_access.build(inv, "ridgeway")
    net_admin = access.account("role.network-admin")
    assert net_admin.read == ("ridgeway/+/+/machine-status/+",)
    assert net_admin.write == ()
    auditor = access.account("role.auditor")
    assert auditor.read == ("ridgeway/+/+/quality-records/+", "ridgeway/+/+/reports/+")
    col = access.account("gateway.gw-rw-03")  # its one collector: col-rw-comp-01
    assert col.collectors == ("col-rw-comp-01",)
    assert col.read == ()
    assert col.write == (
        "ridgeway/cell-molding/rw-comp-01/machine-status/running",
        "ridgeway/cell-molding/rw-comp-01/energy/energy",
        "ridgeway/cell-molding/rw-comp-01/energy/pressure",
    )
    # a role that views nothing gets no account (it may do nothing)
    with pytest.raises(KeyError):
        access.account("role.security-analyst")
    acl = mosquitto.render_acl(access)
    assert "user role.network-admin\ntopic read ridgeway/+/+/machine-status/+\n" in acl


def test_a_publish_prefix_with_wildcards_is_refused(inv):
    collector = dict(inv.get("collector", "col-rw-cnc-01").data, publish_prefix="ridgeway/#")
    with pytest.raises(tokens.UnsafeToken, match="publish_prefix"):
        broker_access.collector_topics(inv, collector, "ridgeway")


def test_active_grant_becomes_a_restricted_expiring_key(inv):
    plan = grants.build(inv, "ridgeway", {"dokafor": KEY, "rkessler": KEY}, now=NOW)
    [entry] = plan.entries
    assert (entry.grant, entry.account, entry.target) == ("g-rw-0007", "g-rw-0007", "gw-rw-02")
    assert authorized_keys.line(entry, KEY) == (
        'restrict,port-forwarding,permitopen="10.20.20.22:22",command="/usr/sbin/nologin",'
        'expiry-time="202612112200Z",from="10.20.40.0/24" '
        f"{KEY} grant:g-rw-0007:dokafor"
    )
    assert [(s.grant, s.reason) for s in plan.skipped] == [
        ("g-rw-0008", "it starts at 2026-12-03T08:00:00-05:00; deploy again then")
    ]


def test_vendor_grant_comes_from_the_internet_only_while_it_lasts(inv):
    during = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    plan = grants.build(inv, "ridgeway", {"dokafor": KEY, "rkessler": KEY}, now=during)
    vendor = next(e for e in plan.entries if e.grant == "g-rw-0008")
    assert vendor.external
    assert vendor.sources == ("!10.20.0.0/16", "*")
    assert vendor.permits == (("10.20.20.10", 443),)
    assert vendor.expiry == "202612031900Z"
    after = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    plan = grants.build(inv, "ridgeway", {"dokafor": KEY, "rkessler": KEY}, now=after)
    assert "g-rw-0008" not in [e.grant for e in plan.entries]


def test_no_key_no_end_no_entry(inv, sample):
    text = (sample / "access" / "grants.yaml").read_text()
    (sample / "access" / "grants.yaml").write_text(
        text.replace("end: 2026-12-11T17:00:00-05:00", "end: null")
    )
    plan = grants.build(load(sample), "ridgeway", {"rkessler": KEY}, now=NOW)
    assert plan.entries == ()
    assert ("g-rw-0007", "it has no end: no open-ended access is deployed") in [
        (s.grant, s.reason) for s in plan.skipped
    ]
    plan = grants.build(inv, "ridgeway", {}, now=NOW)
    assert ("g-rw-0007", "no public key for 'dokafor'") in [
        (s.grant, s.reason) for s in plan.skipped
    ]


@pytest.mark.parametrize(
    "key",
    [
        'ssh-ed25519 AAAA",permitopen="*:*',
        "command=/bin/sh ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake",
        "ssh-ed25519\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey",
    ],
)
def test_a_key_carrying_options_is_refused(inv, key):
    [entry] = grants.build(inv, "ridgeway", {"dokafor": KEY}, now=NOW).entries
    with pytest.raises(tokens.UnsafeToken):
        authorized_keys.line(entry, key)


def test_a_key_comment_is_dropped_not_copied(inv):
    [entry] = grants.build(inv, "ridgeway", {"dokafor": KEY}, now=NOW).entries
    line = authorized_keys.line(entry, KEY + ' evil",command="/bin/sh')
    assert "evil" not in line
    assert line.count("\n") == 0


def test_bastion_sshd_allows_only_grant_accounts_and_no_shell():
    text = sshd_config.render("10.20.36.10", 22, ("g-rw-0007",))
    assert "AllowUsers g-rw-0007" in text
    assert "PasswordAuthentication no" in text
    assert "PermitTTY no" in text
    assert "AllowTcpForwarding local" in text
    with pytest.raises(tokens.UnsafeToken):
        sshd_config.render("10.20.36.10", 22, ("root ALL",))
