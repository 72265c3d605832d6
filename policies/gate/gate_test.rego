package plant.gate_test

import data.plant.gate

decision := {
	"violations": [{"rule": "SEG-001", "msg": "m", "kind": "conduit", "id": "s/c"}],
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
	r.counts == {"violations": 1}
	r.approvals == {"required": [{"team": "t", "satisfied": false}], "missing": ["t"]}
}

test_result_without_warnings_or_counts if {
	r := gate.result with data.plant.decision as {"violations": []}
		with data.plant.approvals.deny as set()
		with data.plant.approvals.required as []
		with data.plant.approvals.missing as []
	r == {"violations": [], "warnings": [], "counts": {}, "approvals": {"required": [], "missing": []}}
}
