package plant.decision_test

import data.plant.decision
import data.plant.lib.domains
import data.plant.lib.fixture

# A fixture broken in three ways: an any-protocol service (SEG-003, high), a retention out of
# bounds (DATA-004, medium) and training about to expire (TRN-003, a warning).
broken := fixture.patch([
	{"op": "add", "path": ["conduits", "north/publish", "services", "-"], "value": {"protocol": "any"}},
	{"op": "replace", "path": ["data_classes", "machine-status", "retention", "days"], "value": 10},
	{"op": "replace", "path": ["training", 1, "expires"], "value": "2026-12-01"},
])

test_the_fixture_passes if {
	decision.violations == [] with input as fixture.base
	decision.warnings == [] with input as fixture.base
	counts := decision.counts with input as fixture.base
	counts == {"violations": 0, "warnings": 0, "by_severity": {"high": 0, "medium": 0, "low": 0}, "by_rule": {}}
}

test_violations_from_every_domain_sorted_with_metadata if {
	[[v.rule, v.severity, v.kind, v.id] | some v in decision.violations] == [
		["SEG-003", "high", "conduit", "north/publish"],
		["DATA-004", "medium", "data_class", "machine-status"],
	] with input as broken
	seg := decision.violations[0] with input as broken
	seg.title == "No any-protocol or any-port conduit"
	seg.iec62443 == ["SR 5.2", "SR 7.7"]
	seg.field == ["services", 1]
}

test_warnings_and_counts if {
	[v.rule | some v in decision.warnings] == ["TRN-003"] with input as broken
	counts := decision.counts with input as broken
	counts == {
		"violations": 2, "warnings": 1,
		"by_severity": {"high": 1, "medium": 1, "low": 0},
		"by_rule": {"SEG-003": 1, "DATA-004": 1},
	}
}

test_the_document_has_exactly_three_keys if {
	object.keys(decision) == {"violations", "warnings", "counts"} with input as fixture.base
}

# Every package with deny or warn rules is a domain of the decision, except plant.approvals,
# whose deny results the gate (plant.gate) adds for pull requests. (object.keys(data.plant)
# would evaluate every package, this test's own included: a recursion.)
test_no_domain_is_left_out if {
	# regal ignore:use-object-keys
	with_rules := {name | data.plant[name].deny} | {name | data.plant[name].warn}
	with_rules - {"approvals"} == domains.names with input as fixture.base
}

test_a_missing_domain_leaves_the_decision_undefined if {
	not decision.violations with domains.names as {"collectors", "not-loaded"} with input as fixture.base
}
