# METADATA
# title: Infrastructure plan
# description: >-
#   Checks the plan of a site's Pulumi stack (the steps of `pulumi preview --json`) against the
#   inventory before anything is applied: every firewall rule is a declared conduit, the firewall
#   denies by default, every broker listener uses TLS, every remote-access entry expires.
#   Input: {"site", "zones", "conduits" (as in the gate's input), "plan": {"steps": [...]}}.
#   Resources are recognised by the `declares` input that plantctl's stacks give them
#   ({"kind": "firewall" | "broker" | "bastion", ...}) and by the Meraki firewall rule types.
# custom:
#   principle: 4 Balance speed and security
package plant.plan

meraki_l3 := "meraki:networks/applianceFirewallL3FirewallRules:ApplianceFirewallL3FirewallRules"

meraki_inbound := concat(":", [
	"meraki",
	"networks/applianceFirewallInboundFirewallRules",
	"ApplianceFirewallInboundFirewallRules",
])

# The desired state of every resource the plan keeps or creates.
resources contains {"urn": step.urn, "type": step.newState.type, "inputs": step.newState.inputs} if {
	some step in input.plan.steps
	step.op != "delete"
	is_object(step.newState.inputs)
}

declared(kind) := {r | some r in resources; r.inputs.declares.kind == kind}

# METADATA
# description: The plan check's one answer, asked by plantctl.plancheck.
# entrypoint: true
decision := {
	"violations": [v | some v in violations],
	"counts": {"violations": count(violations), "resources": count(resources)},
}

violations contains v if some v in firewall_rule_not_a_conduit

violations contains v if some v in no_default_deny

violations contains v if some v in listener_without_tls

violations contains v if some v in entry_without_expiry

# -- what a conduit allows ----------------------------------------------------------------------

conduit(id) := input.conduits[sprintf("%s/%s", [input.site, id])]

zone_cidr(zone) := [input.zones[sprintf("%s/%s", [input.site, zone])].cidr]

# Source or destination addresses of a conduit end: as listed, else the whole zone, else (the
# internet) anywhere outside the site.
ends(c, field, _) := c[field] if count(object.get(c, field, [])) > 0

ends(c, field, zone) := zone_cidr(zone) if {
	count(object.get(c, field, [])) == 0
	zone != "internet"
}

ends(c, field, "internet") := [] if count(object.get(c, field, [])) == 0

ports(s) := sprintf("%d", [s.port]) if {
	s.protocol in {"tcp", "udp"}
	object.get(s, "port_end", s.port) == s.port
}

ports(s) := sprintf("%d-%d", [s.port, s.port_end]) if {
	s.protocol in {"tcp", "udp"}
	s.port_end != s.port
}

ports(s) := "any" if not s.protocol in {"tcp", "udp"}

ports(s) := "any" if {
	s.protocol in {"tcp", "udp"}
	not s.port
}

same_set(a, b) if {
	{x | some x in a} == {x | some x in b}
}

cidr_list("any") := []

cidr_list(text) := split(text, ",") if text != "any"

# A rule of plantctl's lab firewall (declares.rules) that a conduit service allows exactly.
lab_rule_declared(r) if {
	c := conduit(r.conduit)
	c.from == r.from
	c.to == r.to
	same_set(r.sources, ends(c, "sources", c.from))
	same_set(r.destinations, ends(c, "destinations", c.to))
	some s in c.services
	s.protocol == r.protocol
	ports(s) == r.ports
}

# An allow rule of a Meraki firewall (comment "<conduit>/<service>") that a conduit allows.
meraki_rule_declared(m) if {
	c := conduit(split(m.comment, "/")[0])
	same_set(cidr_list(m.srcCidr), ends(c, "sources", c.from))
	same_set(cidr_list(m.destCidr), ends(c, "destinations", c.to))
	some s in c.services
	s.protocol == m.protocol
	ports(s) == m.destPort
}

meraki_rules contains [r, m] if {
	some r in resources
	r.type in {meraki_l3, meraki_inbound}
	some m in r.inputs.rules
}

# METADATA
# title: Every firewall rule is a declared conduit
# description: >-
#   An allow rule in the plan must be one service of a conduit declared in the site's
#   conduits.yaml, between the same zones and addresses. A rule that is not (added by hand, or
#   wider than its conduit) opens a path nobody approved.
# scope: document
# custom:
#   id: PLAN-001
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: >-
#     Declare the flow as a conduit in inventory/sites/<site>/conduits.yaml, or remove the
#     rule from the stack.
declare_it := "declare it in conduits.yaml or remove it"

firewall_rule_not_a_conduit contains v if {
	some r in declared("firewall")
	some rule in r.inputs.declares.rules
	not lab_rule_declared(rule)
	id := sprintf("%s#%s", [r.urn, rule.name])
	v := violation("PLAN-001", "critical", "firewall-rule", id, sprintf(
		"firewall rule %s (%s -> %s, %s %s) is not a declared conduit of site %s; %s",
		[rule.name, rule.from, rule.to, rule.protocol, rule.ports, input.site, declare_it],
	))
}

firewall_rule_not_a_conduit contains v if {
	some [r, m] in meraki_rules
	m.policy == "allow"
	not meraki_rule_declared(m)
	id := sprintf("%s#%s", [r.urn, m.comment])
	v := violation("PLAN-001", "critical", "firewall-rule", id, sprintf(
		"firewall rule %q (allow %s %s -> %s port %s) is not a declared conduit of site %s; %s",
		[m.comment, m.protocol, m.srcCidr, m.destCidr, m.destPort, input.site, declare_it],
	))
}

# METADATA
# title: The zone firewall denies by default
# description: >-
#   Whatever no conduit allows is dropped: the lab firewall's policy is drop and a Meraki rule
#   list ends with deny any to any (the appliance's own last rule allows everything).
# scope: document
# custom:
#   id: PLAN-002
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: >-
#     Keep the default deny of plantctl's SegmentedNetwork; do not edit the rule order by hand.
no_default_deny contains v if {
	some r in declared("firewall")
	r.inputs.declares.default_policy != "drop"
	v := violation("PLAN-002", "critical", "firewall", r.urn, sprintf(
		"firewall %s does not drop by default (policy %q); anything no conduit allows must be dropped",
		[r.urn, r.inputs.declares.default_policy],
	))
}

no_default_deny contains v if {
	some r in resources
	r.type in {meraki_l3, meraki_inbound}
	not ends_in_deny_all(r.inputs.rules)
	v := violation("PLAN-002", "critical", "firewall", r.urn, sprintf(
		"firewall %s does not end with deny any to any, so the appliance's default allow applies",
		[r.urn],
	))
}

ends_in_deny_all(rules) if {
	last := rules[count(rules) - 1]
	last.policy == "deny"
	last.protocol == "any"
	last.srcCidr == "any"
	last.destCidr == "any"
}

# METADATA
# title: Broker listeners use TLS
# description: Every listener of an MQTT broker in the plan is a TLS listener.
# custom:
#   id: PLAN-003
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 4.1", "SR 3.1"]
#   recommended_action: Serve MQTT only on TLS listeners (plantctl's Broker component does).
listener_without_tls contains v if {
	some r in declared("broker")
	some l in r.inputs.declares.listeners
	object.get(l, "tls", false) != true
	id := sprintf("%s#%s:%d", [r.urn, l.address, l.port])
	v := violation("PLAN-003", "critical", "broker-listener", id, sprintf(
		"broker %s listens on %s:%d without TLS; machine data must travel over TLS only",
		[r.inputs.declares.id, l.address, l.port],
	))
}

# METADATA
# title: Every remote-access entry expires
# description: >-
#   Each grant on a bastion is deployed with its expiry (sshd's expiry-time), so access stops at
#   the grant's end even if nobody redeploys; a key line without expiry-time is open-ended.
# scope: document
# custom:
#   id: PLAN-004
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.6"]
#   recommended_action: >-
#     Give the grant an end in inventory/access/grants.yaml; deploy keys only through
#     plantctl's RemoteAccess component.
entry_without_expiry contains v if {
	some r in declared("bastion")
	some e in r.inputs.declares.entries
	not regex.match(`^[0-9]{12}Z$`, object.get(e, "expiry", ""))
	id := sprintf("%s#%s", [r.urn, e.grant])
	v := violation("PLAN-004", "critical", "remote-access-entry", id, sprintf(
		"remote-access entry for grant %s on bastion %s has no expiry; it would stay open after the grant ends",
		[e.grant, r.inputs.declares.id],
	))
}

entry_without_expiry contains v if {
	some r in declared("bastion")
	some name, text in key_files(r.inputs)
	some line in split(text, "\n")
	key_line(line)
	not contains(line, `expiry-time="`)
	id := sprintf("%s#%s", [r.urn, name])
	v := violation("PLAN-004", "critical", "remote-access-entry", id, sprintf(
		"authorized_keys %s on bastion %s has a key without expiry-time; it would never stop working",
		[name, r.inputs.declares.id],
	))
}

# authorized_keys files among a resource's files (lab machine paths or production file names),
# once their text is known (a preview may not know it yet).
key_files(inputs) := {name: spec.content |
	some name, spec in inputs.files
	startswith(name, "/etc/ssh/authorized_keys/")
	is_string(spec.content)
} if {
	lab_files(inputs.files)
}

key_files(inputs) := {name: text |
	some name, text in inputs.files
	startswith(name, "authorized_keys.")
	is_string(text)
} if {
	is_object(inputs.files)
	not lab_files(inputs.files)
}

key_files(inputs) := {} if not is_object(inputs.files)

lab_files(files) if {
	is_object(files)
	some name, _ in files
	startswith(name, "/")
}

key_line(line) if {
	trimmed := trim_space(line)
	trimmed != ""
	not startswith(trimmed, "#")
}

violation(rule, severity, kind, id, msg) := {
	"rule": rule,
	"severity": severity,
	"kind": kind,
	"id": id,
	"msg": msg,
}
