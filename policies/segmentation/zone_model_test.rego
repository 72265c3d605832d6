package plant.segmentation_test

import data.plant.lib.fixture
import data.plant.segmentation

# A conduit added to the fixture (a separate name from segmentation_test's helper).
conduit_of(conduit) := object.union(conduit, {"site": "north", "key": concat("/", ["north", conduit.id]), "purpose": "test"})

plus_conduit(base, conduit) := json.patch(base, [{"op": "add", "path": ["conduits", concat("/", ["north", conduit.id])], "value": conduit_of(conduit)}])

ssh := [{"protocol": "tcp", "port": 22, "apps": ["ssh"]}]

# A safety zone that serves the cell, at SL-T 3.
sis := {"id": "sis", "name": "sis", "kind": "safety", "serves": "cell", "purdue_level": 1, "security_level_target": 3, "vlan": 109, "cidr": "10.1.9.0/24", "site": "north", "key": "north/sis"}

with_sis := fixture.put(["zones", "north/sis"], sis)

# SEG-010

test_seg_010_fires_for_enterprise_to_site_operations if {
	base := json.patch(fixture.base, [{"op": "add", "path": ["zones", "north/ops"], "value": {"id": "ops", "kind": "site-operations", "purdue_level": 3, "security_level_target": 2, "site": "north", "key": "north/ops"}}])
	result := segmentation.deny with input as plus_conduit(base, {"id": "erp", "from": "ent", "to": "ops", "services": [{"protocol": "tcp", "port": 443, "apps": ["https"]}]})
	fixture.found(result, "SEG-010") == {{
		"kind": "conduit", "id": "north/erp", "field": ["to"],
		"msg": "conduit erp joins ent (level 4) and ops (level 3) directly; traffic between the enterprise and control must terminate in the industrial DMZ (level 3.5)",
	}}
}

test_seg_010_near_miss_enterprise_to_the_dmz if {
	count(fixture.found(segmentation.deny, "SEG-010")) == 0 with input as plus_conduit(fixture.base, {"id": "sub", "from": "ent", "to": "dmz", "services": [{"protocol": "tcp", "port": 8883, "apps": ["mqtts"]}]})
}

# SEG-011

test_seg_011_fires_for_a_stateful_conduit_into_sl_3 if {
	base := fixture.put(["zones", "north/dmz", "security_level_target"], 3)
	result := segmentation.deny with input as base
	fixture.found(result, "SEG-011") == {{
		"kind": "conduit", "id": "north/publish", "field": ["services"],
		"msg": "conduit publish achieves SL-C 2, below SL-T 3 of the zones it joins; set inspection: deep or security_level_capability: 3",
	}}
}

test_seg_011_near_miss_a_declared_capability if {
	base := json.patch(fixture.base, [
		{"op": "replace", "path": ["zones", "north/dmz", "security_level_target"], "value": 3},
		{"op": "add", "path": ["conduits", "north/publish", "security_level_capability"], "value": 3},
	])
	count(fixture.found(segmentation.deny, "SEG-011")) == 0 with input as base
}

# SEG-012

test_seg_012_fires_for_a_gap_of_two if {
	base := json.patch(fixture.base, [
		{"op": "replace", "path": ["zones", "north/dmz", "security_level_target"], "value": 4},
		{"op": "add", "path": ["conduits", "north/publish", "security_level_capability"], "value": 4},
	])
	result := segmentation.deny with input as base
	fixture.found(result, "SEG-012") == {{
		"kind": "conduit", "id": "north/publish", "field": ["from"],
		"msg": "conduit publish joins zones whose SL-T differ by 2 without deep inspection; set inspection: deep",
	}}
}

test_seg_012_near_miss_deep_inspection if {
	base := json.patch(fixture.base, [
		{"op": "replace", "path": ["zones", "north/dmz", "security_level_target"], "value": 4},
		{"op": "add", "path": ["conduits", "north/publish", "security_level_capability"], "value": 4},
		{"op": "add", "path": ["conduits", "north/publish", "inspection"], "value": "deep"},
	])
	count(fixture.found(segmentation.deny, "SEG-012")) == 0 with input as base
}

# SEG-013

test_seg_013_fires_for_a_safety_zone_at_sl_2 if {
	result := segmentation.deny with input as fixture.put(["zones", "north/sis"], object.union(sis, {"security_level_target": 2}))
	fixture.found(result, "SEG-013") == {{
		"kind": "zone", "id": "north/sis", "field": ["security_level_target"],
		"msg": "safety zone north/sis has SL-T 2; a safety system is held to SL-T 3 or more: raise security_level_target",
	}}
}

test_seg_013_fires_for_a_safety_zone_serving_no_cell if {
	result := segmentation.deny with input as fixture.put(["zones", "north/sis"], object.union(sis, {"serves": "sup"}))
	fixture.found(result, "SEG-013") == {{
		"kind": "zone", "id": "north/sis", "field": ["serves"],
		"msg": "safety zone north/sis serves sup, a supervisory zone; a safety system serves the control cell whose process it protects",
	}}
}

test_seg_013_near_miss_sl_3_serving_its_cell if {
	count(fixture.found(segmentation.deny, "SEG-013")) == 0 with input as with_sis
}

# SEG-014

test_seg_014_fires_for_supervisory_to_safety if {
	result := segmentation.deny with input as plus_conduit(with_sis, {"id": "eng", "from": "sup", "to": "sis", "services": ssh, "inspection": "deep"})
	fixture.found(result, "SEG-014") == {{
		"kind": "conduit", "id": "north/eng", "field": ["from"],
		"msg": "conduit eng reaches safety zone sis from sup; only the cell it serves (cell) may reach it",
	}}
}

test_seg_014_near_miss_its_own_cell if {
	count(fixture.found(segmentation.deny, "SEG-014")) == 0 with input as plus_conduit(with_sis, {"id": "trip", "from": "cell", "to": "sis", "services": ssh, "inspection": "deep"})
}

# SEG-015

test_seg_015_fires_for_cell_to_cell_without_a_reason if {
	base := json.patch(fixture.base, [{"op": "add", "path": ["zones", "north/cell2"], "value": {"id": "cell2", "kind": "cell", "purdue_level": 1, "security_level_target": 2, "site": "north", "key": "north/cell2"}}])
	result := segmentation.deny with input as plus_conduit(base, {"id": "c2c", "from": "cell", "to": "cell2", "services": [{"protocol": "tcp", "port": 4840, "apps": ["opc-ua"]}]})
	fixture.found(result, "SEG-015") == {{
		"kind": "conduit", "id": "north/c2c", "field": ["from"],
		"msg": "conduit c2c joins two cells (cell, cell2) without a justification; say why they must talk directly",
	}}
}

test_seg_015_near_miss_a_stated_reason if {
	base := json.patch(fixture.base, [{"op": "add", "path": ["zones", "north/cell2"], "value": {"id": "cell2", "kind": "cell", "purdue_level": 1, "security_level_target": 2, "site": "north", "key": "north/cell2"}}])
	count(fixture.found(segmentation.deny, "SEG-015")) == 0 with input as plus_conduit(base, {"id": "c2c", "from": "cell", "to": "cell2", "justification": "interlock", "services": [{"protocol": "tcp", "port": 4840, "apps": ["opc-ua"]}]})
}

# SEG-016

test_seg_016_fires_for_telnet_by_its_port if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/egress", "services", 0], {"protocol": "tcp", "port": 23, "apps": ["telnet"]})
	fixture.found(result, "SEG-016") == {{
		"kind": "conduit", "id": "north/egress", "field": ["services", 0],
		"msg": "conduit egress service 1 carries telnet (telnet), an insecure protocol; use a secured one",
	}}
}

test_seg_016_near_miss_ssh if {
	count(fixture.found(segmentation.deny, "SEG-016")) == 0 with input as fixture.change(["conduits", "north/egress", "services", 0], ssh[0])
}

# SEG-017

test_seg_017_fires_for_profinet_between_zones if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/read-cell", "services", 0], {"app": "profinet", "protocol": "ethernet", "apps": ["profinet"]})
	fixture.found(result, "SEG-017") == {{
		"kind": "conduit", "id": "north/read-cell", "field": ["services", 0],
		"msg": "conduit read-cell service 1 names profinet, a layer-2 protocol that no routed conduit carries",
	}}
}

test_seg_017_near_miss_a_routed_protocol if {
	count(fixture.found(segmentation.deny, "SEG-017")) == 0 with input as fixture.base
}

# SEG-018

test_seg_018_fires_for_modbus_into_the_dmz if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/publish", "services", 0], {"protocol": "tcp", "port": 502, "apps": ["modbus-tcp"]})
	fixture.found(result, "SEG-018") == {{
		"kind": "conduit", "id": "north/publish", "field": ["services", 0],
		"msg": "conduit publish service 1 carries modbus-tcp in cleartext between sup (level 2) and dmz (level 3.5); only adjacent levels at or below 2 may, unless inspected deeply",
	}}
}

test_seg_018_near_miss_modbus_from_supervisory_to_the_cell if {
	count(fixture.found(segmentation.deny, "SEG-018")) == 0 with input as fixture.base
}

test_seg_018_near_miss_inspected_deeply if {
	base := json.patch(fixture.base, [
		{"op": "replace", "path": ["conduits", "north/publish", "services", 0], "value": {"protocol": "tcp", "port": 502, "apps": ["modbus-tcp"]}},
		{"op": "add", "path": ["conduits", "north/publish", "inspection"], "value": "deep"},
	])
	count(fixture.found(segmentation.deny, "SEG-018")) == 0 with input as base
}

# SEG-020

test_seg_020_fires_for_ssh_from_the_enterprise_into_the_cell_supervisor if {
	result := segmentation.deny with input as plus_conduit(fixture.base, {"id": "admin", "from": "ent", "to": "dmz", "services": ssh, "inspection": "deep"})
	fixture.found(result, "SEG-020") == {{
		"kind": "conduit", "id": "north/admin", "field": ["services", 0],
		"msg": "conduit admin service 1 carries ssh, not allowed between enterprise->industrial-dmz (protocols.yaml between)",
	}}
}

test_seg_020_fires_for_a_service_the_catalogue_does_not_know if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/egress", "services", 0], {"protocol": "tcp", "port": 9999, "apps": []})
	fixture.found(result, "SEG-020") == {{
		"kind": "conduit", "id": "north/egress", "field": ["services", 0],
		"msg": "conduit egress service 1 carries no protocol of the catalogue (protocols.yaml); name an app",
	}}
}

test_seg_020_near_miss_mqtts_from_the_enterprise_to_the_dmz if {
	base := plus_conduit(fixture.base, {"id": "sub", "from": "ent", "to": "dmz", "services": [{"protocol": "tcp", "port": 8883, "apps": ["mqtts"]}]})
	count(fixture.found(segmentation.deny, "SEG-020")) == 0 with input as base
}
