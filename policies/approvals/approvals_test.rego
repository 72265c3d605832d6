package plant.approvals_test

import data.plant.approvals

# A small plant: one site, two zones with different operations owners.
base := {
	"teams": {
		"net": {"kind": "it", "handle": "@o/net", "members": ["nina"]},
		"sec": {"kind": "it", "security": true, "handle": "@o/sec", "members": ["sam"]},
		"ops-a": {"kind": "operations", "handle": "@o/ops-a", "members": ["olga"]},
		"ops-b": {"kind": "operations", "handle": "@o/ops-b", "members": ["oscar"]},
		"maint": {"kind": "maintenance", "handle": "@o/maint", "members": ["mia", "max"]},
		"aud": {"kind": "audit", "handle": "@o/aud", "members": ["ada"]},
		"qa": {"kind": "quality", "handle": "@o/qa", "members": ["quinn"]},
	},
	"owners": {
		"sites": {"s1": {"change-approvals": {"it": "net", "operations": "ops-a"}}},
		"zones": {
			"s1/sup": {
				"sensor-gateway-health": "maint",
				"network-connectivity": "net",
				"change-approvals": {"it": "net", "operations": "ops-a"},
			},
			"s1/cell": {
				"sensor-gateway-health": "maint",
				"network-connectivity": "net",
				"change-approvals": {"it": "net", "operations": "ops-b"},
			},
		},
	},
	"machines": {
		"m-crit": {"zone": "cell", "criticality": "critical", "maintenance_window": "w1"},
		"m-bare": {"zone": "cell", "criticality": "critical"},
		"m-std": {"zone": "cell", "criticality": "standard"},
	},
	"reviews": [],
	"author": "mia",
}

# Reviews name the head commit: nothing has changed since (see reviews_test.rego for the rest).
head_commit := {"commit": "h", "short": "h", "known": true, "in_history": true, "changed_since": [], "note": ""}

with_change(objects, files) := object.union(base, {"change": {"objects": objects, "files": files, "commits": {"h": head_commit}}})

gateway_added := {"kind": "gateway", "id": "gw1", "op": "added", "zones": ["s1/sup"], "before": null, "after": {"zone": "sup"}}

teams_of(required) := {r.team | some r in required}

review(login, state, at) := {"login": login, "state": state, "submitted_at": at, "commit_id": "h"}

# -- reviews: who counts (any rule) --

test_no_change_needs_no_approval if {
	count(approvals.required) == 0 with input as base
}

# APR-001

test_gateway_needs_maintenance_and_network if {
	required := approvals.required with input as with_change([gateway_added], [])
	teams_of(required) == {"maint", "net"}
	approvals.missing == ["maint", "net"] with input as with_change([gateway_added], [])
	some r in required
	r.team == "maint"
	r.reasons == ["gateway gw1 added (sensor-gateway-health)"]
	r.rules == ["APR-001"]
}

# -- reviews: who counts (any rule) --

test_approval_by_member_counts if {
	inp := object.union(with_change([gateway_added], []), {"reviews": [
		review("max", "APPROVED", "2026-01-01T00:00:00Z"),
		review("nina", "APPROVED", "2026-01-01T00:00:00Z"),
	]})
	approvals.missing == [] with input as inp
}

test_author_approval_ignored if {
	inp := object.union(with_change([gateway_added], []), {"reviews": [
		review("mia", "APPROVED", "2026-01-01T00:00:00Z"),
		review("nina", "APPROVED", "2026-01-01T00:00:00Z"),
	]})
	approvals.missing == ["maint"] with input as inp
}

test_non_member_approval_ignored if {
	inp := object.union(with_change([gateway_added], []), {"reviews": [
		review("quinn", "APPROVED", "2026-01-01T00:00:00Z"),
		review("nina", "APPROVED", "2026-01-01T00:00:00Z"),
	]})
	approvals.missing == ["maint"] with input as inp
}

test_latest_position_wins_and_comments_do_not_count if {
	inp := object.union(with_change([gateway_added], []), {"reviews": [
		review("max", "APPROVED", "2026-01-01T00:00:00Z"),
		review("max", "CHANGES_REQUESTED", "2026-01-02T00:00:00Z"),
		review("nina", "APPROVED", "2026-01-01T00:00:00Z"),
		review("nina", "COMMENTED", "2026-01-03T00:00:00Z"),
	]})
	approvals.missing == ["maint"] with input as inp
}

# APR-002

test_conduit_needs_security_and_both_zone_owners if {
	obj := {"kind": "conduit", "id": "s1/c1", "op": "modified", "zones": ["s1/sup", "s1/cell"], "before": {}, "after": {}}
	teams_of(approvals.required) == {"sec", "ops-a", "ops-b"} with input as with_change([obj], [])
}

# APR-003

test_data_class_needs_its_owner if {
	obj := {"kind": "data_class", "id": "energy", "op": "modified", "zones": [], "before": {"owner": "qa"}, "after": {"owner": "qa"}}
	required := approvals.required with input as with_change([obj], [])
	teams_of(required) == {"qa"}
	required[0].reasons == ["data class energy modified (data owner)"]
}

test_removed_data_class_needs_its_former_owner if {
	obj := {"kind": "data_class", "id": "energy", "op": "removed", "zones": [], "before": {"owner": "qa"}, "after": null}
	teams_of(approvals.required) == {"qa"} with input as with_change([obj], [])
}

# APR-004

test_grant_needs_target_operations_owner_and_security if {
	obj := {"kind": "grant", "id": "g1", "op": "added", "zones": ["s1/cell"], "before": null, "after": {}}
	teams_of(approvals.required) == {"ops-b", "sec"} with input as with_change([obj], [])
}

# APR-005 APR-009

test_critical_machine_needs_maintenance_too if {
	obj := {"kind": "machine", "id": "m-crit", "op": "modified", "zones": ["s1/cell"], "before": {}, "after": {"criticality": "critical"}}
	required := approvals.required with input as with_change([obj], [])
	teams_of(required) == {"ops-b", "maint"}
	count(approvals.deny) == 0 with input as with_change([obj], [])
}

test_standard_machine_needs_only_its_operations_owner if {
	obj := {"kind": "machine", "id": "m-std", "op": "added", "zones": ["s1/cell"], "before": null, "after": {"criticality": "standard"}}
	teams_of(approvals.required) == {"ops-b"} with input as with_change([obj], [])
}

# APR-006

test_critical_machine_without_window_is_denied if {
	obj := {"kind": "machine", "id": "m-bare", "op": "modified", "zones": ["s1/cell"], "before": {}, "after": {"criticality": "critical"}}
	denied := approvals.deny with input as with_change([obj], [])
	count(denied) == 1
	some v in denied
	v.rule == "APR-006"
	v.id == "m-bare"
	v.msg == "critical machine m-bare has no maintenance window; set maintenance_window to one of its site's windows before changing it"
}

test_collector_on_critical_machine_without_window_is_denied if {
	obj := {"kind": "collector", "id": "c1", "op": "added", "zones": ["s1/sup", "s1/cell"], "before": null, "after": {"machine": "m-bare"}}
	denied := approvals.deny with input as with_change([obj], [])
	{v.id | some v in denied} == {"m-bare"}
	teams_of(approvals.required) == {"maint", "net"} with input as with_change([obj], [])
}

test_removed_critical_machine_is_not_denied if {
	obj := {"kind": "machine", "id": "m-bare", "op": "removed", "zones": ["s1/cell"], "before": {"criticality": "critical"}, "after": null}
	count(approvals.deny) == 0 with input as with_change([obj], [])
}

# APR-007

test_phase_change_needs_it_and_operations if {
	obj := {"kind": "site", "id": "s1", "op": "modified", "zones": [], "before": {"phase": "survey"}, "after": {"phase": "pilot"}}
	required := approvals.required with input as with_change([obj], [])
	teams_of(required) == {"net", "ops-a"}
	some r in required
	r.team == "net"
	r.reasons == ["site s1 phase survey -> pilot (it sign-off)"]
}

test_site_change_without_phase_change_needs_nothing if {
	obj := {"kind": "site", "id": "s1", "op": "modified", "zones": [], "before": {"phase": "pilot", "name": "a"}, "after": {"phase": "pilot", "name": "b"}}
	count(approvals.required) == 0 with input as with_change([obj], [])
}

# APR-008

test_gate_files_need_security_and_audit if {
	every path in ["policies/x.rego", "src/plantctl/cli.py", ".github/CODEOWNERS", ".ci/run", "Makefile", "pyproject.toml", "requirements.lock", "tools/install-apt.sh"] {
		teams_of(approvals.required) == {"sec", "aud"} with input as with_change([], [path])
	}
}

test_what_ansible_stacks_and_schemas_read_needs_security_and_audit if {
	every path in [
		"inventory/schema/defs.schema.json", "inventory/plantctl.ansible.yml", "plugins/inventory/plantctl.py",
		"roles/gateway_base/tasks/main.yml", "playbooks/site.yml", "ansible.cfg", "stacks/lab/__main__.py",
		"tests/test_gate_scenarios.py", "shadow/org/people.yaml", "a-new-top-level-folder/x",
	] {
		teams_of(approvals.required) == {"sec", "aud"} with input as with_change([], [path])
	}
}

test_inventory_data_and_prose_need_no_file_approval if {
	count(approvals.required) == 0 with input as with_change([], ["README.md", "docs/maintenance.md", "inventory/sites/s1/machines.yaml", "inventory/README.md"])
}

# APR-010

conduit_with(services) := {"kind": "conduit", "id": "s1/c1", "op": "added", "zones": ["s1/sup"], "before": null, "after": {"services": services}}

test_a_port_range_needs_it_security if {
	obj := object.union(conduit_with([{"protocol": "tcp", "port": 4840, "port_end": 4841}]), {"kind": "grant", "id": "g1"})
	required := approvals.required with input as with_change([obj], [])
	some r in required
	r.team == "sec"
	"APR-010" in r.rules
	"grant g1 names ports 4840-4841 (IT security)" in r.reasons
}

test_near_miss_a_single_port_needs_no_range_approval if {
	obj := conduit_with([{"protocol": "tcp", "port": 4840, "port_end": 4840}])
	not "APR-010" in rules_of(approvals.required) with input as with_change([obj], [])
}

# -- near misses: a change next to what the rule is about does not call on it --

rules_of(required) := {rule | some r in required; some rule in r.rules}

standard_machine(zone) := {"kind": "machine", "id": "m-std", "op": "added", "zones": [zone], "before": null, "after": {"criticality": "standard"}}

test_apr_001_near_miss_a_machine_beside_the_gateway if {
	required := approvals.required with input as with_change([standard_machine("s1/sup")], [])
	not "APR-001" in rules_of(required)
	"APR-009" in rules_of(required)
}

test_apr_002_near_miss_a_machine_in_a_joined_zone if {
	required := approvals.required with input as with_change([standard_machine("s1/cell")], [])
	not "APR-002" in rules_of(required)
	count(required) > 0
}

test_apr_003_near_miss_a_glossary_term if {
	term := {"kind": "term", "id": "downtime", "op": "modified", "zones": [], "before": {}, "after": {}}
	required := approvals.required with input as with_change([term], [])
	not "APR-003" in rules_of(required)
}

test_apr_004_near_miss_a_machine_that_a_grant_targets if {
	required := approvals.required with input as with_change([standard_machine("s1/cell")], [])
	not "APR-004" in rules_of(required)
}

# APR-012

test_a_protocol_change_needs_security_and_audit if {
	obj := {"kind": "protocol", "id": "telnet", "op": "modified", "zones": [], "before": {"security": "insecure"}, "after": {"security": "secured"}}
	teams_of(approvals.required) == {"sec", "aud"} with input as with_change([obj], [])
}

test_near_miss_a_machine_change_needs_no_catalogue_approval if {
	obj := standard_machine("s1/cell")
	not "APR-012" in rules_of(approvals.required) with input as with_change([obj], [])
}

# APR-013

safety_base := object.union(base, {
	"machines": {"m-sis": {"zone": "sis", "site": "s1", "criticality": "standard"}},
	"zones": {"s1/sis": {"kind": "safety"}, "s1/cell": {"kind": "cell"}},
})

safety_collector(machine) := {"kind": "collector", "id": "c-sis", "op": "added", "zones": [], "before": null, "after": {"machine": machine}}

test_reading_a_safety_machine_needs_operations_and_security if {
	owners := object.union(safety_base.owners, {"zones": {"s1/sis": {"change-approvals": {"it": "net", "operations": "ops-b"}}}})
	given := object.union(safety_base, {"owners": owners, "change": {"objects": [safety_collector("m-sis")], "files": []}})
	teams_of(approvals.required) == {"ops-b", "sec"} with input as given
}

test_near_miss_a_collector_outside_a_safety_zone if {
	given := object.union(base, {"change": {"objects": [safety_collector("m-std")], "files": []}})
	not "APR-013" in rules_of(approvals.required) with input as given
}
