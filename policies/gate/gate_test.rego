package plant.gate_test

import data.plant.gate

decision := {
	"violations": [{"rule": "SEG-001", "severity": "high", "msg": "m", "kind": "conduit", "id": "s/c", "field": []}],
	"warnings": [{"rule": "TRN-002", "msg": "w", "kind": "binding", "id": "p/r/s"}],
	"counts": {"violations": 1},
}

test_result_joins_decision_and_approvals if {
	r := gate.result with data.plant.decision as decision
		with data.plant.approvals.deny as {{"rule": "APR-006", "msg": "n", "kind": "machine", "id": "m"}}
		with data.plant.approvals.required as [{"team": "t", "satisfied": false}]
		with data.plant.approvals.missing as ["t"]
	[v.rule | some v in r.violations] == ["SEG-001", "APR-006"]
	r.warnings == decision.warnings
	r.counts.violations == 1
	r.counts.waived == 0
	r.waived == []
	r.approvals == {"required": [{"team": "t", "satisfied": false}], "missing": ["t"]}
}

test_result_without_warnings_or_counts if {
	r := gate.result with data.plant.decision as {"violations": []}
		with data.plant.approvals.deny as set()
		with data.plant.approvals.required as []
		with data.plant.approvals.missing as []
	r == {
		"violations": [], "waived": [], "warnings": [],
		"counts": {"violations": 0, "warnings": 0, "waived": 0, "by_severity": {"high": 0, "medium": 0, "low": 0}, "by_rule": {}},
		"approvals": {"required": [], "missing": []},
	}
}

test_result_is_undefined_without_a_decision if {
	not gate.result with data.plant.decision as {"warnings": []}
		with data.plant.approvals.deny as set()
		with data.plant.approvals.required as []
		with data.plant.approvals.missing as []
}
