# METADATA
# title: Ownership
# description: >-
#   Every responsibility has exactly one accountable team, of a kind allowed for it; the company
#   defaults name all eleven, sites and zones may override them (org/ownership.yaml), and every
#   machine and gateway resolves to an existing team for each responsibility.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
package plant.ownership

import data.plant.lib.org
import data.plant.lib.purdue
import data.plant.lib.violation

# The kinds of team that may be accountable for each of the eleven responsibilities.
# change-approvals names two teams: {it: <it team>, operations: <operations team>}.
allowed_kinds := {
	"machine-data-requirements": {"operations"},
	"sensor-gateway-health": {"maintenance"},
	"network-connectivity": {"it"},
	"user-access": {"it"},
	"cybersecurity-controls": {"it"},
	"dashboard-usage": {"operations"},
	"reason-code-updates": {"operations"},
	"vendor-support-coordination": {"maintenance", "operations"},
	"training": {"management", "operations"},
	"data-accuracy": {"operations", "quality"},
	"change-approvals": {"it", "operations"},
}

# METADATA
# title: The company defaults name an accountable team for every responsibility
# description: >-
#   org/ownership.yaml defaults list each of the eleven responsibilities, so that every site and
#   zone has an accountable team even without overrides.
# custom:
#   id: OWN-001
#   severity: high
#   owner: audit
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1"]
#   recommended_action: Add the missing responsibility under defaults in org/ownership.yaml.
deny contains v if {
	some resp, _ in allowed_kinds
	not input.ownership.defaults[resp]
	msg := sprintf(
		"the company defaults name no accountable team for %s; add `%s: %s` under defaults in org/ownership.yaml, naming %s",
		[resp, resp, _example(resp), _wanted(resp)],
	)
	v := violation.new(rego.metadata.rule(), "ownership", "ownership", ["defaults"], msg)
}

# METADATA
# title: One accountable team of an allowed kind per responsibility
# description: >-
#   Each responsibility other than change approvals names exactly one team, and that team is of
#   a kind allowed for it (network connectivity, user access, cybersecurity controls: IT; machine
#   data requirements, dashboard usage, reason codes: operations; sensor and gateway health:
#   maintenance; vendor support coordination: maintenance or operations; training: management or
#   operations; data accuracy: operations or quality).
# custom:
#   id: OWN-002
#   severity: high
#   owner: audit
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1"]
#   recommended_action: Name one team of an allowed kind for the responsibility.
deny contains v if {
	some [field, msg] in _single_team_issues
	v := violation.new(rego.metadata.rule(), "ownership", "ownership", field, msg)
}

# METADATA
# title: Change approvals name one IT team and one operations team
# description: >-
#   change-approvals names a team of kind it and a team of kind operations; every
#   change is approved by both sides.
# custom:
#   id: OWN-003
#   severity: high
#   owner: audit
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1", "SR 7.6"]
#   recommended_action: "Write change-approvals as {it: <it team>, operations: <operations team>}."
deny contains v if {
	some [field, msg] in _change_approval_issues
	v := violation.new(rego.metadata.rule(), "ownership", "ownership", field, msg)
}

# Every team named here exists and has members: the loader refuses it otherwise (INV-REF, at the
# file and line of the name), before any policy runs.

# METADATA
# title: Every machine and gateway has an owner for every responsibility
# description: >-
#   The ownership resolved for a device's zone (zone override, then site override, then the
#   company default) names an existing team for each of the eleven responsibilities.
# custom:
#   id: OWN-006
#   severity: high
#   owner: audit
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1", "SR 7.8"]
#   recommended_action: Name the missing teams in org/ownership.yaml (defaults, site or zone).
deny contains v if {
	some [kind, table] in [["machine", input.machines], ["gateway", input.gateways]]
	some id, device in table
	key := purdue.zone_key(device.site, device.zone)
	gaps := _gaps_at(key)
	where := sprintf("defaults, or an override for site %s or zone %s", [device.site, device.zone])
	msg := sprintf(
		"%s %s in zone %s has no accountable team for %s; name one in org/ownership.yaml (%s)",
		[kind, id, key, concat(", ", sort(gaps)), where],
	)
	v := violation.new(rego.metadata.rule(), kind, id, ["zone"], msg)
}

# Every responsibility -> team map in org/ownership.yaml, with its path in the file.
_maps contains {"path": ["defaults"], "map": input.ownership.defaults}

_maps contains {"path": ["sites", site, "responsibilities"], "map": over.responsibilities} if {
	some site, over in object.get(input.ownership, "sites", {})
}

_maps contains {"path": ["sites", site, "zones", zone], "map": map} if {
	some site, over in object.get(input.ownership, "sites", {})
	some zone, map in object.get(over, "zones", {})
}

# Every team named in those maps; slot is "it" or "operations" inside change-approvals.
_refs contains {"path": array.concat(m.path, [resp]), "resp": resp, "slot": "", "team": team} if {
	some m in _maps
	some resp, team in m.map
	is_string(team)
}

_refs contains {"path": array.concat(m.path, [resp, slot]), "resp": resp, "slot": slot, "team": team} if {
	some m in _maps
	some resp, value in m.map
	is_object(value)
	some slot, team in value
	is_string(team)
}

# How to write the owner of a responsibility, and what kind of team it must be.
_example("change-approvals") := "{it: <it team>, operations: <operations team>}"

_example(resp) := "<team>" if resp != "change-approvals"

_wanted("change-approvals") := "an IT team and an operations team"

_wanted(resp) := sprintf("a team of kind %s", [concat(" or ", sort(allowed_kinds[resp]))]) if {
	resp != "change-approvals"
}

_single_team_issues contains [array.concat(m.path, [resp]), msg] if {
	some m in _maps
	some resp, _ in m.map
	not allowed_kinds[resp]
	msg := sprintf(
		"%s is not one of the eleven responsibilities; use one of %s",
		[resp, concat(", ", sort(object.keys(allowed_kinds)))],
	)
}

_single_team_issues contains [array.concat(m.path, [resp]), msg] if {
	some m in _maps
	some resp, value in m.map
	resp != "change-approvals"
	allowed_kinds[resp]
	not is_string(value)
	msg := sprintf("%s names %v; exactly one team is accountable: name %s", [resp, value, _wanted(resp)])
}

_single_team_issues contains [ref.path, msg] if {
	some ref in _refs
	ref.slot == ""
	ref.resp != "change-approvals"
	kind := input.teams[ref.team].kind
	not kind in allowed_kinds[ref.resp]
	allowed_kinds[ref.resp]
	msg := sprintf(
		"%s is owned by %s, a team of kind %s; name %s",
		[ref.resp, ref.team, kind, _wanted(ref.resp)],
	)
}

_change_approval_issues contains [array.concat(m.path, ["change-approvals"]), msg] if {
	some m in _maps
	value := m.map["change-approvals"]
	not is_object(value)
	msg := sprintf(
		"change-approvals names %v; it needs both sides: {it: <it team>, operations: <operations team>}",
		[value],
	)
}

_change_approval_issues contains [array.concat(m.path, ["change-approvals"]), msg] if {
	some m in _maps
	value := m.map["change-approvals"]
	is_object(value)
	some slot in ["it", "operations"]
	not value[slot]
	msg := sprintf("change-approvals names no %s team; add `%s: <%s team>`", [slot, slot, slot])
}

_change_approval_issues contains [ref.path, msg] if {
	some ref in _refs
	ref.slot != ""
	kind := input.teams[ref.team].kind
	kind != ref.slot
	msg := sprintf(
		"change-approvals %s is %s, a team of kind %s; name a team of kind %s",
		[ref.slot, ref.team, kind, ref.slot],
	)
}

# Zone key -> the responsibilities its resolved ownership leaves without an existing team, for
# the zones that have such gaps (usually none). _gaps_at reads the whole object, computed once;
# a lookup by key (_zone_gaps[key]) would evaluate the rule again for every device whose zone
# has no gaps, since OPA caches only defined results.
_zone_gaps[key] := gaps if {
	some key, _ in input.zones
	owners := object.get(input.owners.zones, key, {})
	gaps := {resp | some resp, _ in allowed_kinds; not _resolves(owners, resp)}
	count(gaps) > 0
}

_gaps_at(key) := gaps if {
	gaps := object.get(_zone_gaps, key, null)
	gaps != null
}

_gaps_at(key) := object.keys(allowed_kinds) if not input.zones[key]

_resolves(owners, resp) if org.members[owners[resp]]

_resolves(owners, resp) if {
	org.members[owners[resp].it]
	org.members[owners[resp].operations]
}
