package plant.collectors_test

import data.plant.collectors
import data.plant.lib.fixture

test_fixture_is_clean if {
	count(collectors.deny) == 0 with input as fixture.base
}

# COL-001

test_col_001_fires_for_a_modbus_write if {
	result := collectors.deny with input as fixture.change(["collectors", "c1", "signals", 0, "modbus", "function"], 6)
	fixture.found(result, "COL-001") == {{
		"kind": "collector", "id": "c1", "field": ["signals", 0, "modbus", "function"],
		"msg": "signal status of collector c1 uses Modbus function code 6, which is not a read; collectors only read: use 1 (coils), 2 (discrete inputs), 3 (holding) or 4 (input registers)",
	}}
}

test_col_001_near_miss_input_registers if {
	count(collectors.deny) == 0 with input as fixture.change(["collectors", "c1", "signals", 0, "modbus", "function"], 4)
}

# COL-002

test_col_002_fires_for_an_opcua_write if {
	result := collectors.deny with input as fixture.change(["collectors", "c2", "signals", 1, "opcua", "operation"], "write")
	fixture.found(result, "COL-002") == {{
		"kind": "collector", "id": "c2", "field": ["signals", 1, "opcua", "operation"],
		"msg": "signal part-count of collector c2 uses OPC UA operation write, which is not a read; collectors only read: use read or subscribe",
	}}
}

test_col_002_near_miss_read_instead_of_subscribe if {
	count(collectors.deny) == 0 with input as fixture.change(["collectors", "c2", "signals", 0, "opcua", "operation"], "read")
}

# COL-003

test_col_003_fires_for_a_missing_block if {
	result := collectors.deny with input as fixture.drop(["collectors", "c1", "signals", 0, "modbus"])
	fixture.found(result, "COL-003") == {{
		"kind": "collector", "id": "c1", "field": ["signals", 0],
		"msg": "signal status of collector c1 (modbus-tcp) has no modbus block; add modbus: {function: <1-4>, address: <register>}",
	}}
}

test_col_003_fires_for_a_block_of_the_other_protocol if {
	result := collectors.deny with input as fixture.put(["collectors", "c2", "signals", 0, "modbus"], {"function": 3, "address": 0})
	fixture.found(result, "COL-003") == {{
		"kind": "collector", "id": "c2", "field": ["signals", 0],
		"msg": "signal status of collector c2 (opcua) has a modbus block, which its protocol does not use; remove it",
	}}
}

test_col_003_near_miss_full_modbus_block if {
	count(collectors.deny) == 0 with input as fixture.change(
		["collectors", "c1", "signals", 0, "modbus"],
		{"function": 4, "address": 10, "count": 2, "scale": 0.1},
	)
}

# An S7 collector (c1 on an S7 CPU) and a Logix collector (c2 on a ControlLogix).
_s7_input := json.patch(fixture.base, [
	{"op": "replace", "path": "/machines/m1/controller", "value": {"protocol": "s7", "address": "10.1.1.21", "port": 102}},
	{"op": "replace", "path": "/collectors/c1/protocol", "value": "s7"},
	{"op": "remove", "path": "/collectors/c1/signals/0/modbus"},
	{"op": "add", "path": "/collectors/c1/signals/0/s7", "value": {"area": "db", "db": 10, "offset": 0, "type": "int"}},
	{"op": "replace", "path": "/machines/m2/controller", "value": {"protocol": "ethernet-ip", "address": "10.1.1.22", "port": 44818}},
	{"op": "replace", "path": "/collectors/c2/protocol", "value": "ethernet-ip"},
	{"op": "remove", "path": "/collectors/c2/signals/0/opcua"},
	{"op": "add", "path": "/collectors/c2/signals/0/logix", "value": {"tag": "Status", "type": "DINT"}},
	{"op": "remove", "path": "/collectors/c2/signals/1/opcua"},
	{"op": "add", "path": "/collectors/c2/signals/1/logix", "value": {"tag": "Count", "type": "DINT"}},
])

test_col_003_near_miss_s7_and_logix_blocks if {
	count(collectors.deny) == 0 with input as _s7_input
}

test_col_003_fires_for_an_s7_signal_without_its_block if {
	result := collectors.deny with input as json.remove(_s7_input, ["/collectors/c1/signals/0/s7"])
	fixture.found(result, "COL-003") == {{
		"kind": "collector", "id": "c1", "field": ["signals", 0],
		"msg": "signal status of collector c1 (s7) has no s7 block; add s7: {area: db, db: <number>, offset: <byte>, type: <type>}",
	}}
}

test_col_003_fires_for_a_logix_signal_with_an_opcua_block if {
	result := collectors.deny with input as json.patch(_s7_input, [{
		"op": "add", "path": "/collectors/c2/signals/1/opcua",
		"value": {"node_id": "ns=2;s=Count", "operation": "read"},
	}])
	fixture.found(result, "COL-003") == {{
		"kind": "collector", "id": "c2", "field": ["signals", 1],
		"msg": "signal part-count of collector c2 (ethernet-ip) has a opcua block, which its protocol does not use; remove it",
	}}
}

# COL-004

test_col_004_fires_for_a_machine_of_another_site if {
	result := collectors.deny with input as fixture.change(["machines", "m1", "site"], "south")
	fixture.found(result, "COL-004") == {{
		"kind": "collector", "id": "c1", "field": ["machine"],
		"msg": "collector c1 of site north uses machine m1 of site south; collectors read only within their own site: use a machine of site north",
	}}
}

test_col_004_fires_for_a_gateway_of_another_site if {
	result := collectors.deny with input as fixture.change(["gateways", "gw1", "site"], "south")
	fixture.found(result, "COL-004") == {
		{
			"kind": "collector", "id": "c1", "field": ["gateway"],
			"msg": "collector c1 of site north uses gateway gw1 of site south; collectors read only within their own site: use a gateway of site north",
		},
		{
			"kind": "collector", "id": "c2", "field": ["gateway"],
			"msg": "collector c2 of site north uses gateway gw1 of site south; collectors read only within their own site: use a gateway of site north",
		},
	}
}

test_col_004_near_miss_another_gateway_of_the_same_site if {
	count(collectors.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["gateways", "gw2"], "value": {"id": "gw2", "zone": "sup", "address": "10.1.2.22", "site": "north"}},
		{"op": "replace", "path": ["collectors", "c1", "gateway"], "value": "gw2"},
	])
}

# COL-005

test_col_005_fires_for_another_protocol if {
	result := collectors.deny with input as fixture.change(["machines", "m1", "controller", "protocol"], "opcua")
	fixture.found(result, "COL-005") == {{
		"kind": "collector", "id": "c1", "field": ["protocol"],
		"msg": "collector c1 speaks modbus-tcp but the controller of machine m1 speaks opcua; set protocol to opcua",
	}}
}

test_col_005_fires_for_an_unsupported_protocol if {
	result := collectors.deny with input as fixture.change(["machines", "m1", "controller", "protocol"], "profinet")
	fixture.found(result, "COL-005") == {{
		"kind": "collector", "id": "c1", "field": ["protocol"],
		"msg": "collector c1 speaks modbus-tcp but the controller of machine m1 speaks profinet; collectors read only modbus-tcp, opcua, s7 and ethernet-ip, not profinet: read the machine through an OPC UA server it offers, or not at all",
	}}
}

test_col_005_near_miss_other_port if {
	count(collectors.deny) == 0 with input as fixture.change(["machines", "m1", "controller", "port"], 5020)
}

# COL-006

test_col_006_fires_for_another_machine_s_topics if {
	result := collectors.deny with input as fixture.put(["collectors", "c1", "publish_prefix"], "north/cell/m2")
	fixture.found(result, "COL-006") == {{
		"kind": "collector", "id": "c1", "field": ["publish_prefix"],
		"msg": "collector c1 publishes under north/cell/m2; a collector publishes only under its own site, zone and machine: set publish_prefix to north/cell/m1 or remove it",
	}}
}

test_col_006_near_miss_own_prefix if {
	count(collectors.deny) == 0 with input as fixture.put(["collectors", "c1", "publish_prefix"], "north/cell/m1")
}
