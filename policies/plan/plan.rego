# METADATA
# title: Infrastructure plan
# description: >-
#   Checks the plan of a site's Pulumi stack (the steps of `pulumi preview --json`) against the
#   inventory before anything is applied: every firewall rule is a declared conduit, the firewall
#   denies by default, every broker listener uses TLS, every remote-access entry expires.
#   Input: {"site", "zones", "conduits" (as in the facts document), "plan": {"steps": [...]}}.
#   Resources are recognised by the `declares` input that plantctl's stacks give them
#   ({"kind": "firewall" | "broker" | "bastion", ...}) and by the Meraki firewall rule types.
#   plantctl plan-check asks data.plant.plan.decision; the results are not part of the
#   inventory decision (plant.decision), whose input is the facts document.
# custom:
#   principle: 4 Balance speed and security
# schemas:
#   - input: schema.plan
package plant.plan

import data.plant.lib.violation

meraki_l3 := "meraki:networks/applianceFirewallL3FirewallRules:ApplianceFirewallL3FirewallRules"

meraki_inbound := concat(":", [
	"meraki",
	"networks/applianceFirewallInboundFirewallRules",
	"ApplianceFirewallInboundFirewallRules",
])

# METADATA
# description: The plan check's one answer, asked by plantctl.gate.plan_check.
# entrypoint: true
decision := {
	"violations": violation.sorted(violations),
	"counts": {"violations": count(violations), "resources": count(resources)},
}

# METADATA
# description: The desired state of every resource the plan keeps or creates.
resources contains {"urn": step.urn, "type": step.newState.type, "inputs": step.newState.inputs} if {
	some step in input.plan.steps
	step.op != "delete"
	is_object(step.newState.inputs)
}

# METADATA
# title: Every firewall rule is a declared conduit
# description: >-
#   An allow rule in the plan must be one service of a conduit declared in the site's
#   conduits.yaml, between the same zones and addresses. A rule that is not (added by hand, or
#   wider than its conduit) opens a path nobody approved.
# custom:
#   id: PLAN-001
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: >-
#     Declare the flow as a conduit in inventory/sites/<site>/conduits.yaml, or remove the
#     rule from the stack.
violations contains v if {
	some [id, msg] in _undeclared_rules
	v := violation.new(rego.metadata.rule(), "firewall-rule", id, [], msg)
}

# METADATA
# title: The zone firewall denies by default
# description: >-
#   Whatever no conduit allows is dropped: the lab firewall's policy is drop and a Meraki rule
#   list ends with deny any to any (the appliance's own last rule allows everything).
# custom:
#   id: PLAN-002
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: >-
#     Keep the default deny of plantctl's SegmentedNetwork; do not edit the rule order by hand.
violations contains v if {
	some [id, msg] in _no_default_deny
	v := violation.new(rego.metadata.rule(), "firewall", id, [], msg)
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
violations contains v if {
	some r in _declared("broker")
	some l in r.inputs.declares.listeners
	object.get(l, "tls", false) != true
	id := sprintf("%s#%s:%d", [r.urn, l.address, l.port])
	msg := sprintf(
		"broker %s listens on %s:%d without TLS; machine data must travel over TLS only",
		[r.inputs.declares.id, l.address, l.port],
	)
	v := violation.new(rego.metadata.rule(), "broker-listener", id, [], msg)
}

# METADATA
# title: Every remote-access entry expires
# description: >-
#   Each grant on a bastion is deployed with its expiry (sshd's expiry-time), so access stops at
#   the grant's end even if nobody redeploys; a key line without expiry-time is open-ended.
# custom:
#   id: PLAN-004
#   severity: critical
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.6"]
#   recommended_action: >-
#     Give the grant an end in inventory/access/grants.yaml; deploy keys only through
#     plantctl's RemoteAccess component.
violations contains v if {
	some [id, msg] in _open_ended
	v := violation.new(rego.metadata.rule(), "remote-access-entry", id, [], msg)
}

# -- helpers -------------------------------------------------------------------------------------

_declared(kind) := {r | some r in resources; r.inputs.declares.kind == kind}

_declare_it := "declare it in conduits.yaml or remove it"

# Rules of plantctl's lab firewall (declares.rules) that no conduit service allows exactly.
_undeclared_rules contains [id, msg] if {
	some r in _declared("firewall")
	some rule in r.inputs.declares.rules
	not _lab_rule_declared(rule)
	id := sprintf("%s#%s", [r.urn, rule.name])
	msg := sprintf(
		"firewall rule %s (%s -> %s, %s %s) is not a declared conduit of site %s; %s",
		[rule.name, rule.from, rule.to, rule.protocol, rule.ports, input.site, _declare_it],
	)
}

# Allow rules of a Meraki firewall (comment "<conduit>/<service>") that no conduit allows.
_undeclared_rules contains [id, msg] if {
	some [r, m] in _meraki_rules
	m.policy == "allow"
	not _meraki_rule_declared(m)
	id := sprintf("%s#%s", [r.urn, m.comment])
	msg := sprintf(
		"firewall rule %q (allow %s %s -> %s port %s) is not a declared conduit of site %s; %s",
		[m.comment, m.protocol, m.srcCidr, m.destCidr, m.destPort, input.site, _declare_it],
	)
}

_no_default_deny contains [r.urn, msg] if {
	some r in _declared("firewall")
	r.inputs.declares.default_policy != "drop"
	msg := sprintf(
		"firewall %s does not drop by default (policy %q); anything no conduit allows must be dropped",
		[r.urn, r.inputs.declares.default_policy],
	)
}

_no_default_deny contains [r.urn, msg] if {
	some r in resources
	r.type in {meraki_l3, meraki_inbound}
	not _ends_in_deny_all(r.inputs.rules)
	msg := sprintf(
		"firewall %s does not end with deny any to any, so the appliance's default allow applies",
		[r.urn],
	)
}

_open_ended contains [id, msg] if {
	some r in _declared("bastion")
	some e in r.inputs.declares.entries
	not regex.match(`^[0-9]{12}Z$`, object.get(e, "expiry", ""))
	id := sprintf("%s#%s", [r.urn, e.grant])
	msg := sprintf(
		"remote-access entry for grant %s on bastion %s has no expiry; it would stay open after the grant ends",
		[e.grant, r.inputs.declares.id],
	)
}

_open_ended contains [id, msg] if {
	some r in _declared("bastion")
	some name, text in _key_files(r.inputs)
	some line in split(text, "\n")
	_key_line(line)
	not contains(line, `expiry-time="`)
	id := sprintf("%s#%s", [r.urn, name])
	msg := sprintf(
		"authorized_keys %s on bastion %s has a key without expiry-time; it would never stop working",
		[name, r.inputs.declares.id],
	)
}

_conduit(id) := input.conduits[sprintf("%s/%s", [input.site, id])]

_zone_cidr(zone) := [input.zones[sprintf("%s/%s", [input.site, zone])].cidr]

# Source or destination addresses of a conduit end: as listed, else the whole zone, else (the
# internet) anywhere outside the site.
_ends(c, field, _) := c[field] if count(object.get(c, field, [])) > 0

_ends(c, field, zone) := _zone_cidr(zone) if {
	count(object.get(c, field, [])) == 0
	zone != "internet"
}

_ends(c, field, "internet") := [] if count(object.get(c, field, [])) == 0

_ports(s) := sprintf("%d", [s.port]) if {
	s.protocol in {"tcp", "udp"}
	object.get(s, "port_end", s.port) == s.port
}

_ports(s) := sprintf("%d-%d", [s.port, s.port_end]) if {
	s.protocol in {"tcp", "udp"}
	s.port_end != s.port
}

_ports(s) := "any" if not s.protocol in {"tcp", "udp"}

_ports(s) := "any" if {
	s.protocol in {"tcp", "udp"}
	not s.port
}

_same_set(a, b) if {
	{x | some x in a} == {x | some x in b}
}

_cidr_list("any") := []

_cidr_list(text) := split(text, ",") if text != "any"

_lab_rule_declared(r) if {
	c := _conduit(r.conduit)
	c.from == r.from
	c.to == r.to
	_same_set(r.sources, _ends(c, "sources", c.from))
	_same_set(r.destinations, _ends(c, "destinations", c.to))
	some s in c.services
	s.protocol == r.protocol
	_ports(s) == r.ports
}

_meraki_rule_declared(m) if {
	c := _conduit(split(m.comment, "/")[0])
	_same_set(_cidr_list(m.srcCidr), _ends(c, "sources", c.from))
	_same_set(_cidr_list(m.destCidr), _ends(c, "destinations", c.to))
	some s in c.services
	s.protocol == m.protocol
	_ports(s) == m.destPort
}

_meraki_rules contains [r, m] if {
	some r in resources
	r.type in {meraki_l3, meraki_inbound}
	some m in r.inputs.rules
}

_ends_in_deny_all(rules) if {
	last := rules[count(rules) - 1]
	last.policy == "deny"
	last.protocol == "any"
	last.srcCidr == "any"
	last.destCidr == "any"
}

# authorized_keys files among a resource's files (lab machine paths or production file names),
# once their text is known (a preview may not know it yet).
_key_files(inputs) := {name: spec.content |
	some name, spec in inputs.files
	startswith(name, "/etc/ssh/authorized_keys/")
	is_string(spec.content)
} if {
	_lab_files(inputs.files)
}

_key_files(inputs) := {name: text |
	some name, text in inputs.files
	startswith(name, "authorized_keys.")
	is_string(text)
} if {
	is_object(inputs.files)
	not _lab_files(inputs.files)
}

_key_files(inputs) := {} if not is_object(inputs.files)

_lab_files(files) if {
	is_object(files)
	some name, _ in files
	startswith(name, "/")
}

_key_line(line) if {
	trimmed := trim_space(line)
	trimmed != ""
	not startswith(trimmed, "#")
}
