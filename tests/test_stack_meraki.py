"""The production target (Cisco Meraki MX) under Pulumi's mock runtime: what it would create for
the sample plant. Mocks are set before the program is imported; assertions run inside apply."""

from __future__ import annotations

import json

import pulumi
import pytest
from meraki_mocks import KEY, ROOT, Recorder, meraki_program

L3 = "meraki:networks/applianceFirewallL3FirewallRules:ApplianceFirewallL3FirewallRules"
INBOUND = (
    "meraki:networks/applianceFirewallInboundFirewallRules:ApplianceFirewallInboundFirewallRules"
)
VLAN = "meraki:networks/applianceVlans:ApplianceVlans"
DYNAMIC = "pulumi-python:dynamic:Resource"


@pytest.fixture
def production(tmp_path):
    """The program for stack `ridgeway` on the Meraki target, with fresh mocks."""
    with meraki_program(
        tmp_path / "out", preview=False, ssh_keys={"dokafor": KEY, "rkessler": KEY}
    ) as run:
        yield run


def settled(components: dict) -> pulumi.Output:
    """Resolves once every child resource of the components is registered."""
    children = []
    for comp in components.values():
        for child in comp.children.values():
            children += list(child.values()) if isinstance(child, dict) else [child]
    return pulumi.Output.all(*[c.urn for c in children])


@pulumi.runtime.test
def test_one_vlan_per_zone_with_its_router_and_no_dhcp(production):
    program, mocks = production
    components = program.main()

    def check(_):
        got = {v.inputs["name"]: v.inputs for v in mocks.of(VLAN)}
        assert set(got) == {
            "cell-machining",
            "cell-molding",
            "sis-molding",
            "supervisory",
            "site-ops",
            "dmz",
            "remote-access",
            "enterprise",
        }
        assert got["cell-machining"]["vlanId"] == "111"
        assert got["cell-machining"]["subnet"] == "10.20.11.0/24"
        assert got["cell-machining"]["applianceIp"] == "10.20.11.1"
        assert (got["dmz"]["vlanId"], got["dmz"]["subnet"]) == ("135", "10.20.35.0/24")
        assert all(v["networkId"] == "L_1234" for v in got.values())
        assert {v["dhcpHandling"] for v in got.values()} == {"Do not respond to DHCP requests"}
        settings = mocks.one("meraki:networks/applianceVlansSettings:ApplianceVlansSettings")
        assert settings["vlansEnabled"] is True

    return settled(components).apply(check)


@pulumi.runtime.test
def test_l3_rules_are_the_conduits_then_default_deny(production):
    program, mocks = production
    components = program.main()

    def check(_):
        l3 = mocks.one(L3)
        rules = l3["rules"]
        comments = [r["comment"] for r in rules]
        assert comments == [
            "gateways-read-machining/opcua",
            "gateways-read-molding/modbus",
            "hmi-machining/opcua",
            "hmi-machining/modbus",
            "gateways-publish/mqtts",
            "mes-subscribe/mqtts",
            "dashboards-subscribe/mqtts",
            "staff-to-bastion/ssh",
            "bastion-to-supervisory/ssh",
            "bastion-to-supervisory/https",
            "deny-other-zone-traffic",
            "enterprise-egress/https",
            "default-deny",
        ]
        first = rules[0]
        assert first == {
            "comment": "gateways-read-machining/opcua",
            "policy": "allow",
            "protocol": "tcp",
            "srcCidr": "10.20.20.21",
            "srcPort": "any",
            "destCidr": "10.20.11.21,10.20.11.22",
            "destPort": "4840",
            "syslogEnabled": False,
        }
        by = {r["comment"]: r for r in rules}
        # a conduit without destinations opens the whole destination zone, no more
        assert by["hmi-machining/modbus"]["destCidr"] == "10.20.11.0/24"
        assert by["dashboards-subscribe/mqtts"]["srcCidr"] == "10.20.40.0/24"
        assert by["deny-other-zone-traffic"]["policy"] == "deny"
        assert by["deny-other-zone-traffic"]["destCidr"] == "10.20.0.0/16"
        assert by["enterprise-egress/https"]["destCidr"] == "any"
        assert rules[-1] == {
            "comment": "default-deny",
            "policy": "deny",
            "protocol": "any",
            "srcCidr": "any",
            "srcPort": "any",
            "destCidr": "any",
            "destPort": "any",
        }
        assert all(r["policy"] == "allow" for r in rules if r["comment"].count("/"))

    return settled(components).apply(check)


@pulumi.runtime.test
def test_inbound_rules_only_vendors_to_the_bastion(production):
    program, mocks = production
    components = program.main()

    def check(_):
        rules = mocks.one(INBOUND)["rules"]
        assert [(r["comment"], r["policy"]) for r in rules] == [
            ("vendors-to-bastion/ssh", "allow"),
            ("default-deny", "deny"),
        ]
        assert rules[0]["destCidr"] == "10.20.36.10"
        assert rules[0]["destPort"] == "22"

    return settled(components).apply(check)


@pulumi.runtime.test
def test_broker_and_bastion_configuration_for_ansible(production):
    program, mocks = production
    components = program.main()

    def check(_):
        files = {r.name: r.inputs for r in mocks.of(DYNAMIC)}
        broker = files["ridgeway-broker-config"]
        assert broker["declares"]["listeners"] == [
            {"address": "10.20.35.10", "port": 8883, "tls": True, "require_certificate": True}
        ]
        conf = broker["files"]["mosquitto.conf"]
        assert "allow_anonymous false" in conf
        assert "require_certificate true" in conf
        assert (
            "user role.operator\ntopic read ridgeway/+/+/downtime-reasons/+"
            in (broker["files"]["acl"])
        )
        bastion = files["ridgeway-bastion-config"]
        [entry] = bastion["declares"]["entries"]  # g-rw-0008 starts on 2026-12-03
        assert entry["grant"] == "g-rw-0007"
        assert entry["permits"] == ["10.20.20.22:22"]
        assert entry["expiry"] == "202612112200Z"
        keys = bastion["files"]["authorized_keys.g-rw-0007"]
        assert 'permitopen="10.20.20.22:22"' in keys
        assert 'expiry-time="202612112200Z"' in keys
        assert 'from="10.20.40.0/24"' in keys

    return settled(components).apply(check)


# -- the plan policy on the production plan ------------------------------------------------------


def steps_of(mocks: Recorder) -> list[dict]:
    """The mock registrations as the steps of `pulumi preview --json`."""
    return [
        {
            "op": "create",
            "urn": f"urn:pulumi:ridgeway::plant::{r.typ}::{r.name}",
            "newState": {"type": r.typ, "inputs": json.loads(json.dumps(r.inputs))},
        }
        for r in mocks.resources
    ]


def check_plan(steps: list[dict]) -> dict:
    from plantctl.gate import plan_check
    from plantctl.model.loader import load

    return plan_check.evaluate(
        load(ROOT / "inventory"), "ridgeway", {"steps": steps}, ROOT / "policies"
    )


@pulumi.runtime.test
def test_the_production_plan_passes_the_plan_policy(production):
    program, mocks = production
    components = program.main()

    def check(_):
        decision = check_plan(steps_of(mocks))
        assert decision["violations"] == []
        assert decision["counts"]["resources"] >= 10

    return settled(components).apply(check)


@pulumi.runtime.test
def test_a_hand_added_allow_rule_fails_the_plan_policy(production):
    program, mocks = production
    components = program.main()

    def check(_):
        steps = steps_of(mocks)
        l3 = next(s for s in steps if s["newState"]["type"] == L3)
        rules = l3["newState"]["inputs"]["rules"]
        rules.insert(0, {**rules[0], "comment": "vendor shortcut", "srcCidr": "any"})
        decision = check_plan(steps)
        assert [(v["rule"], v["msg"]) for v in decision["violations"]] == [
            (
                "PLAN-001",
                'firewall rule "vendor shortcut" (allow tcp any -> 10.20.11.21,10.20.11.22 port '
                "4840) is not a declared conduit of site ridgeway; declare it in conduits.yaml "
                "or remove it",
            )
        ]

    return settled(components).apply(check)


@pulumi.runtime.test
def test_no_lab_stand_in_is_part_of_the_production_definition(production):
    program, mocks = production
    components = program.main()

    def check(_):
        types = {r.typ for r in mocks.resources}
        assert not [t for t in types if t.startswith("plantctl:lab:")]
        assert {"plantctl:network:SegmentedNetwork", "plantctl:broker:Broker"} <= types
        assert "plantctl:access:RemoteAccess" in types

    return settled(components).apply(check)
