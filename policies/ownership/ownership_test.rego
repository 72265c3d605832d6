package plant.ownership_test

import data.plant.lib.fixture
import data.plant.ownership

test_fixture_is_clean if {
	count(ownership.deny) == 0 with input as fixture.base
}

# OWN-001

test_own_001_fires_for_a_missing_default if {
	result := ownership.deny with input as fixture.drop(["ownership", "defaults", "training"])
	fixture.found(result, "OWN-001") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults"],
		"msg": "the company defaults name no accountable team for training; add `training: <team>` under defaults in org/ownership.yaml, naming a team of kind management or operations",
	}}
}

test_own_001_names_both_sides_of_change_approvals if {
	result := ownership.deny with input as fixture.drop(["ownership", "defaults", "change-approvals"])
	fixture.found(result, "OWN-001") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults"],
		"msg": "the company defaults name no accountable team for change-approvals; add `change-approvals: {it: <it team>, operations: <operations team>}` under defaults in org/ownership.yaml, naming an IT team and an operations team",
	}}
}

test_own_001_near_miss_site_override_need_not_be_complete if {
	count(ownership.deny) == 0 with input as fixture.put(
		["ownership", "sites"],
		{"north": {"responsibilities": {"dashboard-usage": "ops"}}},
	)
}

# OWN-002

test_own_002_fires_for_a_team_of_the_wrong_kind if {
	result := ownership.deny with input as fixture.change(["ownership", "defaults", "network-connectivity"], "ops")
	fixture.found(result, "OWN-002") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults", "network-connectivity"],
		"msg": "network-connectivity is owned by ops, a team of kind operations; name a team of kind it",
	}}
}

test_own_002_fires_in_a_zone_override if {
	result := ownership.deny with input as fixture.put(
		["ownership", "sites"],
		{"north": {"zones": {"cell": {"dashboard-usage": "maint"}}}},
	)
	fixture.found(result, "OWN-002") == {{
		"kind": "ownership", "id": "ownership", "field": ["sites", "north", "zones", "cell", "dashboard-usage"],
		"msg": "dashboard-usage is owned by maint, a team of kind maintenance; name a team of kind operations",
	}}
}

test_own_002_fires_for_two_teams if {
	result := ownership.deny with input as fixture.change(["ownership", "defaults", "training"], ["mgmt", "ops"])
	fixture.found(result, "OWN-002") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults", "training"],
		"msg": `training names ["mgmt", "ops"]; exactly one team is accountable: name a team of kind management or operations`,
	}}
}

test_own_002_fires_for_an_unknown_responsibility if {
	result := ownership.deny with input as fixture.put(["ownership", "defaults", "safety"], "ops")
	fixture.found(result, "OWN-002") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults", "safety"],
		"msg": "safety is not one of the eleven responsibilities; use one of change-approvals, cybersecurity-controls, dashboard-usage, data-accuracy, machine-data-requirements, network-connectivity, reason-code-updates, sensor-gateway-health, training, user-access, vendor-support-coordination",
	}}
}

test_own_002_near_miss_second_allowed_kind if {
	count(ownership.deny) == 0 with input as fixture.change(["ownership", "defaults", "vendor-support-coordination"], "ops")
}

# OWN-003

test_own_003_fires_for_an_operations_team_on_the_it_side if {
	result := ownership.deny with input as fixture.change(["ownership", "defaults", "change-approvals", "it"], "ops")
	fixture.found(result, "OWN-003") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults", "change-approvals", "it"],
		"msg": "change-approvals it is ops, a team of kind operations; name a team of kind it",
	}}
}

test_own_003_fires_for_a_missing_side if {
	result := ownership.deny with input as fixture.drop(["ownership", "defaults", "change-approvals", "operations"])
	fixture.found(result, "OWN-003") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults", "change-approvals"],
		"msg": "change-approvals names no operations team; add `operations: <operations team>`",
	}}
}

test_own_003_fires_for_a_single_team if {
	result := ownership.deny with input as fixture.change(["ownership", "defaults", "change-approvals"], "it-net")
	fixture.found(result, "OWN-003") == {{
		"kind": "ownership", "id": "ownership", "field": ["defaults", "change-approvals"],
		"msg": "change-approvals names it-net; it needs both sides: {it: <it team>, operations: <operations team>}",
	}}
}

test_own_003_near_miss_security_team_on_the_it_side if {
	count(ownership.deny) == 0 with input as fixture.put(
		["ownership", "sites"],
		{"north": {"responsibilities": {"change-approvals": {"it": "it-sec", "operations": "ops"}}}},
	)
}

# OWN-006

test_own_006_fires_for_machines_of_a_zone_without_an_owner if {
	result := ownership.deny with input as fixture.drop(["owners", "zones", "north/cell", "training"])
	fixture.found(result, "OWN-006") == {
		{
			"kind": "machine", "id": "m1", "field": ["zone"],
			"msg": "machine m1 in zone north/cell has no accountable team for training; name one in org/ownership.yaml (defaults, or an override for site north or zone cell)",
		},
		{
			"kind": "machine", "id": "m2", "field": ["zone"],
			"msg": "machine m2 in zone north/cell has no accountable team for training; name one in org/ownership.yaml (defaults, or an override for site north or zone cell)",
		},
	}
}

test_own_006_fires_for_a_gateway_with_an_unknown_approver if {
	result := ownership.deny with input as fixture.change(["owners", "zones", "north/sup", "change-approvals", "operations"], "ghost")
	fixture.found(result, "OWN-006") == {{
		"kind": "gateway", "id": "gw1", "field": ["zone"],
		"msg": "gateway gw1 in zone north/sup has no accountable team for change-approvals; name one in org/ownership.yaml (defaults, or an override for site north or zone sup)",
	}}
}

test_own_006_near_miss_gap_in_a_zone_without_devices if {
	count(ownership.deny) == 0 with input as fixture.drop(["owners", "zones", "north/dmz", "training"])
}
