# METADATA
# title: Test fixture
# description: >-
#   A minimal plant that every policy accepts, shaped like `plantctl facts` output: one site
#   (north) in pilot with a cell (level 1), a supervisory zone (2), a DMZ and a remote-access
#   zone (3.5) and an enterprise zone (4); two machines, one gateway, a Modbus and an OPC UA
#   collector, an internal and a vendor grant. A test changes it with one JSON patch (put,
#   change, drop or patch) and compares what one rule found (found) with what it expects.
package plant.lib.fixture

responsibilities := [
	"machine-data-requirements", "sensor-gateway-health", "network-connectivity", "user-access",
	"cybersecurity-controls", "dashboard-usage", "reason-code-updates", "vendor-support-coordination",
	"training", "data-accuracy", "change-approvals",
]

defaults := {
	"machine-data-requirements": "ops",
	"sensor-gateway-health": "maint",
	"network-connectivity": "it-net",
	"user-access": "it-sec",
	"cybersecurity-controls": "it-sec",
	"dashboard-usage": "ops",
	"reason-code-updates": "ops",
	"vendor-support-coordination": "maint",
	"training": "mgmt",
	"data-accuracy": "qa",
	"change-approvals": {"it": "it-net", "operations": "ops"},
}

teams[id] := team if {
	some [id, kind, login] in [
		["it-net", "it", "nora"], ["it-sec", "it", "sam"], ["ops", "operations", "olga"],
		["maint", "maintenance", "max"], ["qa", "quality", "quinn"], ["mgmt", "management", "mia"],
		["vendor", "vendor", "vic"], ["audit", "audit", "ada"],
	]
	team := {
		"id": id, "name": id, "kind": kind, "handle": concat("/", ["@acme", id]), "members": [login],
		"security": id == "it-sec",
	}
}

people[login] := {"login": login, "name": login, "external": login == "vic"} if {
	some login in ["nora", "sam", "olga", "max", "quinn", "mia", "vic", "ada"]
}

roles[id] := {"id": id, "description": id, "team_kinds": kinds} if {
	some [id, kinds] in [
		["operator", ["operations"]], ["network-admin", ["it"]],
		["vendor-technician", ["vendor"]], ["plant-manager", ["management"]],
	]
}

training contains record if {
	some [login, role] in [["olga", "operator"], ["nora", "network-admin"], ["vic", "vendor-technician"]]
	record := {"person": login, "role": role, "course": role, "completed": "2026-01-10", "expires": "2027-09-01"}
}

bindings contains {"person": record.person, "role": record.role, "site": "north"} if some record in training

glossary[id] := {"id": id, "term": id, "definition": id, "agreed_by": ["it-net", "ops"]} if {
	some id in ["press", "cnc-machine", "critical", "standard", "machine-status", "production-count"]
}

data_classes := {
	"machine-status": {
		"id": "machine-status", "name": "Machine status", "owner": "ops",
		"viewers": ["operator", "network-admin", "plant-manager"], "editors": [], "exporters": ["plant-manager"],
		"retention": {"days": 400, "min_days": 90, "max_days": 730}, "official_reports": false,
		"correction_owner": "maint", "dashboard_change_approver": "ops",
	},
	"production-counts": {
		"id": "production-counts", "name": "Production counts", "owner": "ops",
		"viewers": ["operator", "plant-manager"], "editors": ["operator"], "exporters": ["plant-manager"],
		"retention": {"days": 1825, "min_days": 1095, "max_days": 3650}, "official_reports": true,
		"report_approver": "mgmt", "correction_owner": "ops", "dashboard_change_approver": "ops",
	},
}

site := {
	"id": "north", "site": "north", "name": "North plant", "phase": "pilot", "supernet": "10.1.0.0/16",
	"timezone": "Europe/Berlin", "maintenance_windows": [],
	"survey": {"date": "2026-03-01", "attendees": ["olga", "max", "nora", "vic"]},
	"pilot": {"machines": ["m1", "m2"], "goals": ["g-status", "g-count"]},
	"signoffs": [
		{"phase": "pilot", "team": "it-net", "person": "nora", "date": "2026-04-01"},
		{"phase": "pilot", "team": "ops", "person": "olga", "date": "2026-04-01"},
	],
	"remote_access": {"vendor_max_hours": 8, "internal_max_days": 30},
	"services": {
		"broker": {"id": "broker", "zone": "dmz", "address": "10.1.35.10", "port": 8883},
		"bastion": {"id": "bastion", "zone": "remote", "address": "10.1.36.10", "port": 22},
	},
}

zones[key] := zone if {
	some [id, kind, level, vlan, cidr] in [
		["cell", "cell", 1, 11, "10.1.1.0/24"], ["sup", "supervisory", 2, 12, "10.1.2.0/24"],
		["dmz", "industrial-dmz", 3.5, 35, "10.1.35.0/24"], ["remote", "remote-access", 3.5, 36, "10.1.36.0/24"],
		["ent", "enterprise", 4, 40, "10.1.40.0/24"],
	]
	key := concat("/", ["north", id])
	zone := {
		"id": id, "name": id, "kind": kind, "purdue_level": level, "security_level_target": 2,
		"vlan": vlan, "cidr": cidr, "site": "north", "key": key,
	}
}

# The protocol catalogue (inventory/protocols.yaml), a part of it; tcp and udp entries have a port.
protocols[id] := object.union(protocol, port) if {
	some [id, transport, number, security, industrial, foothold, between] in [
		["modbus-tcp", "tcp", 502, "cleartext", true, false, ["supervisory->cell"]],
		["s7comm", "tcp", 102, "cleartext", true, true, ["supervisory->cell"]],
		["opc-ua", "tcp", 4840, "secured", true, false, ["supervisory->cell"]],
		["profinet", "ethernet", null, "cleartext", true, false, []],
		["mqtts", "tcp", 8883, "secured", false, false, ["supervisory->industrial-dmz", "enterprise->industrial-dmz"]],
		["ssh", "tcp", 22, "secured", false, true, ["internet->remote-access", "remote-access->supervisory"]],
		["https", "tcp", 443, "secured", false, true, ["enterprise->internet"]],
		["telnet", "tcp", 23, "insecure", false, true, []],
	]
	protocol := {
		"id": id, "name": id, "transport": transport, "security": security,
		"industrial": industrial, "foothold": foothold, "between": between,
	}
	port := {"port": number | number != null}
}

_read_cell_services := [
	{"protocol": "tcp", "port": 502, "apps": ["modbus-tcp"]},
	{"protocol": "tcp", "port": 4840, "apps": ["opc-ua"]},
]

conduits[key] := object.union(conduit, {"site": "north", "key": key}) if {
	some conduit in [
		{
			"id": "read-cell", "from": "sup", "to": "cell", "purpose": "the gateway reads the cell",
			"sources": ["10.1.2.21"], "destinations": ["10.1.1.21", "10.1.1.22"],
			"services": _read_cell_services,
		},
		{
			"id": "publish", "from": "sup", "to": "dmz", "purpose": "the gateway publishes",
			"sources": ["10.1.2.21"], "destinations": ["10.1.35.10"],
			"services": [{"protocol": "tcp", "port": 8883, "apps": ["mqtts"]}],
		},
		{
			"id": "vendors-in", "from": "internet", "to": "remote", "purpose": "vendors reach the bastion",
			"destinations": ["10.1.36.10"], "services": [{"protocol": "tcp", "port": 22, "apps": ["ssh"]}],
		},
		{
			"id": "bastion-out", "from": "remote", "to": "sup", "purpose": "granted sessions",
			"sources": ["10.1.36.10"], "destinations": ["10.1.2.21"],
			"services": [{"protocol": "tcp", "port": 22, "apps": ["ssh"]}],
		},
		{
			"id": "egress", "from": "ent", "to": "internet", "purpose": "web access",
			"services": [{"protocol": "tcp", "port": 443, "apps": ["https"]}],
		},
	]
	key := concat("/", ["north", conduit.id])
}

machines := {
	"m1": {
		"id": "m1", "name": "Press", "zone": "cell", "kind": "press", "criticality": "critical", "site": "north",
		"controller": {"protocol": "modbus-tcp", "address": "10.1.1.21", "port": 502, "unit_id": 1},
	},
	"m2": {
		"id": "m2", "name": "Mill", "zone": "cell", "kind": "cnc-machine", "criticality": "standard", "site": "north",
		"controller": {"protocol": "opcua", "address": "10.1.1.22", "port": 4840},
	},
}

collectors := {
	"c1": {
		"id": "c1", "gateway": "gw1", "protocol": "modbus-tcp", "machine": "m1", "site": "north",
		"serves": ["g-status"],
		"signals": [{
			"name": "status", "data_class": "machine-status", "meaning": "machine-status", "interval_s": 1,
			"modbus": {"function": 3, "address": 0},
		}],
	},
	"c2": {
		"id": "c2", "gateway": "gw1", "protocol": "opcua", "machine": "m2", "site": "north",
		"serves": ["g-status", "g-count"],
		"signals": [
			{
				"name": "status", "data_class": "machine-status", "meaning": "machine-status", "interval_s": 1,
				"opcua": {"node_id": "ns=2;s=Status", "operation": "subscribe"},
			},
			{
				"name": "part-count", "data_class": "production-counts", "meaning": "production-count",
				"interval_s": 10, "opcua": {"node_id": "ns=2;s=Count", "operation": "read"},
			},
		],
	},
}

# Two goals agreed by IT and operations; the one with a budget by management too.
goals := {
	"g-status": {
		"id": "g-status", "site": "north", "statement": "Live status of both machines",
		"metric": {"meaning": "machine-status", "unit": "min", "machines": ["m1", "m2"]},
		"data_classes": ["machine-status"],
		"baseline": {"value": 0, "period": {"start": "2026-01-01", "end": "2026-03-31"}},
		"target": {"value": 100, "period": {"start": "2026-04-01", "end": "2026-06-30"}},
		"owners": ["ops", "it-net"], "sponsors": ["mgmt"],
		"agreed_by": [
			{"team": "ops", "person": "olga", "date": "2026-04-01"},
			{"team": "it-net", "person": "nora", "date": "2026-04-01"},
		],
		"review": {"cadence": "weekly"},
	},
	"g-count": {
		"id": "g-count", "site": "north", "statement": "Parts counted by the mill",
		"metric": {"meaning": "production-count", "unit": "parts", "machines": ["m2"]},
		"baseline": {"value": 1000, "period": {"start": "2026-01-01", "end": "2026-03-31"}},
		"target": {"value": 1100, "period": {"start": "2026-04-01", "end": "2026-06-30"}},
		"owners": ["ops", "it-net"], "sponsors": ["mgmt"], "budget": {"amount": 5000, "currency": "EUR"},
		"agreed_by": [
			{"team": "ops", "person": "olga", "date": "2026-04-01"},
			{"team": "it-net", "person": "nora", "date": "2026-04-01"},
			{"team": "mgmt", "person": "mia", "date": "2026-04-01"},
		],
		"review": {"cadence": "monthly"},
	},
}

approvals := [
	{"person": "olga", "team": "ops", "date": "2026-11-19"},
	{"person": "sam", "team": "it-sec", "date": "2026-11-19"},
]

grants := {
	"g-int": {
		"id": "g-int", "person": "nora", "site": "north", "target": "gw1", "via": "bastion",
		"services": [{"protocol": "tcp", "port": 22, "apps": ["ssh"]}], "ticket": "CHG-1", "justification": "update",
		"start": "2026-11-20T08:00:00Z", "end": "2026-12-10T08:00:00Z", "mfa": true, "session_recording": false,
		"approvals": approvals,
	},
	"g-ven": {
		"id": "g-ven", "person": "vic", "site": "north", "target": "gw1", "via": "bastion",
		"services": [{"protocol": "tcp", "port": 22, "apps": ["ssh"]}], "ticket": "CHG-2", "justification": "vendor support",
		"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T12:00:00Z", "mfa": true, "session_recording": true,
		"approvals": approvals,
	},
}

devices_by_address[address] := {"kind": kind, "id": id, "site": "north", "zone": zone} if {
	some [address, kind, id, zone] in [
		["10.1.1.21", "machine", "m1", "cell"], ["10.1.1.22", "machine", "m2", "cell"],
		["10.1.2.21", "gateway", "gw1", "sup"], ["10.1.35.10", "broker", "broker", "dmz"],
		["10.1.36.10", "bastion", "bastion", "remote"],
	]
}

owners_by_zone[key] := defaults if some key, _ in zones

# The attack paths plantctl facts computes for this plant (src/plantctl/plant/attack_paths.py), in
# its order: from the internet and from the remote-access zone, over ssh footholds.
attack_paths := [attack_path(from, from_kind, to_kind, hops) |
	some [from, from_kind, to_kind, hops] in [
		["internet", "internet", "remote-access", [["vendors-in", "remote"]]],
		["internet", "internet", "supervisory", [["vendors-in", "remote"], ["bastion-out", "sup"]]],
		["internet", "internet", "industrial-dmz", [["vendors-in", "remote"], ["bastion-out", "sup"], ["publish", "dmz"]]],
		["internet", "internet", "cell", [["vendors-in", "remote"], ["bastion-out", "sup"], ["read-cell", "cell"]]],
		["remote", "remote-access", "supervisory", [["bastion-out", "sup"]]],
		["remote", "remote-access", "industrial-dmz", [["bastion-out", "sup"], ["publish", "dmz"]]],
		["remote", "remote-access", "cell", [["bastion-out", "sup"], ["read-cell", "cell"]]],
	]
]

# METADATA
# description: One attack path of site north; hops are [conduit, zone entered], all stateful.
attack_path(from, from_kind, to_kind, hops) := {
	"site": "north", "from": from, "from_kind": from_kind, "to": hops[count(hops) - 1][1], "to_kind": to_kind,
	"hops": [{"conduit": c, "conduit_key": concat("/", ["north", c]), "zone": z, "inspection": "stateful"} |
		some [c, z] in hops
	],
}

# METADATA
# description: The whole fixture, shaped like `plantctl facts` output.
base := {
	"schema_version": 1,
	"now": "2026-11-22T12:00:00Z",
	"responsibilities": responsibilities,
	"teams": teams,
	"people": people,
	"roles": roles,
	"ownership": {"defaults": defaults},
	"owners": {"sites": {"north": defaults}, "zones": owners_by_zone},
	"training": sort(training),
	"bindings": sort(bindings),
	"glossary": glossary,
	"goals": goals,
	"data_classes": data_classes,
	"sites": {"north": site},
	"zones": zones,
	"conduits": conduits,
	"protocols": protocols,
	"devices": {},
	"machines": machines,
	"gateways": {"gw1": {"id": "gw1", "zone": "sup", "address": "10.1.2.21", "site": "north"}},
	"collectors": collectors,
	"grants": grants,
	"waivers": {},
	"devices_by_address": devices_by_address,
	"attack_paths": attack_paths,
}

# METADATA
# description: The fixture changed by a list of JSON patch operations (paths as arrays of keys).
patch(operations) := json.patch(base, operations)

# METADATA
# description: The fixture with the object key at path added or set to value.
put(path, value) := patch([{"op": "add", "path": path, "value": value}])

# METADATA
# description: The fixture with the existing value at path (an object key or array index) changed.
change(path, value) := patch([{"op": "replace", "path": path, "value": value}])

# METADATA
# description: The fixture without the value at path.
drop(path) := patch([{"op": "remove", "path": path}])

# METADATA
# description: What one rule found, without the keys that come from its METADATA.
found(results, rule) := {object.filter(v, ["kind", "id", "field", "msg"]) | some v in results; v.rule == rule}
