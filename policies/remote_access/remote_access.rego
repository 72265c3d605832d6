# METADATA
# title: Remote access
# description: >-
#   Remote-access grants (access/grants.yaml) go only through the site bastion, to one machine
#   or gateway at level 2 or above, in a bounded window (vendors: hours, staff: days), approved
#   by the target's operations owner and by IT security, with MFA and session recording for
#   vendors; a grant that has ended is removed.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
#   clock_input: [grants]
package plant.remote_access

import data.plant.lib.clock
import data.plant.lib.org
import data.plant.lib.purdue
import data.plant.lib.services
import data.plant.lib.violation

default_vendor_max_hours := 8

default_internal_max_days := 30

# METADATA
# title: Only through the site bastion
# description: >-
#   A grant's site has a bastion (services.bastion), the grant goes through it (via is the
#   bastion's id), and its target is a machine or gateway of that site.
# custom:
#   id: RA-001
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 5.2"]
#   recommended_action: Set via to the site bastion's id and target a device of the grant's site.
deny contains v if {
	some id, grant in input.grants
	some [field, msg] in _path_problems(id, grant)
	v := violation.new(rego.metadata.rule(), "grant", id, [field], msg)
}

# METADATA
# title: Never open-ended
# description: Every grant has an end.
# custom:
#   id: RA-002
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.6"]
#   recommended_action: Set end to when the access must stop.
deny contains v if {
	some id, grant in input.grants
	object.get(grant, "end", null) == null
	msg := sprintf("grant %s has no end; remote access is never open-ended: set end to when the access must stop", [id])
	v := violation.new(rego.metadata.rule(), "grant", id, ["end"], msg)
}

# METADATA
# title: The window ends after it starts
# description: A grant's end is a valid instant after its start (also fires when either cannot be read).
# custom:
#   id: RA-003
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.6"]
#   recommended_action: Write start and end as RFC 3339 instants, end after start.
deny contains v if {
	some id, grant in input.grants
	grant.end != null
	not _ends_after_start(grant)
	msg := sprintf(
		"grant %s must end after it starts (start %s, end %s); write both as RFC 3339 instants, end after start",
		[id, grant.start, grant.end],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["end"], msg)
}

# METADATA
# title: Vendor windows of at most a few hours
# description: >-
#   A grant to an external person (a vendor) lasts at most the site's
#   remote_access.vendor_max_hours (8 when not set).
# custom:
#   id: RA-004
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.6"]
#   recommended_action: Shorten the window, or split the work into separately approved windows.
deny contains v if {
	some id, grant in input.grants
	grant.person in org.external
	limit := object.get(input.sites, [grant.site, "remote_access", "vendor_max_hours"], default_vendor_max_hours)
	hours := _length_ns(grant) / clock.hour_ns
	hours > limit
	msg := sprintf(
		"grant %s gives vendor %s %v hours of access; a vendor window at site %s is at most %v hours: %s",
		[id, grant.person, hours, grant.site, limit, "shorten it or split it into separately approved windows"],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["end"], msg)
}

# METADATA
# title: Internal windows of at most a month
# description: >-
#   A grant to an employee lasts at most the site's remote_access.internal_max_days (30 when not
#   set).
# custom:
#   id: RA-005
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.3", "SR 2.6"]
#   recommended_action: Shorten the window and renew the grant when the work continues.
deny contains v if {
	some id, grant in input.grants
	not grant.person in org.external
	limit := object.get(input.sites, [grant.site, "remote_access", "internal_max_days"], default_internal_max_days)
	days := _length_ns(grant) / clock.day_ns
	days > limit
	msg := sprintf(
		"grant %s gives %s %v days of access; an internal window at site %s is at most %v days: %s",
		[id, grant.person, days, grant.site, limit, "shorten it and renew it when the work continues"],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["end"], msg)
}

# METADATA
# title: Approved by the target's operations owner
# description: >-
#   A member of the operations team that approves changes in the target's zone
#   (change-approvals.operations of its resolved ownership) approves the grant for that team.
# custom:
#   id: RA-006
#   severity: high
#   owner: it
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 1.13", "SR 2.1"]
#   recommended_action: Ask a member of the target's operations owner team to approve the grant.
deny contains v if {
	some id, grant in input.grants
	target := _target(grant.target)
	key := purdue.zone_key(target.site, target.zone)
	team := object.get(input.owners.zones, [key, "change-approvals", "operations"], "(no operations owner)")
	not _approved_by(grant, {team})
	msg := sprintf(
		"grant %s is not approved by the operations owner of %s (team %s, zone %s); ask a member of %s to approve it",
		[id, grant.target, team, key, team],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["approvals"], msg)
}

# METADATA
# title: Approved by IT security
# description: A member of an IT security team (kind it, security true) approves the grant for that team.
# custom:
#   id: RA-007
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.1"]
#   recommended_action: Ask a member of IT security to approve the grant.
deny contains v if {
	some id, grant in input.grants
	not _approved_by(grant, org.security_teams)
	msg := sprintf("grant %s is not approved by IT security; %s", [id, _ask_security])
	v := violation.new(rego.metadata.rule(), "grant", id, ["approvals"], msg)
}

# METADATA
# title: Approvers are members of the team they approve for
# description: Each approval is by a member of the team it names.
# custom:
#   id: RA-008
#   severity: medium
#   owner: it
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1"]
#   recommended_action: Record the approver's own team, or ask a member of the team to approve.
deny contains v if {
	some id, grant in input.grants
	some i, approval in grant.approvals
	not org.is_member(approval.team, approval.person)
	msg := sprintf(
		"grant %s is approved by %s for team %s, but %s is not a member of %s; only members approve for their team",
		[id, approval.person, approval.team, approval.person, approval.team],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["approvals", i, "person"], msg)
}

# METADATA
# title: Nobody approves their own access
# description: The person a grant gives access to does not approve it.
# custom:
#   id: RA-009
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.1"]
#   recommended_action: Ask another member of the team to approve instead.
deny contains v if {
	some id, grant in input.grants
	some i, approval in grant.approvals
	approval.person == grant.person
	msg := sprintf(
		"grant %s is approved by %s, the person it gives access to; ask another member of %s",
		[id, grant.person, approval.team],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["approvals", i, "person"], msg)
}

# METADATA
# title: Vendors use MFA and are recorded
# description: A grant to an external person has mfa true and session_recording true.
# custom:
#   id: RA-010
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.1", "SR 1.13", "SR 2.8"]
#   recommended_action: Set mfa and session_recording to true.
deny contains v if {
	some id, grant in input.grants
	grant.person in org.external
	some field in ["mfa", "session_recording"]
	object.get(grant, field, false) != true
	msg := sprintf(
		"grant %s gives vendor %s access without %s; vendors need mfa: true and session_recording: true",
		[id, grant.person, field],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, [field], msg)
}

# METADATA
# title: Never directly to levels 0-1
# description: A grant's target is not in a zone of Purdue level 0 or 1.
# custom:
#   id: RA-011
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 5.1", "SR 5.2"]
#   recommended_action: Target a gateway or HMI at level 2 and work on the controller from there.
deny contains v if {
	some id, grant in input.grants
	target := _target(grant.target)
	level := purdue.level(target.site, target.zone)
	level <= 1
	msg := sprintf(
		"grant %s targets %s in zone %s (level %v); remote access never reaches levels 0-1 directly: %s",
		[id, grant.target, target.zone, level, "target a gateway or HMI at level 2 instead"],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["target"], msg)
}

# METADATA
# title: Expired grants are removed
# description: A grant whose end is before now is removed from access/grants.yaml.
# custom:
#   id: RA-012
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.3", "SR 2.6"]
#   recommended_action: Remove the grant; ask for a new one if access is still needed.
#   clock: true
deny contains v if {
	some id, grant in input.grants
	clock.instant_ns(grant.end) < clock.now_ns
	msg := sprintf(
		"grant %s ended at %s; remove it from access/grants.yaml (ask for a new grant if access is still needed)",
		[id, grant.end],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["end"], msg)
}

# METADATA
# title: A grant names its ports
# description: >-
#   Every service of a grant names tcp or udp and a port, or a range that runs upwards and spans
#   at most 64 ports (lib/services); the bastion forwards exactly these and nothing else.
# custom:
#   id: RA-013
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.1", "SR 5.2"]
#   recommended_action: Name the one port (or the short range) the vendor's tool needs.
deny contains v if {
	some id, grant in input.grants
	some i, service in grant.services
	problem := services.problem(service)
	msg := sprintf("grant %s service %d %s; name the port the vendor's tool needs", [id, i + 1, problem])
	v := violation.new(rego.metadata.rule(), "grant", id, ["services", i], msg)
}

# METADATA
# title: External people have no standing access
# description: >-
#   A person who is not an employee (external: true) is never bound to a role that gives an
#   admin account on the site's gateways (roles.yaml admin: true), and through them the bastion
#   hop and the broker's host: vendors and partners reach plant systems only through
#   time-bound, approved grants.
# custom:
#   id: RA-014
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.1", "SR 1.13", "SR 2.1"]
#   recommended_action: Remove the binding and give the person a remote-access grant for the work.
deny contains v if {
	some binding in input.bindings
	input.people[binding.person].external == true
	input.roles[binding.role].admin == true
	msg := sprintf(
		"%s is external and holds admin role %s at site %s (standing access to its gateways); %s",
		[binding.person, binding.role, binding.site, "remove the binding and use a time-bound grant in access/grants.yaml"],
	)
	key := concat("/", [binding.person, binding.role, binding.site])
	v := violation.new(rego.metadata.rule(), "binding", key, ["role"], msg)
}

# METADATA
# title: Recorded grants use services that can be recorded
# description: >-
#   A grant with session_recording true names only TCP services: the bastion records every
#   forwarded TCP connection (grant, person, source, target, start, end, bytes each way) and the
#   gateways record SSH shells with tlog; anything else (udp, icmp) is neither forwarded nor
#   recorded, so the promise could not be kept.
# custom:
#   id: RA-020
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.8", "SR 2.12"]
#   recommended_action: Name the TCP service the work needs, or ask for a grant without that service.
deny contains v if {
	some id, grant in input.grants
	object.get(grant, "session_recording", false) == true
	some i, service in grant.services
	service.protocol != "tcp"
	msg := sprintf(
		"grant %s asks for session_recording but service %d (%s) cannot be recorded: %s; %s",
		[
			id, i + 1, service.protocol,
			"the bastion forwards and records TCP connections only (gateways record SSH shells with tlog)",
			"name a TCP service",
		],
	)
	v := violation.new(rego.metadata.rule(), "grant", id, ["services", i], msg)
}

_target(id) := object.union(input.machines[id], {"kind": "machine"}) if {
	input.machines[id]
} else := object.union(input.gateways[id], {"kind": "gateway"})

# Also false when start or end cannot be read (the rule then fires: fail closed).
_ends_after_start(grant) if clock.instant_ns(grant.end) > clock.instant_ns(grant.start)

_length_ns(grant) := clock.instant_ns(grant.end) - clock.instant_ns(grant.start)

# True when a member of one of the teams approved the grant for that team.
_approved_by(grant, teams) if {
	some approval in grant.approvals
	approval.team in teams
	org.is_member(approval.team, approval.person)
}

_ask_security := sprintf("ask a member of %s to approve it", [concat(" or ", sort(org.security_teams))]) if {
	count(org.security_teams) > 0
}

_ask_security := "no IT team is marked security: true in org/teams.yaml; mark the security team" if {
	count(org.security_teams) == 0
}

_path_problems(id, grant) := ({["via", msg] |
	not input.sites[grant.site].services.bastion
	msg := sprintf(
		"grant %s is for site %s, which has no bastion; remote access goes only through the site bastion: %s",
		[id, grant.site, sprintf("declare services.bastion in sites/%s/site.yaml", [grant.site])],
	)
} | {["via", msg] |
	bastion := input.sites[grant.site].services.bastion.id
	grant.via != bastion
	msg := sprintf(
		"grant %s goes through %s, not the bastion of site %s; set via to %s",
		[id, grant.via, grant.site, bastion],
	)
}) | {["target", msg] |
	target := _target(grant.target)
	target.site != grant.site
	msg := sprintf(
		"grant %s targets %s %s of site %s through the bastion of site %s; make a grant at site %s instead",
		[id, target.kind, grant.target, target.site, grant.site, target.site],
	)
}
