package plant.approvals_codeowners_test

import data.plant.approvals

gate_001(result) := {v | some v in result; v.rule == "GATE-001"}

test_gate_001_fires_when_codeowners_drifted if {
	found := gate_001(approvals.deny) with input as {"change": {"codeowners_drift": "line 3 differs"}}
	found == {{
		"rule": "GATE-001", "severity": "high", "title": "CODEOWNERS matches ownership",
		"iec62443": ["SR 2.1"], "kind": "file", "id": ".github/CODEOWNERS", "field": [],
		"msg": "line 3 differs",
	}}
}

test_gate_001_near_miss_codeowners_matches if {
	count(gate_001(approvals.deny)) == 0 with input as {"change": {"codeowners_drift": ""}}
}

test_gate_001_near_miss_not_a_pull_request if {
	count(gate_001(approvals.deny)) == 0 with input as {}
}
