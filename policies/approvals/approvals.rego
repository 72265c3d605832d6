# METADATA
# title: Change approvals
# description: >-
#   Who must approve a pull request, from what it changes and who owns it. An approval counts
#   only when the person's latest review is APPROVED, the person is a member of the team, and
#   the person is not the author of the pull request.
# custom:
#   principle: 1 Shared goals, explicit ownership
# schemas:
#   - input: schema.input
package plant.approvals

import data.plant.lib.services

changed := object.get(input, ["change", "objects"], [])

changed_files := object.get(input, ["change", "files"], [])

security_teams contains id if {
	some id, team in input.teams
	team.kind == "it"
	team.security == true
}

audit_teams contains id if {
	some id, team in input.teams
	team.kind == "audit"
}

# The object as it is after the change, or as it was when removed.
state(obj) := obj.after if obj.after != null

state(obj) := obj.before if obj.after == null

zone_owner(zone_key, responsibility) := input.owners.zones[zone_key][responsibility]

ops_owner(zone_key) := zone_owner(zone_key, "change-approvals").operations

critical(obj) if {
	obj.kind == "machine"
	state(obj).criticality == "critical"
}

critical(obj) if {
	obj.kind == "collector"
	input.machines[state(obj).machine].criticality == "critical"
}

critical_machine_id(obj) := obj.id if obj.kind == "machine"

critical_machine_id(obj) := state(obj).machine if obj.kind == "collector"

# Every changed file governs the gate, or what runs in the plant, unless it is inventory data
# (judged object by object by the rules above and below) or prose for people. Governing by
# default: the tool, the policies, the schemas, CI, CODEOWNERS, the Ansible configuration,
# roles, playbooks and plugins, the stacks, and any new top-level folder need IT security and
# audit until they are named here (tests/test_governing_paths.py checks the repository tree).
governing(path) if {
	not inventory_data(path)
	not prose(path)
}

# Files the inventory loader reads as objects: YAML under inventory/, outside its schemas.
# Anything else there (a second Ansible configuration, a shadow folder) the loader refuses or
# is not data.
inventory_data(path) if {
	startswith(path, "inventory/")
	not startswith(path, "inventory/schema/")
	endswith(path, ".yaml")
}

prose(path) if startswith(path, "docs/")

prose(path) if path in {"README.md", "inventory/README.md"}

# METADATA
# title: Gateways and collectors need maintenance and IT network
# description: A new, changed or removed gateway or collector is approved by the maintenance team
#   that keeps its zone's gateways healthy and by the IT team that owns the zone's network.
# custom:
#   id: APR-001
#   severity: high
#   owner: it
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 1.1", "SR 2.1"]
#   recommended_action: Ask the named teams to review the pull request.
needs contains need(obj, team, "APR-001", reason) if {
	some obj in changed
	obj.kind in {"gateway", "collector"}
	some zone_key in obj.zones
	some responsibility in ["sensor-gateway-health", "network-connectivity"]
	team := zone_owner(zone_key, responsibility)
	reason := sprintf("%s %s %s (%s)", [obj.kind, obj.id, obj.op, responsibility])
}

# METADATA
# title: Conduits need IT security and the operations owners of both zones
# description: Any change to a conduit is approved by IT security and by the operations owner of
#   each zone it joins.
# custom:
#   id: APR-002
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Ask IT security and the operations owners of both zones to review.
needs contains need(obj, team, "APR-002", reason) if {
	some obj in changed
	obj.kind == "conduit"
	some team in security_teams
	reason := sprintf("conduit %s %s (IT security)", [obj.id, obj.op])
}

needs contains need(obj, team, "APR-002", reason) if {
	some obj in changed
	obj.kind == "conduit"
	some zone_key in obj.zones
	team := ops_owner(zone_key)
	reason := sprintf("conduit %s %s (operations owner of %s)", [obj.id, obj.op, zone_key])
}

# METADATA
# title: Data classes need their data owner
# description: A change to a data class is approved by the team that owns the data.
# custom:
#   id: APR-003
#   severity: medium
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 2.1", "SR 4.1"]
#   recommended_action: Ask the data owner to review.
needs contains need(obj, state(obj).owner, "APR-003", reason) if {
	some obj in changed
	obj.kind == "data_class"
	reason := sprintf("data class %s %s (data owner)", [obj.id, obj.op])
}

# METADATA
# title: Remote-access grants need the target's operations owner and IT security
# description: A remote-access grant is approved in review by the operations owner of the
#   target's zone and by IT security.
# custom:
#   id: APR-004
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 2.1"]
#   recommended_action: Ask the target's operations owner and IT security to review.
needs contains need(obj, team, "APR-004", reason) if {
	some obj in changed
	obj.kind == "grant"
	some zone_key in obj.zones
	team := ops_owner(zone_key)
	reason := sprintf("grant %s %s (operations owner of the target)", [obj.id, obj.op])
}

needs contains need(obj, team, "APR-004", reason) if {
	some obj in changed
	obj.kind == "grant"
	some team in security_teams
	reason := sprintf("grant %s %s (IT security)", [obj.id, obj.op])
}

# METADATA
# title: Critical machines also need maintenance
# description: A change to a critical machine, or to a collector reading one, is also approved by
#   the maintenance team of the machine's zone.
# custom:
#   id: APR-005
#   severity: high
#   owner: maintenance
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.6"]
#   recommended_action: Ask maintenance to review and plan the change in a maintenance window.
needs contains need(obj, team, "APR-005", reason) if {
	some obj in changed
	critical(obj)
	some zone_key in obj.zones
	team := zone_owner(zone_key, "sensor-gateway-health")
	reason := sprintf("%s %s touches a critical machine (maintenance)", [obj.kind, obj.id])
}

# METADATA
# title: Phase changes need IT and operations sign-off
# description: Moving a site to another phase is approved by the site's IT and operations
#   change-approval owners.
# custom:
#   id: APR-007
#   severity: high
#   owner: operations
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.6"]
#   recommended_action: Ask the site's IT and operations owners to review.
needs contains need(obj, team, "APR-007", reason) if {
	some obj in changed
	obj.kind == "site"
	obj.op == "modified"
	obj.before.phase != obj.after.phase
	some side in ["it", "operations"]
	team := input.owners.sites[obj.id]["change-approvals"][side]
	reason := sprintf("site %s phase %s -> %s (%s sign-off)", [obj.id, obj.before.phase, obj.after.phase, side])
}

# METADATA
# title: Changes to the gate need IT security and audit
# description: Changes to any file that is not inventory data or prose (policies, schemas,
#   CODEOWNERS, CI, the Makefile, the tool and its toolchain, Ansible, stacks, plugins, tests,
#   and any new folder) are approved by IT security and by audit.
# custom:
#   id: APR-008
#   severity: high
#   owner: audit
#   principle: 4 Balance speed and security
#   iec62443: ["SR 3.4", "SR 2.8"]
#   recommended_action: Ask IT security and audit to review.
needs contains {"rule": "APR-008", "team": team, "reason": reason, "object": {"kind": "file", "id": path}} if {
	some path in changed_files
	governing(path)
	some team in (security_teams | audit_teams)
	reason := sprintf("%s changed (governs the gate)", [path])
}

# METADATA
# title: Machines need their zone's operations owner
# description: A new, changed or removed machine is approved by the operations owner of its zone.
# custom:
#   id: APR-009
#   severity: medium
#   owner: operations
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1"]
#   recommended_action: Ask the zone's operations owner to review.
needs contains need(obj, team, "APR-009", reason) if {
	some obj in changed
	obj.kind == "machine"
	some zone_key in obj.zones
	team := ops_owner(zone_key)
	reason := sprintf("machine %s %s (operations owner of %s)", [obj.id, obj.op, zone_key])
}

# METADATA
# title: Port ranges need IT security
# description: A conduit or grant that names a range of ports (port_end above port), added or
#   changed, is approved by IT security, who confirm the range is what the flow needs.
# custom:
#   id: APR-010
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Ask IT security to review, or name single ports.
needs contains need(obj, team, "APR-010", reason) if {
	some obj in changed
	obj.kind in {"conduit", "grant"}
	obj.op != "removed"
	some service in obj.after.services
	services.is_range(service)
	some team in security_teams
	reason := sprintf("%s %s names ports %d-%d (IT security)", [obj.kind, obj.id, service.port, service.port_end])
}

# METADATA
# title: The protocol catalogue needs IT security and audit
# description: A protocol of inventory/protocols.yaml added, changed or removed (what a conduit's
#   service carries, whether it is secured, whether it routes) is approved by IT security and audit.
# custom:
#   id: APR-012
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Ask IT security and audit to review.
needs contains need(obj, team, "APR-012", reason) if {
	some obj in changed
	obj.kind == "protocol"
	some team in (security_teams | audit_teams)
	reason := sprintf("protocol %s %s (the catalogue the segmentation rules read)", [obj.id, obj.op])
}

# METADATA
# title: Reading a safety system needs operations and IT security
# description: A collector added or changed on a machine in a safety (SIS) zone is approved by the
#   operations owner of that zone and by IT security.
# custom:
#   id: APR-013
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 2.1"]
#   recommended_action: Ask the zone's operations owner and IT security to review.
needs contains need(obj, team, "APR-013", reason) if {
	some obj in changed
	obj.kind == "collector"
	obj.op != "removed"
	machine := input.machines[obj.after.machine]
	zone_key := concat("/", [machine.site, machine.zone])
	input.zones[zone_key].kind == "safety"
	some team in ({ops_owner(zone_key)} | security_teams)
	reason := sprintf("collector %s reads %s in safety zone %s", [obj.id, obj.after.machine, zone_key])
}

# METADATA
# title: Critical machines need a maintenance window
# description: A critical machine that is added or changed, or gets a collector, must name the
#   maintenance window in which changes to it are applied.
# custom:
#   id: APR-006
#   severity: high
#   owner: maintenance
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.6"]
#   recommended_action: Set maintenance_window on the machine to one of its site's windows.
deny contains violation if {
	some obj in changed
	obj.op != "removed"
	critical(obj)
	machine_id := critical_machine_id(obj)
	not input.machines[machine_id].maintenance_window
	violation := {
		"rule": "APR-006",
		"severity": "high",
		"kind": "machine",
		"id": machine_id,
		"field": ["criticality"],
		"msg": sprintf(
			"critical machine %s has no maintenance window; %s",
			[machine_id, "set maintenance_window to one of its site's windows before changing it"],
		),
	}
}

need(obj, team, rule, reason) := {
	"rule": rule,
	"team": team,
	"reason": reason,
	"object": {"kind": obj.kind, "id": obj.id},
}

# Who counts for each needed object, and the decision: reviews.rego in this package.
