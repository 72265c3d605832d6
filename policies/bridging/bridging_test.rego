package plant.bridging_test

import data.plant.bridging
import data.plant.lib.fixture

# The fixture's site north bridging machine-status to an enterprise broker in its enterprise zone.
bridged := json.patch(fixture.base, [
	{"op": "add", "path": ["data_classes", "machine-status", "leaves_site"], "value": true},
	{"op": "add", "path": ["data_classes", "production-counts", "leaves_site"], "value": false},
	{
		"op": "add", "path": ["sites", "north", "services", "enterprise_broker"],
		"value": {"id": "ent-broker", "zone": "ent", "address": "10.1.40.20", "port": 8883},
	},
	{
		"op": "add", "path": ["sites", "north", "bridge"],
		"value": {"classes": ["machine-status"], "outage_minutes": 60},
	},
])

with_patch(operations) := json.patch(bridged, operations)

test_fixture_is_clean if {
	count(bridging.deny) == 0 with input as fixture.base
}

test_bridged_fixture_is_clean if {
	count(bridging.deny) == 0 with input as bridged
}

# BRG-001

test_brg_001_fires_for_a_class_that_may_not_leave if {
	patched := with_patch([{"op": "add", "path": ["sites", "north", "bridge", "classes", "-"], "value": "production-counts"}])
	result := bridging.deny with input as patched
	fixture.found(result, "BRG-001") == {{
		"kind": "site", "id": "north", "field": ["bridge", "classes", 1],
		"msg": "site north forwards data class production-counts to the enterprise broker, but production-counts does not say leaves_site: true; remove it from bridge.classes or have its owner allow it to leave the site",
	}}
}

test_brg_001_fires_when_leaves_site_is_absent if {
	patched := with_patch([{"op": "remove", "path": ["data_classes", "machine-status", "leaves_site"]}])
	result := bridging.deny with input as patched
	{v.field | some v in fixture.found(result, "BRG-001")} == {["bridge", "classes", 0]}
}

test_brg_001_near_miss_the_class_may_leave if {
	patched := with_patch([
		{"op": "replace", "path": ["data_classes", "production-counts", "leaves_site"], "value": true},
		{"op": "add", "path": ["sites", "north", "bridge", "classes", "-"], "value": "production-counts"},
	])
	count(bridging.deny) == 0 with input as patched
}

# BRG-002

test_brg_002_fires_for_a_broker_in_the_dmz if {
	patched := with_patch([{"op": "replace", "path": ["sites", "north", "services", "enterprise_broker", "zone"], "value": "dmz"}])
	result := bridging.deny with input as patched
	fixture.found(result, "BRG-002") == {{
		"kind": "site", "id": "north", "field": ["services", "enterprise_broker", "zone"],
		"msg": "the enterprise broker ent-broker of site north is in zone dmz of kind industrial-dmz; place it in a zone of kind enterprise",
	}}
}

test_brg_002_near_miss_another_enterprise_zone if {
	patched := with_patch([
		{
			"op": "add", "path": ["zones", "north/ent2"],
			"value": object.union(fixture.base.zones["north/ent"], {"id": "ent2", "key": "north/ent2"}),
		},
		{"op": "replace", "path": ["sites", "north", "services", "enterprise_broker", "zone"], "value": "ent2"},
	])
	count(bridging.deny) == 0 with input as patched
}

# BRG-003

test_brg_003_fires_without_an_enterprise_broker if {
	patched := with_patch([{"op": "remove", "path": ["sites", "north", "services", "enterprise_broker"]}])
	result := bridging.deny with input as patched
	fixture.found(result, "BRG-003") == {{
		"kind": "site", "id": "north", "field": ["bridge"],
		"msg": "site north has a bridge but no site declares services.enterprise_broker; declare it at one site",
	}}
}

test_brg_003_fires_without_a_site_broker if {
	patched := with_patch([{"op": "remove", "path": ["sites", "north", "services", "broker"]}])
	result := bridging.deny with input as patched
	fixture.found(result, "BRG-003") == {{
		"kind": "site", "id": "north", "field": ["bridge"],
		"msg": "site north has a bridge but no broker in services; add services.broker or remove the bridge",
	}}
}

test_brg_003_fires_for_two_enterprise_brokers if {
	south := object.union(bridged.sites.north, {"id": "south", "site": "south"})
	patched := with_patch([{"op": "add", "path": ["sites", "south"], "value": south}])
	result := bridging.deny with input as patched
	{[v.id, v.field] | some v in fixture.found(result, "BRG-003")} == {
		["north", ["services", "enterprise_broker"]],
		["south", ["services", "enterprise_broker"]],
	}
}

test_brg_003_near_miss_a_second_site_without_its_own if {
	south := json.patch(bridged.sites.north, [
		{"op": "replace", "path": ["id"], "value": "south"},
		{"op": "remove", "path": ["services", "enterprise_broker"]},
	])
	patched := with_patch([{"op": "add", "path": ["sites", "south"], "value": south}])
	count(bridging.deny) == 0 with input as patched
}
