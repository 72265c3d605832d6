package plant.goals_test

import data.plant.goals
import data.plant.lib.fixture

test_fixture_is_clean if {
	count(goals.deny) == 0 with input as fixture.base
	count(goals.warn) == 0 with input as fixture.base
}

# GOL-001

test_gol_001_fires_without_it if {
	result := goals.deny with input as fixture.drop(["goals", "g-status", "agreed_by", 1])
	fixture.found(result, "GOL-001") == {{
		"kind": "goal", "id": "g-status", "field": ["agreed_by"],
		"msg": "goal g-status is not agreed by a team of kind it; agree it with them and add who agreed, their team and the date to agreed_by",
	}}
}

test_gol_001_fires_without_anyone if {
	result := goals.deny with input as fixture.change(["goals", "g-status", "agreed_by"], [])
	fixture.found(result, "GOL-001") == {{
		"kind": "goal", "id": "g-status", "field": ["agreed_by"],
		"msg": "goal g-status is not agreed by a team of kind it and a team of kind operations; agree it with them and add who agreed, their team and the date to agreed_by",
	}}
}

test_gol_001_near_miss_another_it_team if {
	agreement := {"team": "it-sec", "person": "sam", "date": "2026-04-01"}
	count(goals.deny) == 0 with input as fixture.change(["goals", "g-status", "agreed_by", 1], agreement)
}

# GOL-002

test_gol_002_fires_for_a_budget_without_management if {
	result := goals.deny with input as fixture.drop(["goals", "g-count", "agreed_by", 2])
	fixture.found(result, "GOL-002") == {{
		"kind": "goal", "id": "g-count", "field": ["agreed_by"],
		"msg": "goal g-count names a budget of 5000 EUR but is not agreed by a team of kind management; a sponsor agrees the money: add their agreement to agreed_by",
	}}
}

test_gol_002_near_miss_no_budget_no_management if {
	count(goals.deny) == 0 with input as fixture.patch([
		{"op": "remove", "path": ["goals", "g-count", "agreed_by", 2]},
		{"op": "remove", "path": ["goals", "g-count", "budget"]},
	])
}

# GOL-003

test_gol_003_fires_without_serves if {
	result := goals.deny with input as fixture.drop(["collectors", "c1", "serves"])
	fixture.found(result, "GOL-003") == {{
		"kind": "collector", "id": "c1", "field": ["serves"],
		"msg": "collector c1 serves no agreed goal of site north (it names none); name the agreed goal its data is for in serves, or agree the goal first",
	}}
}

test_gol_003_fires_for_a_goal_not_agreed if {
	result := goals.deny with input as fixture.change(["goals", "g-status", "agreed_by"], [])
	fixture.found(result, "GOL-003") == {{
		"kind": "collector", "id": "c1", "field": ["serves"],
		"msg": "collector c1 serves no agreed goal of site north (it names g-status); name the agreed goal its data is for in serves, or agree the goal first",
	}}
}

test_gol_003_fires_for_a_budget_not_agreed_by_management if {
	result := goals.deny with input as fixture.patch([
		{"op": "remove", "path": ["goals", "g-count", "agreed_by", 2]},
		{"op": "replace", "path": ["collectors", "c2", "serves"], "value": ["g-count"]},
	])
	fixture.found(result, "GOL-003") == {{
		"kind": "collector", "id": "c2", "field": ["serves"],
		"msg": "collector c2 serves no agreed goal of site north (it names g-count); name the agreed goal its data is for in serves, or agree the goal first",
	}}
}

test_gol_003_near_miss_one_of_two_goals_agreed if {
	result := goals.deny with input as fixture.drop(["goals", "g-count", "agreed_by", 2])
	fixture.found(result, "GOL-003") == set()
}

# GOL-004

test_gol_004_fires_for_a_signal_no_goal_needs if {
	result := goals.deny with input as fixture.change(["collectors", "c2", "serves"], ["g-count"])
	fixture.found(result, "GOL-004") == {{
		"kind": "collector", "id": "c2", "field": ["signals", 0, "name"],
		"msg": "signal status of collector c2 (machine-status, data class machine-status) is needed by none of the goals it serves (g-count); remove it, or serve a goal whose metric or data classes need it",
	}}
}

test_gol_004_near_miss_needed_by_the_data_class if {
	# g-status needs the machine-status class as a whole: a process value of that class serves it
	signal := {
		"name": "load", "data_class": "machine-status", "meaning": "process-value", "interval_s": 5,
		"modbus": {"function": 4, "address": 7},
	}
	count(goals.deny) == 0 with input as fixture.put(["collectors", "c1", "signals", "-"], signal)
}

test_gol_004_near_miss_needed_by_the_metric if {
	# g-count's metric is computed from production-count signals, whatever their class
	count(goals.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["collectors", "c2", "serves"], "value": ["g-count"]},
		{"op": "remove", "path": ["collectors", "c2", "signals", 0]},
	])
}

# GOL-005

test_gol_005_fires_for_a_pilot_without_goals if {
	result := goals.deny with input as fixture.drop(["sites", "north", "pilot", "goals"])
	fixture.found(result, "GOL-005") == {{
		"kind": "site", "id": "north", "field": ["pilot"],
		"msg": "the pilot of site north names no goals it tests; add the ids of its goals (goals.yaml) to pilot goals",
	}}
}

test_gol_005_near_miss_no_pilot if {
	count(goals.deny) == 0 with input as fixture.drop(["sites", "north", "pilot"])
}

# GOL-006

test_gol_006_fires_for_a_metric_no_collector_provides if {
	result := goals.warn with input as fixture.change(["goals", "g-count", "metric", "machines"], ["m1"])
	fixture.found(result, "GOL-006") == {{
		"kind": "goal", "id": "g-count", "field": ["metric"],
		"msg": "no collector provides the metric of goal g-count (production-count on m1); it cannot be measured: add a collector or a signal of that meaning on its machines",
	}}
}

test_gol_006_fires_for_a_line_without_machines if {
	metric := {"meaning": "production-count", "unit": "parts", "lines": ["x"]}
	result := goals.warn with input as fixture.change(["goals", "g-count", "metric"], metric)
	fixture.found(result, "GOL-006") == {{
		"kind": "goal", "id": "g-count", "field": ["metric"],
		"msg": "no collector provides the metric of goal g-count (production-count on no machine); it cannot be measured: add a collector or a signal of that meaning on its machines",
	}}
}

test_gol_006_near_miss_provided_on_a_line if {
	metric := {"meaning": "production-count", "unit": "parts", "lines": ["l1"]}
	count(goals.warn) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["goals", "g-count", "metric"], "value": metric},
		{"op": "add", "path": ["machines", "m2", "line"], "value": "l1"},
	])
}
