package plant.lib.fixture_test

import data.plant.lib.fixture

test_base_is_shaped_like_facts if {
	object.keys(fixture.base) == {
		"schema_version", "now", "responsibilities", "teams", "people", "roles", "ownership", "owners",
		"training", "bindings", "glossary", "goals", "data_classes", "sites", "zones", "conduits", "machines",
		"gateways", "collectors", "grants", "devices_by_address", "protocols", "devices", "waivers", "attack_paths",
	}
	count(fixture.base.responsibilities) == 11
	fixture.base.zones["north/dmz"].key == "north/dmz"
	fixture.base.conduits["north/publish"].site == "north"
}

test_patch_helpers if {
	fixture.put(["machines", "m1", "line"], "l1").machines.m1.line == "l1"
	fixture.change(["collectors", "c2", "signals", 1, "interval_s"], 5).collectors.c2.signals[1].interval_s == 5
	not fixture.drop(["grants", "g-int"]).grants["g-int"]
	not fixture.change(["machines", "m9", "zone"], "cell")
}

test_found_keeps_one_rule_without_metadata_keys if {
	results := {
		{"rule": "A-1", "severity": "high", "title": "t", "iec62443": [], "kind": "k", "id": "i", "field": [], "msg": "m"},
		{"rule": "B-1", "severity": "high", "title": "t", "iec62443": [], "kind": "k", "id": "j", "field": [], "msg": "n"},
	}
	fixture.found(results, "A-1") == {{"kind": "k", "id": "i", "field": [], "msg": "m"}}
}
