package plant.phases_test

import data.plant.lib.fixture
import data.plant.phases

rollout_signoffs := [
	{"phase": "rollout", "team": "it-net", "person": "nora", "date": "2026-10-01"},
	{"phase": "rollout", "team": "ops", "person": "olga", "date": "2026-10-01"},
]

test_fixture_is_clean if {
	count(phases.deny) == 0 with input as fixture.base
}

# PHA-001

test_pha_001_fires_without_the_vendor if {
	result := phases.deny with input as fixture.drop(["sites", "north", "survey", "attendees", 3])
	fixture.found(result, "PHA-001") == {{
		"kind": "site", "id": "north", "field": ["survey", "attendees"],
		"msg": "site north is in phase pilot but the vendor side did not attend its survey; operations, maintenance, IT and the vendor or implementation partner survey the site together",
	}}
}

test_pha_001_fires_for_operations_alone if {
	result := phases.deny with input as fixture.change(["sites", "north", "survey", "attendees"], ["olga"])
	fixture.found(result, "PHA-001") == {{
		"kind": "site", "id": "north", "field": ["survey", "attendees"],
		"msg": "site north is in phase pilot but the it, maintenance and vendor sides did not attend its survey; operations, maintenance, IT and the vendor or implementation partner survey the site together",
	}}
}

test_pha_001_fires_without_a_survey if {
	result := phases.deny with input as fixture.drop(["sites", "north", "survey"])
	fixture.found(result, "PHA-001") == {{
		"kind": "site", "id": "north", "field": ["phase"],
		"msg": "site north is in phase pilot without a survey; record the joint survey of operations, maintenance, IT and the vendor (date, attendees)",
	}}
}

test_pha_001_fires_for_a_survey_still_to_come if {
	result := phases.deny with input as fixture.change(["sites", "north", "survey", "date"], "2026-12-02")
	fixture.found(result, "PHA-001") == {{
		"kind": "site", "id": "north", "field": ["survey", "date"],
		"msg": "site north is in phase pilot but its survey is dated 2026-12-02, after today; hold the survey before the pilot",
	}}
}

test_pha_001_near_miss_implementation_partner if {
	count(phases.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["teams", "partner"], "value": {"id": "partner", "kind": "vendor", "members": ["pat"]}},
		{"op": "replace", "path": ["sites", "north", "survey", "attendees", 3], "value": "pat"},
	])
}

test_pha_001_near_miss_survey_phase_needs_no_survey if {
	count(phases.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["sites", "north", "phase"], "value": "survey"},
		{"op": "remove", "path": ["sites", "north", "survey"]},
		{"op": "replace", "path": ["collectors"], "value": {}},
	])
}

# PHA-002

test_pha_002_fires_for_a_machine_outside_the_pilot if {
	result := phases.deny with input as fixture.change(["sites", "north", "pilot", "machines"], ["m1"])
	fixture.found(result, "PHA-002") == {{
		"kind": "collector", "id": "c2", "field": ["machine"],
		"msg": "site north is in its pilot and machine m2 is not a pilot machine; add it to pilot.machines in sites/north/site.yaml once agreed, or wait for the rollout",
	}}
}

test_pha_002_fires_for_collectors_during_the_survey if {
	result := phases.deny with input as fixture.change(["sites", "north", "phase"], "survey")
	fixture.found(result, "PHA-002") == {
		{
			"kind": "collector", "id": "c1", "field": ["machine"],
			"msg": "site north is still in its survey; collectors start with the pilot: remove collector c1 until then",
		},
		{
			"kind": "collector", "id": "c2", "field": ["machine"],
			"msg": "site north is still in its survey; collectors start with the pilot: remove collector c2 until then",
		},
	}
}

test_pha_002_near_miss_any_machine_after_the_pilot if {
	count(phases.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["sites", "north", "pilot", "machines"], "value": ["m1"]},
		{"op": "replace", "path": ["sites", "north", "phase"], "value": "rollout"},
		{"op": "replace", "path": ["sites", "north", "signoffs"], "value": rollout_signoffs},
	])
}

# PHA-003

test_pha_003_fires_without_rollout_signoffs if {
	result := phases.deny with input as fixture.change(["sites", "north", "phase"], "rollout")
	fixture.found(result, "PHA-003") == {{
		"kind": "site", "id": "north", "field": ["phase"],
		"msg": "site north is in phase rollout without a rollout sign-off by a team of kind it and a team of kind operations; record signoffs {phase: rollout, team, person, date} by a member of each team",
	}}
}

test_pha_003_fires_for_an_it_signoff_by_a_non_member if {
	result := phases.deny with input as fixture.patch([
		{"op": "replace", "path": ["sites", "north", "phase"], "value": "operate"},
		{"op": "replace", "path": ["sites", "north", "signoffs"], "value": rollout_signoffs},
		{"op": "replace", "path": ["sites", "north", "signoffs", 0, "person"], "value": "olga"},
	])
	fixture.found(result, "PHA-003") == {{
		"kind": "site", "id": "north", "field": ["phase"],
		"msg": "site north is in phase operate without a rollout sign-off by a team of kind it; record signoffs {phase: rollout, team, person, date} by a member of each team",
	}}
}

test_pha_003_near_miss_both_signed if {
	count(phases.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["sites", "north", "phase"], "value": "operate"},
		{"op": "replace", "path": ["sites", "north", "signoffs"], "value": rollout_signoffs},
	])
}

# PHA-004

test_pha_004_fires_for_a_signoff_by_a_non_member if {
	result := phases.deny with input as fixture.change(["sites", "north", "signoffs", 0, "person"], "olga")
	fixture.found(result, "PHA-004") == {{
		"kind": "site", "id": "north", "field": ["signoffs", 0, "person"],
		"msg": "the pilot sign-off of site north is by olga for team it-net, but olga is not a member of it-net; only members sign off for their team",
	}}
}

test_pha_004_near_miss_member_of_two_teams if {
	count(phases.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["teams", "ops", "members", "-"], "value": "nora"},
		{"op": "replace", "path": ["sites", "north", "signoffs", 1, "person"], "value": "nora"},
	])
}
