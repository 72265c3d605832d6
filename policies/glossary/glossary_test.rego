package plant.glossary_test

import data.plant.glossary
import data.plant.lib.fixture

test_fixture_is_clean if {
	count(glossary.deny) == 0 with input as fixture.base
}

# GLO-001

test_glo_001_fires_for_an_unknown_kind if {
	result := glossary.deny with input as fixture.change(["machines", "m1", "kind"], "stamping-press")
	fixture.found(result, "GLO-001") == {{
		"kind": "machine", "id": "m1", "field": ["kind"],
		"msg": "machine m1 has kind stamping-press, which is not a glossary term; use a term id of glossary.yaml, or propose the term there for IT and operations to agree",
	}}
}

test_glo_001_fires_for_an_unknown_criticality if {
	result := glossary.deny with input as fixture.change(["machines", "m2", "criticality"], "vital")
	fixture.found(result, "GLO-001") == {{
		"kind": "machine", "id": "m2", "field": ["criticality"],
		"msg": "machine m2 has criticality vital, which is not a glossary term; use a term id of glossary.yaml, or propose the term there for IT and operations to agree",
	}}
}

test_glo_001_near_miss_another_term if {
	count(glossary.deny) == 0 with input as fixture.change(["machines", "m1", "kind"], "cnc-machine")
}

# GLO-002

test_glo_002_fires_for_an_unknown_meaning if {
	result := glossary.deny with input as fixture.change(["collectors", "c2", "signals", 1, "meaning"], "parts")
	fixture.found(result, "GLO-002") == {{
		"kind": "collector", "id": "c2", "field": ["signals", 1, "meaning"],
		"msg": "signal part-count of collector c2 means parts, which is not a glossary term; use a term id of glossary.yaml, or propose the term there for IT and operations to agree",
	}}
}

test_glo_002_near_miss_no_meaning if {
	count(glossary.deny) == 0 with input as fixture.drop(["collectors", "c2", "signals", 1, "meaning"])
}

# GLO-003

test_glo_003_fires_without_operations if {
	result := glossary.deny with input as fixture.change(["glossary", "press", "agreed_by"], ["it-net"])
	fixture.found(result, "GLO-003") == {{
		"kind": "term", "id": "press", "field": ["agreed_by"],
		"msg": "glossary term press is not agreed by a team of kind operations; agree it with them and add their team to agreed_by",
	}}
}

test_glo_003_fires_without_anyone if {
	result := glossary.deny with input as fixture.change(["glossary", "press", "agreed_by"], [])
	fixture.found(result, "GLO-003") == {{
		"kind": "term", "id": "press", "field": ["agreed_by"],
		"msg": "glossary term press is not agreed by a team of kind it and a team of kind operations; agree it with them and add their team to agreed_by",
	}}
}

test_glo_003_near_miss_other_teams_of_both_kinds if {
	count(glossary.deny) == 0 with input as fixture.change(["glossary", "press", "agreed_by"], ["maint", "it-sec", "ops"])
}
