# METADATA
# title: Read-only collectors
# description: >-
#   Collectors (sites/<site>/collectors.yaml) only read: Modbus function codes 1-4, OPC UA
#   read or subscribe, S7 reads (area, offset, type) and Logix tag reads (tag, type), the last
#   two with no way to say write in the schema. Each signal is written for the collector's protocol, which is its
#   machine controller's; gateway and machine are in the collector's site, and a collector
#   publishes only under its own site, zone and machine (<site>/<zone>/<machine>/...).
# schemas:
#   - input: schema.input
# custom:
#   scope: site
package plant.collectors

import data.plant.lib.violation

# Modbus function codes that read: coils, discrete inputs, holding registers, input registers.
read_function_codes := {1, 2, 3, 4}

read_operations := {"read", "subscribe"}

# The signal block each collector protocol needs.
blocks := {"modbus-tcp": "modbus", "opcua": "opcua", "s7": "s7", "ethernet-ip": "logix"}

# METADATA
# title: Modbus reads only (function codes 1-4)
# description: >-
#   A Modbus signal uses function code 1 (read coils), 2 (read discrete inputs), 3 (read holding
#   registers) or 4 (read input registers); every other code writes or diagnoses.
# custom:
#   id: COL-001
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.1", "SR 7.7"]
#   recommended_action: Use a read function code (1-4); writes to controllers are never collected.
deny contains v if {
	some id, collector in input.collectors
	some i, signal in collector.signals
	code := signal.modbus.function
	not code in read_function_codes
	msg := sprintf(
		"signal %s of collector %s uses Modbus function code %v, which is not a read; %s",
		[
			signal.name, id, code,
			"collectors only read: use 1 (coils), 2 (discrete inputs), 3 (holding) or 4 (input registers)",
		],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["signals", i, "modbus", "function"], msg)
}

# METADATA
# title: OPC UA reads only (read, subscribe)
# description: An OPC UA signal uses the read or subscribe service, never write, call or history-update.
# custom:
#   id: COL-002
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.1", "SR 7.7"]
#   recommended_action: Use operation read or subscribe.
deny contains v if {
	some id, collector in input.collectors
	some i, signal in collector.signals
	operation := signal.opcua.operation
	not operation in read_operations
	msg := sprintf(
		"signal %s of collector %s uses OPC UA operation %s, which is not a read; %s",
		[signal.name, id, operation, "collectors only read: use read or subscribe"],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["signals", i, "opcua", "operation"], msg)
}

# METADATA
# title: Signals are written for the collector's protocol
# description: >-
#   Every signal of a collector has the block of its protocol (modbus-tcp: modbus, opcua:
#   opcua, s7: s7, ethernet-ip: logix) and no other protocol's block.
# custom:
#   id: COL-003
#   severity: medium
#   owner: maintenance
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.6"]
#   recommended_action: Give each signal the block of its collector's protocol only.
deny contains v if {
	some id, collector in input.collectors
	wanted := blocks[collector.protocol]
	some i, signal in collector.signals
	some block in {"modbus", "opcua", "s7", "logix"}
	problem := _block_problem(signal, block, wanted)
	msg := sprintf("signal %s of collector %s (%s) %s", [signal.name, id, collector.protocol, problem])
	v := violation.new(rego.metadata.rule(), "collector", id, ["signals", i], msg)
}

# METADATA
# title: Gateway and machine are in the collector's site
# description: A collector runs on a gateway of its own site and reads a machine of its own site.
# custom:
#   id: COL-004
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Use a gateway and a machine of the collector's site.
deny contains v if {
	some id, collector in input.collectors
	some [field, table] in [["gateway", input.gateways], ["machine", input.machines]]
	other := table[collector[field]]
	other.site != collector.site
	msg := sprintf(
		"collector %s of site %s uses %s %s of site %s; collectors read only within their own site: use a %s of site %s",
		[id, collector.site, field, other.id, other.site, field, collector.site],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, [field], msg)
}

# METADATA
# title: The collector speaks its machine controller's protocol
# description: A collector's protocol is the protocol of the controller of the machine it reads.
# custom:
#   id: COL-005
#   severity: medium
#   owner: maintenance
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.6"]
#   recommended_action: Set the collector's protocol to the controller's (modbus-tcp, opcua, s7 or ethernet-ip).
deny contains v if {
	some id, collector in input.collectors
	machine := input.machines[collector.machine]
	machine.controller.protocol != collector.protocol
	msg := sprintf(
		"collector %s speaks %s but the controller of machine %s speaks %s; %s",
		[id, collector.protocol, machine.id, machine.controller.protocol, _protocol_fix(machine.controller.protocol)],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["protocol"], msg)
}

# METADATA
# title: Collectors publish only under their own site, zone and machine
# description: >-
#   A collector's topics are <site>/<zone>/<machine>/<data class>/<signal>; a publish_prefix,
#   when set, is exactly <site>/<zone>/<machine> of the machine it reads.
# custom:
#   id: COL-006
#   severity: high
#   owner: it
#   principle: 5 Data ownership
#   iec62443: ["SR 2.1", "SR 4.1"]
#   recommended_action: Remove publish_prefix, or set it to <site>/<zone>/<machine>.
deny contains v if {
	some id, collector in input.collectors
	prefix := collector.publish_prefix
	machine := input.machines[collector.machine]
	wanted := concat("/", [machine.site, machine.zone, machine.id])
	prefix != wanted
	msg := sprintf(
		"collector %s publishes under %s; a collector publishes only under its own site, zone and machine: %s",
		[id, prefix, sprintf("set publish_prefix to %s or remove it", [wanted])],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["publish_prefix"], msg)
}

_block_problem(signal, block, wanted) := sprintf("has no %s block; add %s", [block, _example[block]]) if {
	block == wanted
	not signal[block]
}

_block_problem(signal, block, wanted) := msg if {
	block != wanted
	signal[block]
	msg := sprintf("has a %s block, which its protocol does not use; remove it", [block])
}

_example := {
	"modbus": "modbus: {function: <1-4>, address: <register>}",
	"opcua": "opcua: {node_id: <node>, operation: read}",
	"s7": "s7: {area: db, db: <number>, offset: <byte>, type: <type>}",
	"logix": "logix: {tag: <name>, type: <type>}",
}

_protocol_fix(protocol) := sprintf("set protocol to %s", [protocol]) if blocks[protocol]

_protocol_fix(protocol) := msg if {
	not blocks[protocol]
	msg := sprintf(
		"collectors read only modbus-tcp, opcua, s7 and ethernet-ip, not %s: %s",
		[protocol, "read the machine through an OPC UA server it offers, or not at all"],
	)
}
