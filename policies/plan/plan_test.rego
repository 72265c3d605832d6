package plant.plan_test

import data.plant.plan

# A site with three zones and two conduits, as the gate's input carries them.
site := {
	"site": "s1",
	"zones": {
		"s1/sup": {"cidr": "10.1.20.0/24"},
		"s1/cell": {"cidr": "10.1.11.0/24"},
		"s1/dmz": {"cidr": "10.1.35.0/24"},
	},
	"conduits": {
		"s1/gw-read": {
			"from": "sup", "to": "cell", "sources": ["10.1.20.21"],
			"services": [{"protocol": "tcp", "port": 502, "name": "modbus"}],
		},
		"s1/publish": {
			"from": "sup", "to": "dmz", "destinations": ["10.1.35.10"],
			"services": [{"protocol": "tcp", "port": 8883, "name": "mqtts"}],
		},
		"s1/egress": {"from": "sup", "to": "internet", "services": [{"protocol": "tcp", "port": 443}]},
	},
}

gw_read := {
	"conduit": "gw-read", "name": "gw-read/modbus", "from": "sup", "to": "cell",
	"sources": ["10.1.20.21"], "destinations": ["10.1.11.0/24"], "protocol": "tcp", "ports": "502",
}

publish := {
	"conduit": "publish", "name": "publish/mqtts", "from": "sup", "to": "dmz",
	"sources": ["10.1.20.0/24"], "destinations": ["10.1.35.10"], "protocol": "tcp", "ports": "8883",
}

step(urn, typ, inputs) := {"op": "create", "urn": urn, "newState": {"type": typ, "inputs": inputs}}

firewall(rules, policy) := step("urn:fw", "pulumi-python:dynamic:Resource", {"declares": {
	"kind": "firewall", "default_policy": policy,
	"rules": rules,
}})

with_steps(steps) := object.union(site, {"plan": {"steps": steps}})

rules_of(d) := {v.rule | some v in d.violations}

msgs(d) := {v.msg | some v in d.violations}

# -- PLAN-001 -----------------------------------------------------------------------------------

test_declared_conduit_rules_pass if {
	d := plan.decision with input as with_steps([firewall([gw_read, publish], "drop")])
	d.violations == []
	d.counts.resources == 1
}

test_rule_for_an_undeclared_conduit_fires if {
	extra := object.union(gw_read, {"conduit": "backdoor", "name": "backdoor/modbus"})
	d := plan.decision with input as with_steps([firewall([gw_read, extra], "drop")])
	msgs(d) == {concat("", [
		"firewall rule backdoor/modbus (sup -> cell, tcp 502) is not a declared conduit of site s1; ",
		"declare it in conduits.yaml or remove it",
	])}
	rules_of(d) == {"PLAN-001"}
}

test_rule_wider_than_its_conduit_fires if {
	wide := object.union(gw_read, {"sources": ["10.1.20.0/24"]})
	d := plan.decision with input as with_steps([firewall([wide], "drop")])
	rules_of(d) == {"PLAN-001"}
}

test_rule_on_another_port_fires if {
	other := object.union(gw_read, {"ports": "503"})
	d := plan.decision with input as with_steps([firewall([other], "drop")])
	msgs(d) == {concat("", [
		"firewall rule gw-read/modbus (sup -> cell, tcp 503) is not a declared conduit of site s1; ",
		"declare it in conduits.yaml or remove it",
	])}
}

meraki_l3 := "meraki:networks/applianceFirewallL3FirewallRules:ApplianceFirewallL3FirewallRules"

deny_all := {
	"policy": "deny", "protocol": "any", "srcCidr": "any", "srcPort": "any",
	"destCidr": "any", "destPort": "any", "comment": "default-deny",
}

meraki(rules) := step("urn:l3", meraki_l3, {"networkId": "N1", "rules": rules})

m_gw := {
	"comment": "gw-read/modbus", "policy": "allow", "protocol": "tcp",
	"srcCidr": "10.1.20.21", "destCidr": "10.1.11.0/24", "destPort": "502",
}

m_egress := {
	"comment": "egress/tcp-443", "policy": "allow", "protocol": "tcp",
	"srcCidr": "10.1.20.0/24", "destCidr": "any", "destPort": "443",
}

test_meraki_rules_of_conduits_pass if {
	d := plan.decision with input as with_steps([meraki([m_gw, m_egress, deny_all])])
	d.violations == []
}

test_meraki_allow_rule_without_conduit_fires if {
	hand := {
		"comment": "temp fix", "policy": "allow", "protocol": "any",
		"srcCidr": "any", "destCidr": "10.1.11.0/24", "destPort": "any",
	}
	d := plan.decision with input as with_steps([meraki([m_gw, hand, deny_all])])
	msgs(d) == {concat("", [
		`firewall rule "temp fix" (allow any any -> 10.1.11.0/24 port any) is not a declared conduit `,
		"of site s1; declare it in conduits.yaml or remove it",
	])}
}

test_meraki_deny_rules_need_no_conduit if {
	deny_zone := object.union(deny_all, {"destCidr": "10.1.0.0/16", "comment": "deny-other-zone-traffic"})
	d := plan.decision with input as with_steps([meraki([m_gw, deny_zone, deny_all])])
	d.violations == []
}

# -- PLAN-002 -----------------------------------------------------------------------------------

test_firewall_that_accepts_by_default_fires if {
	d := plan.decision with input as with_steps([firewall([gw_read], "accept")])
	msgs(d) == {concat("", [
		`firewall urn:fw does not drop by default (policy "accept"); `,
		"anything no conduit allows must be dropped",
	])}
	rules_of(d) == {"PLAN-002"}
}

test_meraki_without_final_deny_fires if {
	d := plan.decision with input as with_steps([meraki([m_gw])])
	msgs(d) == {concat("", [
		"firewall urn:l3 does not end with deny any to any, ",
		"so the appliance's default allow applies",
	])}
}

test_meraki_final_deny_of_one_zone_only_fires if {
	partial := object.union(deny_all, {"srcCidr": "10.1.20.0/24"})
	d := plan.decision with input as with_steps([meraki([m_gw, partial])])
	rules_of(d) == {"PLAN-002"}
}

# -- PLAN-003 -----------------------------------------------------------------------------------

broker(listeners) := step("urn:broker", "pulumi-python:dynamic:Resource", {"declares": broker_declares(listeners)})

broker_declares(listeners) := {"kind": "broker", "id": "b1", "listeners": listeners}

test_tls_listener_passes if {
	d := plan.decision with input as with_steps([broker([{"address": "10.1.35.10", "port": 8883, "tls": true}])])
	d.violations == []
}

test_plain_listener_fires if {
	d := plan.decision with input as with_steps([broker([
		{"address": "10.1.35.10", "port": 8883, "tls": true},
		{"address": "10.1.35.10", "port": 1883, "tls": false},
	])])
	msgs(d) == {"broker b1 listens on 10.1.35.10:1883 without TLS; machine data must travel over TLS only"}
	rules_of(d) == {"PLAN-003"}
}

test_listener_that_does_not_say_tls_fires if {
	d := plan.decision with input as with_steps([broker([{"address": "10.1.35.10", "port": 1883}])])
	rules_of(d) == {"PLAN-003"}
}

# -- PLAN-004 -----------------------------------------------------------------------------------

key := concat(",", [
	"restrict", "port-forwarding", `permitopen="10.1.20.22:22"`, `expiry-time="202612112200Z"`,
	`from="10.1.40.0/24" ssh-ed25519 AAAA g:p`,
])

bastion(entries, files) := step("urn:bastion", "pulumi-python:dynamic:Resource", {
	"declares": {"kind": "bastion", "id": "bast", "entries": entries},
	"files": files,
})

entry := {"grant": "g-1", "expiry": "202612112200Z", "permits": ["10.1.20.22:22"]}

test_expiring_entries_pass if {
	files := {"/etc/ssh/authorized_keys/g-1": {"content": concat("\n", ["# grant g-1", key, ""])}}
	d := plan.decision with input as with_steps([bastion([entry], files)])
	d.violations == []
}

test_entry_without_expiry_fires if {
	d := plan.decision with input as with_steps([bastion([object.remove(entry, ["expiry"])], {})])
	msgs(d) == {concat("", [
		"remote-access entry for grant g-1 on bastion bast has no expiry; ",
		"it would stay open after the grant ends",
	])}
	rules_of(d) == {"PLAN-004"}
}

test_key_line_without_expiry_time_fires if {
	open_key := replace(key, `expiry-time="202612112200Z",`, "")
	d := plan.decision with input as with_steps([bastion([entry], {"authorized_keys.g-1": open_key})])
	msgs(d) == {concat("", [
		"authorized_keys authorized_keys.g-1 on bastion bast has a key without expiry-time; ",
		"it would never stop working",
	])}
}

test_unknown_files_in_a_preview_are_not_judged if {
	d := plan.decision with input as with_steps([bastion([entry], "04da6b54-80e4-46f7-96ec-b56ff0331ba9")])
	d.violations == []
}

test_deleted_resources_are_not_judged if {
	gone := {"op": "delete", "urn": "urn:old", "oldState": {"type": meraki_l3}}
	d := plan.decision with input as with_steps([gone])
	d.violations == []
	d.counts.resources == 0
}
