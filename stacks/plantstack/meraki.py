"""Production network target: a Cisco Meraki MX security appliance per site.

Each zone is an MX VLAN (its inventory VLAN id, subnet and router address; no DHCP: plant
devices have documented static addresses). Conduits become L3 firewall rules, ordered so that the
appliance's implicit "allow any" never applies:

1. one allow rule per conduit service between internal zones (comment: the conduit id);
2. deny any source to the site supernet (everything else between zones);
3. one allow rule per conduit service from a zone to the internet;
4. deny any to any (default deny).

Conduits from the internet (vendors to the bastion) become inbound firewall rules on the
appliance's WAN side, followed by an explicit deny.

The production bastion is not a Meraki resource: its `sshd_config` and key files are written for
the hosts' Ansible roles (plantstack.hosts). It enforces a grant's end by `expiry-time` only
(whole minutes), gets a grant from the first stack run after its start, has no TOTP seeds (MFA
accounts cannot log in: fails closed), and neither closes open sessions at the end nor supports
`plantctl access revoke`; docs/remote-access.md says what the lab bastion does beyond that.
"""

from __future__ import annotations

import pulumi
import pulumi_meraki as meraki

from plantctl.plant.segmentation import INTERNET, Flow, Segmentation

DENY_ALL = {
    "policy": "deny",
    "protocol": "any",
    "src_cidr": "any",
    "src_port": "any",
    "dest_cidr": "any",
    "dest_port": "any",
}


def _cidrs(items: tuple[str, ...]) -> str:
    return ",".join(items) if items else "any"


def rule(flow: Flow) -> dict:
    return {
        "comment": flow.name,
        "policy": "allow",
        "protocol": flow.service.protocol,
        "src_cidr": _cidrs(flow.sources),
        "src_port": "any",
        "dest_cidr": _cidrs(flow.destinations),
        "dest_port": flow.service.ports or "any",
        "syslog_enabled": False,
    }


def l3_rules(seg: Segmentation) -> list[dict]:
    """The ordered outbound (LAN) rule list, ending in default deny."""
    internal = [f for f in seg.flows if INTERNET not in (f.source_zone, f.destination_zone)]
    egress = [f for f in seg.flows if f.destination_zone == INTERNET]
    rules = [rule(f) for f in internal]
    rules.append({**DENY_ALL, "dest_cidr": seg.supernet, "comment": "deny-other-zone-traffic"})
    rules += [rule(f) for f in egress]
    rules.append({**DENY_ALL, "comment": "default-deny"})
    return rules


def inbound_rules(seg: Segmentation) -> list[dict]:
    rules = [rule(f) for f in seg.flows if f.source_zone == INTERNET]
    rules.append({**DENY_ALL, "comment": "default-deny"})
    return rules


class MerakiTarget:
    """Realises SegmentedNetwork on one Meraki network (an MX appliance) by its network id."""

    def __init__(self, network_id: str, provider: pulumi.ProviderResource | None = None):
        self.network_id = network_id
        self.provider = provider

    def _opts(self, parent, **kw) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, provider=self.provider, **kw)

    def network(self, parent: pulumi.ComponentResource, seg: Segmentation) -> dict:
        missing = [z.id for z in seg.zones if z.vlan is None]
        if missing:
            raise ValueError(
                f"site {seg.site}: zones {', '.join(missing)} have no VLAN id; the MX needs one"
            )
        enabled = meraki.networks.ApplianceVlansSettings(
            f"{seg.site}-vlans-enabled",
            network_id=self.network_id,
            vlans_enabled=True,
            opts=self._opts(parent),
        )
        vlans = {}
        for zone in seg.zones:
            vlans[zone.id] = meraki.networks.ApplianceVlans(
                f"{seg.site}-vlan-{zone.id}",
                network_id=self.network_id,
                vlan_id=str(zone.vlan),
                name=zone.id,
                subnet=zone.cidr,
                appliance_ip=zone.router,
                dhcp_handling="Do not respond to DHCP requests",
                opts=self._opts(parent, depends_on=[enabled]),
            )
        l3 = meraki.networks.ApplianceFirewallL3FirewallRules(
            f"{seg.site}-l3-firewall",
            network_id=self.network_id,
            rules=[
                meraki.networks.ApplianceFirewallL3FirewallRulesRuleArgs(**r) for r in l3_rules(seg)
            ],
            syslog_default_rule=False,
            opts=self._opts(parent, depends_on=list(vlans.values())),
        )
        inbound = meraki.networks.ApplianceFirewallInboundFirewallRules(
            f"{seg.site}-inbound-firewall",
            network_id=self.network_id,
            rules=[
                meraki.networks.ApplianceFirewallInboundFirewallRulesRuleArgs(**r)
                for r in inbound_rules(seg)
            ],
            syslog_default_rule=False,
            opts=self._opts(parent, depends_on=list(vlans.values())),
        )
        return {"vlans": vlans, "l3_firewall": l3, "inbound_firewall": inbound}
