package plant.lib.violation_test

import data.plant.lib.violation

meta := {"title": "A rule", "custom": {"id": "X-001", "severity": "low", "iec62443": ["SR 5.1"], "owner": "it"}}

test_new_takes_id_severity_title_and_controls_from_metadata if {
	violation.new(meta, "zone", "north/cell", ["cidr"], "m") == {
		"msg": "m", "rule": "X-001", "severity": "low", "title": "A rule", "iec62443": ["SR 5.1"],
		"kind": "zone", "id": "north/cell", "field": ["cidr"],
	}
}

test_sorted_most_severe_first_then_rule_and_record if {
	results := {
		{"severity": "low", "rule": "A-1", "kind": "k", "id": "a", "field": [], "msg": "1"},
		{"severity": "high", "rule": "B-1", "kind": "k", "id": "b", "field": [], "msg": "2"},
		{"severity": "high", "rule": "A-9", "kind": "k", "id": "z", "field": [], "msg": "3"},
		{"severity": "high", "rule": "A-9", "kind": "k", "id": "c", "field": [], "msg": "4"},
		{"severity": "typo", "rule": "A-0", "kind": "k", "id": "d", "field": [], "msg": "5"},
		{"severity": "medium", "rule": "C-1", "kind": "k", "id": "e", "field": [], "msg": "6"},
	}
	[v.msg | some v in violation.sorted(results)] == ["4", "3", "2", "6", "1", "5"]
}
