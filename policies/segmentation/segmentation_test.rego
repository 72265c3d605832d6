package plant.segmentation_test

import data.plant.lib.fixture
import data.plant.segmentation

with_conduit(conduit) := fixture.put(
	["conduits", concat("/", ["north", conduit.id])],
	object.union(conduit, {"site": "north", "key": concat("/", ["north", conduit.id]), "purpose": "test"}),
)

test_fixture_is_clean if {
	count(segmentation.deny) == 0 with input as fixture.base
}

# SEG-001

test_seg_001_fires_for_a_conduit_that_skips_a_level if {
	result := segmentation.deny with input as with_conduit({"id": "hop", "from": "sup", "to": "ent", "services": [{"protocol": "tcp", "port": 443}]})
	fixture.found(result, "SEG-001") == {{
		"kind": "conduit", "id": "north/hop", "field": ["to"],
		"msg": "conduit hop joins sup (level 2) and ent (level 4), which are not adjacent Purdue levels; route the flow through the DMZ (level 3.5) or between adjacent levels",
	}}
}

test_seg_001_near_miss_through_the_dmz if {
	count(segmentation.deny) == 0 with input as with_conduit({"id": "up", "from": "sup", "to": "remote", "services": [{"protocol": "tcp", "port": 22}]})
}

# SEG-002

test_seg_002_fires_for_internet_into_level_2 if {
	result := segmentation.deny with input as with_conduit({"id": "in", "from": "internet", "to": "sup", "services": [{"protocol": "tcp", "port": 22}]})
	fixture.found(result, "SEG-002") == {{
		"kind": "conduit", "id": "north/in", "field": ["from"],
		"msg": "conduit in lets the internet reach sup (level 2); nothing from the enterprise or the internet may reach levels 0-2: end the flow in the DMZ (level 3.5) instead",
	}}
}

test_seg_002_near_miss_enterprise_into_the_dmz if {
	count(segmentation.deny) == 0 with input as with_conduit({"id": "ssh", "from": "ent", "to": "remote", "services": [{"protocol": "tcp", "port": 22}]})
}

# SEG-003

test_seg_003_fires_for_any_protocol if {
	result := segmentation.deny with input as fixture.put(["conduits", "north/publish", "services", "-"], {"protocol": "any"})
	fixture.found(result, "SEG-003") == {{
		"kind": "conduit", "id": "north/publish", "field": ["services", 1],
		"msg": "conduit publish service 2 allows any protocol; name the protocol and the port the flow needs",
	}}
}

test_seg_003_fires_for_tcp_without_a_port if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/egress", "services", 0], {"protocol": "tcp"})
	fixture.found(result, "SEG-003") == {{
		"kind": "conduit", "id": "north/egress", "field": ["services", 0],
		"msg": "conduit egress service 1 allows every tcp port; name the protocol and the port the flow needs",
	}}
}

test_seg_003_fires_for_every_port_as_a_range if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/egress", "services", 0], {"protocol": "tcp", "port": 1, "port_end": 65535})
	fixture.found(result, "SEG-003") == {{
		"kind": "conduit", "id": "north/egress", "field": ["services", 0],
		"msg": "conduit egress service 1 has a port range 1-65535 of 65535 ports, wider than 64; name the protocol and the port the flow needs",
	}}
}

test_seg_003_fires_for_a_backwards_range if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/egress", "services", 0], {"protocol": "tcp", "port": 443, "port_end": 1})
	fixture.found(result, "SEG-003") == {{
		"kind": "conduit", "id": "north/egress", "field": ["services", 0],
		"msg": "conduit egress service 1 has a port range 443-1 that runs backwards; name the protocol and the port the flow needs",
	}}
}

test_seg_003_near_miss_a_short_range if {
	count(segmentation.deny) == 0 with input as fixture.change(["conduits", "north/egress", "services", 0], {"protocol": "tcp", "port": 443, "port_end": 444})
}

test_seg_003_near_miss_icmp_has_no_port if {
	count(segmentation.deny) == 0 with input as fixture.put(["conduits", "north/egress", "services", "-"], {"protocol": "icmp"})
}

# SEG-004

test_seg_004_fires_for_egress_below_level_4 if {
	result := segmentation.deny with input as fixture.put(["zones", "north/sup", "internet_egress"], true)
	fixture.found(result, "SEG-004") == {{
		"kind": "zone", "id": "north/sup", "field": ["internet_egress"],
		"msg": "zone north/sup (level 2) has internet egress; only zones at level 4 and above may reach the internet: remove internet_egress",
	}}
}

test_seg_004_near_miss_egress_flag_false if {
	count(segmentation.deny) == 0 with input as fixture.put(["zones", "north/sup", "internet_egress"], false)
}

# SEG-005

test_seg_005_fires_for_the_dmz_to_the_internet if {
	result := segmentation.deny with input as with_conduit({"id": "out", "from": "dmz", "to": "internet", "services": [{"protocol": "tcp", "port": 443}]})
	fixture.found(result, "SEG-005") == {{
		"kind": "conduit", "id": "north/out", "field": ["to"],
		"msg": "conduit out lets dmz (level 3.5) reach the internet; only zones at level 4 and above may: remove it or start it in an enterprise zone",
	}}
}

test_seg_005_near_miss_enterprise_to_the_internet if {
	count(segmentation.deny) == 0 with input as with_conduit({"id": "out", "from": "ent", "to": "internet", "services": [{"protocol": "tcp", "port": 80}]})
}

# SEG-006

test_seg_006_fires_for_a_missing_service if {
	result := segmentation.deny with input as fixture.drop(["conduits", "north/read-cell", "services", 1])
	fixture.found(result, "SEG-006") == {{
		"kind": "collector", "id": "c2", "field": ["machine"],
		"msg": "collector c2 needs gateway gw1 (10.1.2.21, zone sup) to reach m2 at 10.1.1.22 tcp 4840 (zone cell), and no conduit allows it; add a conduit from sup to cell in sites/north/conduits.yaml with source 10.1.2.21, destination 10.1.1.22 and service tcp 4840, or extend one",
	}}
}

test_seg_006_fires_for_a_missing_destination if {
	result := segmentation.deny with input as fixture.change(["conduits", "north/read-cell", "destinations"], ["10.1.1.22"])
	fixture.found(result, "SEG-006") == {{
		"kind": "collector", "id": "c1", "field": ["machine"],
		"msg": "collector c1 needs gateway gw1 (10.1.2.21, zone sup) to reach m1 at 10.1.1.21 tcp 502 (zone cell), and no conduit allows it; add a conduit from sup to cell in sites/north/conduits.yaml with source 10.1.2.21, destination 10.1.1.21 and service tcp 502, or extend one",
	}}
}

test_seg_006_near_miss_whole_zone_conduit if {
	count(segmentation.deny) == 0 with input as fixture.patch([
		{"op": "remove", "path": ["conduits", "north/read-cell", "sources"]},
		{"op": "remove", "path": ["conduits", "north/read-cell", "destinations"]},
	])
}

test_seg_006_near_miss_target_port_in_a_range if {
	count(segmentation.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["collectors", "c2", "target"], "value": {"address": "10.1.1.22", "port": 4841}},
		{"op": "replace", "path": ["conduits", "north/read-cell", "services", 1], "value": {"protocol": "tcp", "port": 4840, "port_end": 4850}},
	])
}

# An S7 CPU (m1, tcp 102) and a Logix controller (m2, tcp 44818): the conduit must carry exactly
# those ports; the Modbus and OPC UA ports it has do not do.
_s7_logix := [
	{"op": "replace", "path": ["machines", "m1", "controller"], "value": {"protocol": "s7", "address": "10.1.1.21", "port": 102}},
	{"op": "replace", "path": ["collectors", "c1", "protocol"], "value": "s7"},
	{"op": "replace", "path": ["machines", "m2", "controller"], "value": {"protocol": "ethernet-ip", "address": "10.1.1.22", "port": 44818}},
	{"op": "replace", "path": ["collectors", "c2", "protocol"], "value": "ethernet-ip"},
]

test_seg_006_fires_for_s7_and_logix_ports_the_conduit_lacks if {
	result := segmentation.deny with input as fixture.patch(_s7_logix)
	{[v.id, v.msg] | some v in fixture.found(result, "SEG-006")} == {
		["c1", "collector c1 needs gateway gw1 (10.1.2.21, zone sup) to reach m1 at 10.1.1.21 tcp 102 (zone cell), and no conduit allows it; add a conduit from sup to cell in sites/north/conduits.yaml with source 10.1.2.21, destination 10.1.1.21 and service tcp 102, or extend one"],
		["c2", "collector c2 needs gateway gw1 (10.1.2.21, zone sup) to reach m2 at 10.1.1.22 tcp 44818 (zone cell), and no conduit allows it; add a conduit from sup to cell in sites/north/conduits.yaml with source 10.1.2.21, destination 10.1.1.22 and service tcp 44818, or extend one"],
	}
}

test_seg_006_near_miss_s7_and_logix_ports_in_the_conduit if {
	result := segmentation.deny with input as fixture.patch(array.concat(_s7_logix, [{
		"op": "replace", "path": ["conduits", "north/read-cell", "services"],
		"value": [{"protocol": "tcp", "port": 102, "apps": ["s7comm"]}, {"protocol": "tcp", "port": 44818, "apps": ["ethernet-ip"]}],
	}]))
	fixture.found(result, "SEG-006") == set()
}

# SEG-007

test_seg_007_fires_without_a_conduit_to_the_broker if {
	result := segmentation.deny with input as fixture.drop(["conduits", "north/publish"])
	fixture.found(result, "SEG-007") == {{
		"kind": "gateway", "id": "gw1", "field": ["address"],
		"msg": "gateway gw1 (10.1.2.21, zone sup) runs collectors that publish to broker broker at 10.1.35.10 tcp 8883 (zone dmz), and no conduit allows it; add a conduit from sup to dmz in sites/north/conduits.yaml with source 10.1.2.21, destination 10.1.35.10 and service tcp 8883, or extend one",
	}}
}

test_seg_007_fires_without_a_broker if {
	result := segmentation.deny with input as fixture.drop(["sites", "north", "services", "broker"])
	fixture.found(result, "SEG-007") == {{
		"kind": "site", "id": "north", "field": ["services"],
		"msg": "site north has collectors but declares no broker; add services.broker (id, zone, address, port) to sites/north/site.yaml",
	}}
}

test_seg_007_near_miss_conduit_from_the_whole_zone if {
	count(segmentation.deny) == 0 with input as fixture.drop(["conduits", "north/publish", "sources"])
}

# SEG-008

test_seg_008_fires_for_an_undocumented_address if {
	result := segmentation.deny with input as fixture.put(["conduits", "north/read-cell", "destinations", "-"], "10.1.1.99")
	fixture.found(result, "SEG-008") == {{
		"kind": "conduit", "id": "north/read-cell", "field": ["destinations", 2],
		"msg": "conduit read-cell lists 10.1.1.99 in destinations, which is not the address of a documented device; document the device or remove the address",
	}}
}

test_seg_008_fires_for_a_device_of_another_zone if {
	result := segmentation.deny with input as fixture.put(["conduits", "north/publish", "destinations", "-"], "10.1.36.10")
	fixture.found(result, "SEG-008") == {{
		"kind": "conduit", "id": "north/publish", "field": ["destinations", 1],
		"msg": "conduit publish lists 10.1.36.10 in destinations, the address of bastion bastion in zone north/remote, not in zone north/dmz; list only devices of the conduit's zones",
	}}
}

test_seg_008_near_miss_internet_sources_are_not_devices if {
	count(segmentation.deny) == 0 with input as fixture.put(["conduits", "north/vendors-in", "sources"], ["203.0.113.7"])
}

# SEG-009

test_seg_009_fires_for_an_undocumented_target if {
	result := segmentation.deny with input as fixture.put(["collectors", "c1", "target"], {"address": "10.1.1.99", "port": 502})
	fixture.found(result, "SEG-009") == {{
		"kind": "collector", "id": "c1", "field": ["target", "address"],
		"msg": "collector c1 targets 10.1.1.99, which is not a documented device of site north; target the machine's controller or document the device in its zone",
	}}
}

test_seg_009_near_miss_target_is_the_controller if {
	count(segmentation.deny) == 0 with input as fixture.put(["collectors", "c1", "target"], {"address": "10.1.1.21", "port": 502})
}
