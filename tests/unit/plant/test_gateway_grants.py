"""Unit tests of plantctl.plant.gateway_grants: the grant accounts a gateway role creates (the lab
test, tests/lab/test_session_recording_lab.py, converges them onto a booted gateway)."""

from __future__ import annotations

from datetime import UTC, datetime

from plantctl.plant import gateway_grants, gateway_vars

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RECORDED = """
  - id: g-rw-9010
    person: rkessler
    site: ridgeway
    target: gw-rw-01
    services: [{protocol: tcp, port: 20, port_end: 23, name: ftp-to-ssh}]
    start: 2026-11-22T08:00:00Z
    end: 2026-11-22T16:00:00Z
    ticket: CHG-9010
    justification: A recorded vendor shell on a gateway
    via: rw-bastion
    mfa: true
    session_recording: true
    approvals:
      - {person: mlopez, team: ops-ridgeway, date: 2026-11-20}
  - id: g-rw-9011
    person: kito
    site: ridgeway
    target: gw-rw-01
    services: [{protocol: tcp, port: 443, name: https}]
    start: 2026-11-22T08:00:00Z
    end: 2026-11-22T16:00:00Z
    ticket: CHG-9011
    justification: A web UI only, no shell on the gateway
    via: rw-bastion
    mfa: false
    session_recording: false
    approvals:
      - {person: mlopez, team: ops-ridgeway, date: 2026-11-20}
"""


def test_a_gateway_gets_its_ssh_grants_with_their_end_and_recording(load_plant):
    inv = load_plant(("access/grants.yaml", None, RECORDED))
    assert gateway_grants.for_gateway(inv, "gw-rw-01", NOW) == [
        {"account": "g-rw-9010", "grant": "g-rw-9010", "login": "rkessler",
         "ssh_public_key": None, "expiry": "202611221600Z", "recorded": True},
    ]  # fmt: skip
    [sample] = gateway_grants.for_gateway(inv, "gw-rw-02", NOW)
    assert sample["grant"] == "g-rw-0007" and sample["recorded"] is False
    assert sample["expiry"] == "202612112200Z"  # 17:00 -05:00 in UTC
    # ended: gone (the role removes its account)
    later = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert gateway_grants.for_gateway(inv, "gw-rw-01", later) == []


def test_the_plugin_hands_them_to_the_role(plant):
    hostvars = gateway_vars.for_gateway(plant, "gw-rw-02")
    assert [g["account"] for g in hostvars["plantctl_grants"]] == ["g-rw-0007"]
    assert gateway_vars.for_gateway(plant, "gw-rw-01")["plantctl_grants"] == []
