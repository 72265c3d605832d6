package plant.training_test

import data.plant.lib.fixture
import data.plant.training

# In the fixture, training and bindings are sorted by person: 0 nora, 1 olga, 2 vic.

record(person, role) := {"person": person, "role": role, "completed": "2026-01-10", "expires": "2027-09-01"}

binding(person, role) := {"person": person, "role": role, "site": "north"}

test_fixture_is_clean if {
	count(training.deny) == 0 with input as fixture.base
	count(training.warn) == 0 with input as fixture.base
}

# TRN-001

test_trn_001_fires_without_a_record if {
	result := training.deny with input as fixture.drop(["training", 1])
	fixture.found(result, "TRN-001") == {{
		"kind": "binding", "id": "olga/operator/north", "field": ["role"],
		"msg": "olga holds role operator at site north without valid training for it; there is no training record for it: add the completed training to org/training.yaml, or remove the binding",
	}}
}

test_trn_001_fires_for_expired_training if {
	result := training.deny with input as fixture.change(["training", 1, "expires"], "2026-11-22")
	fixture.found(result, "TRN-001") == {{
		"kind": "binding", "id": "olga/operator/north", "field": ["role"],
		"msg": "olga holds role operator at site north without valid training for it; its training records (completed 2026-01-10, expiring 2026-11-22) are not valid now: renew the training and record it",
	}}
}

test_trn_001_fires_for_training_not_yet_completed if {
	result := training.deny with input as fixture.change(["training", 1, "completed"], "2026-11-23")
	fixture.found(result, "TRN-001") == {{
		"kind": "binding", "id": "olga/operator/north", "field": ["role"],
		"msg": "olga holds role operator at site north without valid training for it; its training records (completed 2026-11-23, expiring 2027-09-01) are not valid now: renew the training and record it",
	}}
}

test_trn_001_fires_for_training_for_another_role if {
	result := training.deny with input as fixture.change(["training", 1, "role"], "plant-manager")
	fixture.found(result, "TRN-001") == {{
		"kind": "binding", "id": "olga/operator/north", "field": ["role"],
		"msg": "olga holds role operator at site north without valid training for it; there is no training record for it: add the completed training to org/training.yaml, or remove the binding",
	}}
}

test_trn_001_near_miss_valid_until_tomorrow_completed_today if {
	count(training.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["training", 1, "expires"], "value": "2026-11-23"},
		{"op": "replace", "path": ["training", 2, "completed"], "value": "2026-11-22"},
	])
}

# TRN-002

test_trn_002_fires_for_a_team_of_another_kind if {
	result := training.deny with input as fixture.patch([
		{"op": "add", "path": ["bindings", "-"], "value": binding("mia", "operator")},
		{"op": "add", "path": ["training", "-"], "value": record("mia", "operator")},
	])
	fixture.found(result, "TRN-002") == {{
		"kind": "binding", "id": "mia/operator/north", "field": ["role"],
		"msg": "mia holds role operator at site north but is only in teams of kind management; the role is for teams of kind operations: bind it to someone in such a team, or add the person to one",
	}}
}

test_trn_002_fires_for_a_person_in_no_team if {
	result := training.deny with input as fixture.patch([
		{"op": "add", "path": ["bindings", "-"], "value": binding("zed", "operator")},
		{"op": "add", "path": ["training", "-"], "value": record("zed", "operator")},
	])
	fixture.found(result, "TRN-002") == {{
		"kind": "binding", "id": "zed/operator/north", "field": ["role"],
		"msg": "zed holds role operator at site north but is in no team; the role is for teams of kind operations: bind it to someone in such a team, or add the person to one",
	}}
}

test_trn_002_near_miss_role_for_several_kinds if {
	count(training.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["bindings", "-"], "value": binding("mia", "operator")},
		{"op": "add", "path": ["training", "-"], "value": record("mia", "operator")},
		{"op": "replace", "path": ["roles", "operator", "team_kinds"], "value": ["operations", "management"]},
	])
}

# TRN-003

test_trn_003_warns_before_expiry if {
	result := training.warn with input as fixture.change(["training", 1, "expires"], "2026-12-10")
	fixture.found(result, "TRN-003") == {{
		"kind": "binding", "id": "olga/operator/north", "field": ["role"],
		"msg": "the training of olga for role operator expires on 2026-12-10, within 30 days; schedule the renewal",
	}}
	count(training.deny) == 0 with input as fixture.change(["training", 1, "expires"], "2026-12-10")
}

test_trn_003_near_miss_31_days_ahead if {
	count(training.warn) == 0 with input as fixture.change(["training", 1, "expires"], "2026-12-23")
}

test_trn_003_near_miss_renewed if {
	count(training.warn) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["training", 1, "expires"], "value": "2026-12-10"},
		{"op": "add", "path": ["training", "-"], "value": {"person": "olga", "role": "operator", "completed": "2026-11-20", "expires": "2028-11-20"}},
	])
}
