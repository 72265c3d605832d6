# METADATA
# title: Segmentation
# description: >-
#   Zones and conduits (IEC 62443-3-2) on Purdue levels: conduits join adjacent levels or pass
#   through the DMZ, nothing from the enterprise or the internet reaches levels 0-2, every
#   service names its protocol and port, only level 4 and above reach the internet, every flow a
#   collector needs is declared, and every address in a conduit or collector is a documented
#   device. Conduits are indexed once by site/from/to; addresses are looked up in
#   input.devices_by_address, never compared pairwise.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
package plant.segmentation

import data.plant.lib.purdue
import data.plant.lib.services
import data.plant.lib.violation

# METADATA
# title: Conduits join adjacent Purdue levels or pass through the DMZ
# description: >-
#   A conduit joins zones whose levels differ by at most one, or has one end in the DMZ
#   (level 3.5) and the other at level 2 to 5 or the internet (counted as level 5).
# custom:
#   id: SEG-001
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Route the flow through the DMZ, or split it into conduits between adjacent levels.
deny contains v if {
	some key, conduit in input.conduits
	from := purdue.level(conduit.site, conduit.from)
	to := purdue.level(conduit.site, conduit.to)
	abs(from - to) > 1
	not _through_dmz(from, to)
	msg := sprintf(
		"conduit %s joins %s and %s, which are not adjacent Purdue levels; %s",
		[
			conduit.id, purdue.label(conduit.site, conduit.from), purdue.label(conduit.site, conduit.to),
			"route the flow through the DMZ (level 3.5) or between adjacent levels",
		],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["to"], msg)
}

# METADATA
# title: Nothing from the enterprise or the internet into levels 0-2
# description: >-
#   No conduit starts in a zone of level 4 or above, or on the internet, and ends in a zone of
#   level 0, 1 or 2: such flows end in the DMZ.
# custom:
#   id: SEG-002
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 5.1", "SR 5.2"]
#   recommended_action: End the flow in the DMZ (a broker, a bastion or a replica) instead.
deny contains v if {
	some key, conduit in input.conduits
	purdue.level(conduit.site, conduit.from) >= 4
	purdue.level(conduit.site, conduit.to) <= 2
	msg := sprintf(
		"conduit %s lets %s reach %s; nothing from the enterprise or the internet may reach levels 0-2: %s",
		[
			conduit.id, purdue.label(conduit.site, conduit.from), purdue.label(conduit.site, conduit.to),
			"end the flow in the DMZ (level 3.5) instead",
		],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["from"], msg)
}

# METADATA
# title: No any-protocol or any-port conduit
# description: >-
#   Every conduit service names its protocol (never any), and tcp and udp services name their
#   port, or a range that runs upwards and spans at most 64 ports (1-65535 is "any port" too).
# custom:
#   id: SEG-003
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.2", "SR 7.7"]
#   recommended_action: Name the protocol and the port the flow needs (e.g. tcp 8883).
deny contains v if {
	some key, conduit in input.conduits
	some i, service in conduit.services
	problem := services.problem(service)
	msg := sprintf("conduit %s service %d %s; name the protocol and the port the flow needs", [conduit.id, i + 1, problem])
	v := violation.new(rego.metadata.rule(), "conduit", key, ["services", i], msg)
}

# METADATA
# title: Internet egress only from level 4 and above (zones)
# description: A zone below level 4 does not have internet_egress.
# custom:
#   id: SEG-004
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Remove internet_egress from the zone; reach the internet from the enterprise zone.
deny contains v if {
	some key, zone in input.zones
	zone.internet_egress == true
	zone.purdue_level < 4
	msg := sprintf(
		"zone %s (level %v) has internet egress; only zones at level 4 and above may reach the internet: %s",
		[key, zone.purdue_level, "remove internet_egress"],
	)
	v := violation.new(rego.metadata.rule(), "zone", key, ["internet_egress"], msg)
}

# METADATA
# title: Internet egress only from level 4 and above (conduits)
# description: A conduit to the internet starts in a zone of level 4 or above.
# custom:
#   id: SEG-005
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Remove the conduit, or start it in an enterprise zone (level 4 or above).
deny contains v if {
	some key, conduit in input.conduits
	conduit.to == purdue.internet
	purdue.level(conduit.site, conduit.from) < 4
	msg := sprintf(
		"conduit %s lets %s reach the internet; only zones at level 4 and above may: %s",
		[conduit.id, purdue.label(conduit.site, conduit.from), "remove it or start it in an enterprise zone"],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["to"], msg)
}

# METADATA
# title: Every collector's gateway-to-machine flow is declared
# description: >-
#   A collector reads its machine's controller (or its target) from its gateway: tcp to that
#   address and port. Unless gateway and target share a zone, a conduit of the site from the
#   gateway's zone to the target's zone allows it (its sources and destinations, when listed,
#   include the two addresses; absent lists mean the whole zone).
# custom:
#   id: SEG-006
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Add a conduit (or its source, destination and service) for the flow.
deny contains v if {
	some id, collector in input.collectors
	gateway := input.gateways[collector.gateway]
	machine := input.machines[collector.machine]
	gateway.site == machine.site
	target := _target(collector, machine)
	target.zone != gateway.zone
	not _covered(gateway.site, gateway.zone, target.zone, gateway.address, target.address, target.port)
	need := sprintf("gateway %s (%s, zone %s) to reach %s at %s tcp %v (zone %s)", [
		gateway.id, gateway.address, gateway.zone,
		machine.id, target.address, target.port, target.zone,
	])
	msg := sprintf("collector %s needs %s, and no conduit allows it; %s", [id, need, _add_conduit(gateway, target)])
	v := violation.new(rego.metadata.rule(), "collector", id, _target_field(collector), msg)
}

# METADATA
# title: Every gateway with collectors can reach its site broker
# description: >-
#   A gateway that runs collectors publishes to its site's broker (services.broker): tcp to the
#   broker's address and port, allowed by a conduit unless they share a zone. A site with
#   collectors declares a broker.
# custom:
#   id: SEG-007
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   recommended_action: Declare the site broker and a conduit from the gateway's zone to it.
deny contains v if {
	some [kind, id, field, msg] in _broker_issues
	v := violation.new(rego.metadata.rule(), kind, id, field, msg)
}

# METADATA
# title: Conduit addresses are documented devices of the conduit's zones
# description: >-
#   Every address a conduit lists as a source or destination is a documented device (machine
#   controller, gateway, broker or bastion) in the conduit's from or to zone respectively. The
#   internet end of a conduit is outside the plant and is not checked.
# custom:
#   id: SEG-008
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.2", "SR 7.8"]
#   recommended_action: Document the device in its zone, or remove the address from the conduit.
deny contains v if {
	some key, conduit in input.conduits
	some [list, end] in [["sources", "from"], ["destinations", "to"]]
	conduit[end] != purdue.internet
	some i, address in object.get(conduit, list, [])
	problem := _address_problem(conduit.site, conduit[end], address)
	msg := sprintf("conduit %s lists %s in %s, %s", [conduit.id, address, list, problem])
	v := violation.new(rego.metadata.rule(), "conduit", key, [list, i], msg)
}

# METADATA
# title: Collector targets are documented devices
# description: A collector's explicit target address is a documented device of the collector's site.
# custom:
#   id: SEG-009
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.8"]
#   recommended_action: Target the machine's documented controller, or document the device first.
deny contains v if {
	some id, collector in input.collectors
	address := collector.target.address
	not input.devices_by_address[address].site == collector.site
	msg := sprintf(
		"collector %s targets %s, which is not a documented device of site %s; %s",
		[id, address, collector.site, "target the machine's controller or document the device in its zone"],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["target", "address"], msg)
}

_through_dmz(a, b) if {
	a == purdue.dmz_level
	b >= 2
}

_through_dmz(a, b) if {
	b == purdue.dmz_level
	a >= 2
}

# What a collector connects to: its target, else its machine's controller; and that device's zone.
_target(collector, machine) := object.union(target, {"zone": _zone_at(machine.site, target.address, machine.zone)}) if {
	target := object.get(collector, "target", {"address": machine.controller.address, "port": machine.controller.port})
}

_target_field(collector) := ["target"] if collector.target

_target_field(collector) := ["machine"] if not collector.target

_zone_at(site, address, _) := device.zone if {
	device := input.devices_by_address[address]
	device.site == site
}

_zone_at(site, address, fallback) := fallback if not input.devices_by_address[address].site == site

_add_conduit(from, to) := sprintf(
	"add a conduit from %s to %s in sites/%s/conduits.yaml with source %s, destination %s and service tcp %v, %s",
	[from.zone, to.zone, from.site, from.address, to.address, to.port, "or extend one"],
)

# Conduit keys by "<site>/<from>/<to>": an object comprehension over the distinct pairs, so
# that OPA indexes the inner comprehension by pair (linear, where a partial rule is not).
_pairs contains concat("/", [conduit.site, conduit.from, conduit.to]) if some conduit in input.conduits

_by_pair := {pair: keys | # regal ignore:prefer-set-or-object-rule
	some pair in _pairs
	keys := [key | some key, conduit in input.conduits; concat("/", [conduit.site, conduit.from, conduit.to]) == pair]
}

# Sources and destinations of each conduit as sets; {"*"} stands for the whole zone.
_ends[key] := {"sources": _address_set(conduit, "sources"), "destinations": _address_set(conduit, "destinations")} if {
	some key, conduit in input.conduits
}

_address_set(conduit, list) := {address | some address in conduit[list]} if conduit[list]

_address_set(conduit, list) := {"*"} if not conduit[list]

_admits(addresses, _) if "*" in addresses

_admits(addresses, address) if address in addresses

# True when a conduit of the site from zone `from` to zone `to` allows tcp from src to dst:port.
_covered(site, from, to, src, dst, port) if {
	some key in _by_pair[concat("/", [site, from, to])]
	_admits(_ends[key].sources, src)
	_admits(_ends[key].destinations, dst)
	some service in input.conduits[key].services
	service.protocol == "tcp"
	_port_in(service, port)
}

_port_in(service, port) if service.port == port

_port_in(service, port) if {
	service.port <= port
	port <= service.port_end
}

_collecting_gateways contains collector.gateway if some collector in input.collectors

_broker_issues contains ["site", site, ["services"], msg] if {
	some site in {input.gateways[id].site | some id in _collecting_gateways}
	not input.sites[site].services.broker
	msg := sprintf(
		"site %s has collectors but declares no broker; add services.broker (id, zone, address, port) to sites/%s/site.yaml",
		[site, site],
	)
}

_broker_issues contains ["gateway", id, ["address"], msg] if {
	some id in _collecting_gateways
	gateway := input.gateways[id]
	broker := input.sites[gateway.site].services.broker
	broker.zone != gateway.zone
	not _covered(gateway.site, gateway.zone, broker.zone, gateway.address, broker.address, broker.port)
	need := sprintf("broker %s at %s tcp %v (zone %s)", [broker.id, broker.address, broker.port, broker.zone])
	msg := sprintf(
		"gateway %s (%s, zone %s) runs collectors that publish to %s, and no conduit allows it; %s",
		[id, gateway.address, gateway.zone, need, _add_conduit(gateway, broker)],
	)
}

_address_problem(_, _, address) := concat("; ", [
	"which is not the address of a documented device",
	"document the device or remove the address",
]) if {
	not input.devices_by_address[address]
}

_address_problem(site, zone, address) := problem if {
	device := input.devices_by_address[address]
	[device.site, device.zone] != [site, zone]
	problem := sprintf(
		"the address of %s %s in zone %s/%s, not in zone %s/%s; list only devices of the conduit's zones",
		[device.kind, device.id, device.site, device.zone, site, zone],
	)
}
