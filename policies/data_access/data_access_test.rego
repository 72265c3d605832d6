package plant.data_access_test

import data.plant.data_access
import data.plant.lib.fixture

test_fixture_is_clean if {
	count(data_access.deny) == 0 with input as fixture.base
}

# DATA-001

test_data_001_fires_for_an_unknown_class if {
	result := data_access.deny with input as fixture.change(["collectors", "c1", "signals", 0, "data_class"], "downtime")
	fixture.found(result, "DATA-001") == {{
		"kind": "collector", "id": "c1", "field": ["signals", 0, "data_class"],
		"msg": "signal status of collector c1 uses data class downtime, which data_classes.yaml does not define; use one of its classes or add the class with its owner, viewers and retention",
	}}
}

test_data_001_near_miss_another_defined_class if {
	count(data_access.deny) == 0 with input as fixture.change(["collectors", "c1", "signals", 0, "data_class"], "production-counts")
}

# DATA-002

test_data_002_fires_for_an_unknown_viewer if {
	result := data_access.deny with input as fixture.put(["data_classes", "machine-status", "viewers", "-"], "janitor")
	fixture.found(result, "DATA-002") == {{
		"kind": "data_class", "id": "machine-status", "field": ["viewers", 3],
		"msg": "data class machine-status lists viewer janitor, which is not a role in org/roles.yaml; use a role id from there",
	}}
}

test_data_002_fires_for_an_unknown_exporter if {
	result := data_access.deny with input as fixture.change(["data_classes", "production-counts", "exporters", 0], "board")
	fixture.found(result, "DATA-002") == {{
		"kind": "data_class", "id": "production-counts", "field": ["exporters", 0],
		"msg": "data class production-counts lists exporter board, which is not a role in org/roles.yaml; use a role id from there",
	}}
}

test_data_002_near_miss_known_role if {
	count(data_access.deny) == 0 with input as fixture.put(["data_classes", "machine-status", "viewers", "-"], "vendor-technician")
}

# DATA-003

test_data_003_fires_for_an_editor_who_cannot_view if {
	result := data_access.deny with input as fixture.put(["data_classes", "production-counts", "editors", "-"], "network-admin")
	fixture.found(result, "DATA-003") == {{
		"kind": "data_class", "id": "production-counts", "field": ["editors", 1],
		"msg": "data class production-counts lets role network-admin edit it but not view it; add network-admin to viewers or remove it from editors",
	}}
}

test_data_003_fires_for_an_exporter_who_cannot_view if {
	result := data_access.deny with input as fixture.put(["data_classes", "machine-status", "exporters", "-"], "vendor-technician")
	fixture.found(result, "DATA-003") == {{
		"kind": "data_class", "id": "machine-status", "field": ["exporters", 1],
		"msg": "data class machine-status lets role vendor-technician export it but not view it; add vendor-technician to viewers or remove it from exporters",
	}}
}

test_data_003_near_miss_exporter_who_views if {
	count(data_access.deny) == 0 with input as fixture.put(["data_classes", "production-counts", "exporters", "-"], "operator")
}

# DATA-004

test_data_004_fires_above_the_maximum if {
	result := data_access.deny with input as fixture.change(["data_classes", "machine-status", "retention", "days"], 1000)
	fixture.found(result, "DATA-004") == {{
		"kind": "data_class", "id": "machine-status", "field": ["retention", "days"],
		"msg": "data class machine-status keeps its data 1000 days, outside min_days 90 and max_days 730; set retention.days between them",
	}}
}

test_data_004_fires_below_the_minimum if {
	result := data_access.deny with input as fixture.change(["data_classes", "machine-status", "retention", "days"], 30)
	fixture.found(result, "DATA-004") == {{
		"kind": "data_class", "id": "machine-status", "field": ["retention", "days"],
		"msg": "data class machine-status keeps its data 30 days, outside min_days 90 and max_days 730; set retention.days between them",
	}}
}

test_data_004_near_miss_on_the_bounds if {
	count(data_access.deny) == 0 with input as fixture.change(["data_classes", "machine-status", "retention", "days"], 730)
	count(data_access.deny) == 0 with input as fixture.change(["data_classes", "machine-status", "retention", "days"], 90)
}

# DATA-005

test_data_005_fires_for_official_reports_without_an_approver if {
	result := data_access.deny with input as fixture.change(["data_classes", "machine-status", "official_reports"], true)
	fixture.found(result, "DATA-005") == {{
		"kind": "data_class", "id": "machine-status", "field": ["official_reports"],
		"msg": "data class machine-status has official reports but no report_approver; set report_approver to the team that approves them",
	}}
}

test_data_005_fires_for_an_unknown_approver if {
	result := data_access.deny with input as fixture.change(["data_classes", "production-counts", "report_approver"], "board")
	fixture.found(result, "DATA-005") == {{
		"kind": "data_class", "id": "production-counts", "field": ["report_approver"],
		"msg": "data class production-counts has official reports but its report_approver board is not a team in org/teams.yaml; set report_approver to the team that approves them",
	}}
}

test_data_005_near_miss_reports_not_official if {
	count(data_access.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["data_classes", "production-counts", "official_reports"], "value": false},
		{"op": "remove", "path": ["data_classes", "production-counts", "report_approver"]},
	])
}

# DATA-006

test_data_006_fires_without_a_correction_owner if {
	result := data_access.deny with input as fixture.drop(["data_classes", "machine-status", "correction_owner"])
	fixture.found(result, "DATA-006") == {{
		"kind": "data_class", "id": "machine-status", "field": [],
		"msg": "data class machine-status names no correction_owner; name the team that corrects wrong values",
	}}
}

test_data_006_fires_for_an_unknown_dashboard_approver if {
	result := data_access.deny with input as fixture.change(["data_classes", "machine-status", "dashboard_change_approver"], "ghost")
	fixture.found(result, "DATA-006") == {{
		"kind": "data_class", "id": "machine-status", "field": ["dashboard_change_approver"],
		"msg": "data class machine-status names dashboard_change_approver ghost, which is not a team in org/teams.yaml; name the team that approves dashboard changes",
	}}
}

test_data_006_near_miss_another_correcting_team if {
	count(data_access.deny) == 0 with input as fixture.change(["data_classes", "machine-status", "correction_owner"], "qa")
}
