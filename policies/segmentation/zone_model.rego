# Segmentation, the IEC 62443 zone model (the package's METADATA is in segmentation.rego).
# Zones have a kind (enterprise, industrial DMZ, site operations, supervisory, cell, safety,
# remote access) and a security level target; conduits state their countermeasure (inspection,
# security level capability) and carry services that the protocol catalogue
# (inventory/protocols.yaml, input.protocols) describes. Each service lists the catalogue
# entries it carries in `apps` (plantctl facts matches transport-and-port services too), so
# telnet is telnet whatever it is called. ZCR: IEC 62443-3-2 zone and conduit requirements.
package plant.segmentation

import data.plant.lib.purdue
import data.plant.lib.violation

# SL-C of a conduit: declared, else derived from its inspection.
_capability(conduit) := conduit.security_level_capability

_capability(conduit) := _derived_capability[object.get(conduit, "inspection", "stateful")] if {
	not conduit.security_level_capability
}

_derived_capability := {"none": 1, "stateful": 2, "deep": 3}

_inspection(conduit) := object.get(conduit, "inspection", "stateful")

_zone(conduit, end) := input.zones[purdue.zone_key(conduit.site, conduit[end])]

_kind(conduit, end) := _zone(conduit, end).kind

_kind(conduit, end) := "internet" if conduit[end] == purdue.internet

_apps(service) := {id: input.protocols[id] | some id in object.get(service, "apps", [])}

# METADATA
# title: Enterprise and control meet only in the industrial DMZ
# description: >-
#   No conduit joins a zone at level 4 or above (or the internet) with a zone at level 3 or
#   below: traffic between the enterprise and control terminates in the industrial DMZ (3.5).
# custom:
#   id: SEG-010
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   zcr: ["ZCR 3.2", "ZCR 3.3"]
#   recommended_action: End the flow in the industrial DMZ (broker, historian mirror, jump host).
deny contains v if {
	some key, conduit in input.conduits
	levels := [purdue.level(conduit.site, conduit.from), purdue.level(conduit.site, conduit.to)]
	max(levels) >= 4
	min(levels) <= 3
	msg := sprintf(
		"conduit %s joins %s and %s directly; %s",
		[
			conduit.id, purdue.label(conduit.site, conduit.from), purdue.label(conduit.site, conduit.to),
			"traffic between the enterprise and control must terminate in the industrial DMZ (level 3.5)",
		],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["to"], msg)
}

# METADATA
# title: A conduit is as strong as the zones it joins
# description: >-
#   A conduit's security level capability (SL-C: declared, or none 1, stateful 2, deep 3) is at
#   least the higher security level target of its two zones.
# custom:
#   id: SEG-011
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   zcr: ["ZCR 3.4", "ZCR 5.6"]
#   recommended_action: Set inspection deep, or the capability its firewall is certified for.
deny contains v if {
	some key, conduit in input.conduits
	targets := [zone.security_level_target | some end in ["from", "to"]; zone := _zone(conduit, end)]
	count(targets) > 0
	_capability(conduit) < max(targets)
	msg := sprintf(
		"conduit %s achieves SL-C %d, below SL-T %d of the zones it joins; %s: %d",
		[conduit.id, _capability(conduit), max(targets), "set inspection: deep or security_level_capability", max(targets)],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["services"], msg)
}

# METADATA
# title: A security level gap of two needs deep inspection
# description: >-
#   A conduit between zones whose security level targets differ by 2 or more inspects its
#   traffic deeply (inspection deep).
# custom:
#   id: SEG-012
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 3.2", "SR 5.1"]
#   zcr: ["ZCR 3.4"]
#   recommended_action: Set inspection deep on the conduit, or route it through a zone in between.
deny contains v if {
	some key, conduit in input.conduits
	gap := abs(_zone(conduit, "from").security_level_target - _zone(conduit, "to").security_level_target)
	gap >= 2
	_inspection(conduit) != "deep"
	msg := sprintf(
		"conduit %s joins zones whose SL-T differ by %d without deep inspection; set inspection: deep",
		[conduit.id, gap],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["from"], msg)
}

# METADATA
# title: Safety zones are held to SL-T 3 and serve one cell
# description: >-
#   A safety (SIS) zone has a security level target of at least 3 and serves a cell zone of its
#   site (serves).
# custom:
#   id: SEG-013
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 7.6"]
#   zcr: ["ZCR 3.1"]
#   recommended_action: Raise security_level_target to 3 or 4 and name the cell the safety system protects in serves.
deny contains v if {
	some [key, field, msg] in _safety_problems
	v := violation.new(rego.metadata.rule(), "zone", key, [field], msg)
}

# METADATA
# title: Only its own cell reaches a safety zone
# description: >-
#   A conduit with a safety zone at one end has the cell that zone serves at the other: never
#   a supervisory or higher zone, remote access, another cell or the internet.
# custom:
#   id: SEG-014
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   zcr: ["ZCR 3.1", "ZCR 3.3"]
#   recommended_action: Remove the conduit; engineering access to the safety PLC goes through its own cell.
deny contains v if {
	some key, conduit in input.conduits
	some [end, other] in [["from", "to"], ["to", "from"]]
	_kind(conduit, end) == "safety"
	conduit[other] != _zone(conduit, end).serves
	msg := sprintf(
		"conduit %s reaches safety zone %s from %s; only the cell it serves (%s) may reach it",
		[conduit.id, conduit[end], conduit[other], _zone(conduit, end).serves],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, [other], msg)
}

# METADATA
# title: Cell-to-cell conduits state why
# description: >-
#   A conduit between two cells says why they must talk directly (justification); such a change
#   is approved by IT security like every conduit (APR-002).
# custom:
#   id: SEG-015
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1"]
#   zcr: ["ZCR 3.3"]
#   recommended_action: Add justification, or route the flow through the supervisory zone.
deny contains v if {
	some key, conduit in input.conduits
	_kind(conduit, "from") == "cell"
	_kind(conduit, "to") == "cell"
	not conduit.justification
	msg := sprintf(
		"conduit %s joins two cells (%s, %s) without a justification; say why they must talk directly",
		[conduit.id, conduit.from, conduit.to],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["from"], msg)
}

# METADATA
# title: No insecure protocol crosses a zone boundary
# description: >-
#   Services the catalogue marks insecure (telnet, ftp, plain http, vnc without TLS, SMBv1) are
#   never carried by a conduit, however the service is spelt (app, or transport and port).
# custom:
#   id: SEG-016
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 4.1", "SR 5.2"]
#   zcr: ["ZCR 3.4"]
#   recommended_action: Use the secured protocol instead (ssh for telnet, https for http, sftp for ftp).
deny contains v if {
	some key, conduit in input.conduits
	some i, service in conduit.services
	some id, app in _apps(service)
	app.security == "insecure"
	msg := sprintf(
		"conduit %s service %d carries %s (%s), an insecure protocol; use a secured one",
		[conduit.id, i + 1, id, app.name],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["services", i], msg)
}

# METADATA
# title: Layer-2 protocols stay in their zone
# description: >-
#   A layer-2 protocol (transport ethernet, e.g. PROFINET RT) is not routed: it cannot be a
#   conduit between zones.
# custom:
#   id: SEG-017
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1"]
#   zcr: ["ZCR 3.3"]
#   recommended_action: Keep the devices in one zone, or use the protocol's routed form.
deny contains v if {
	some key, conduit in input.conduits
	some i, service in conduit.services
	some id, app in _apps(service)
	app.transport == "ethernet"
	msg := sprintf(
		"conduit %s service %d names %s, a layer-2 protocol that no routed conduit carries",
		[conduit.id, i + 1, id],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["services", i], msg)
}

# METADATA
# title: Cleartext control protocols stay low and adjacent
# description: >-
#   A cleartext industrial protocol (Modbus TCP, S7comm, EtherNet/IP) crosses a conduit only
#   between adjacent levels at or below level 2, unless the conduit inspects it deeply.
# custom:
#   id: SEG-018
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 3.1", "SR 5.2"]
#   zcr: ["ZCR 3.4"]
#   recommended_action: Use OPC UA or MQTT over TLS for the higher hop, or set inspection deep.
deny contains v if {
	some key, conduit in input.conduits
	some i, service in conduit.services
	some id, app in _apps(service)
	app.security == "cleartext"
	app.industrial == true
	_inspection(conduit) != "deep"
	levels := [purdue.level(conduit.site, conduit.from), purdue.level(conduit.site, conduit.to)]
	not _low_and_adjacent(levels)
	msg := sprintf(
		"conduit %s service %d carries %s in cleartext between %s and %s; %s",
		[
			conduit.id, i + 1, id, purdue.label(conduit.site, conduit.from), purdue.label(conduit.site, conduit.to),
			"only adjacent levels at or below 2 may, unless inspected deeply",
		],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, ["services", i], msg)
}

# METADATA
# title: Each zone pair carries only its allowed protocols
# description: >-
#   Every service of a conduit carries protocols of the catalogue, each allowed between the
#   conduit's zone kinds (the protocol's between list, from->to, 'internet' for the outside); a
#   service the catalogue does not know is on no allowlist.
# custom:
#   id: SEG-020
#   severity: medium
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   zcr: ["ZCR 3.3", "ZCR 3.4"]
#   recommended_action: Use a protocol allowed between these kinds of zone, or ask IT security to extend the allowlist.
deny contains v if {
	some key, conduit in input.conduits
	some i, service in conduit.services
	pair := concat("->", [_kind(conduit, "from"), _kind(conduit, "to")])
	problem := _allowlist_problem(service, pair)
	msg := sprintf("conduit %s service %d %s", [conduit.id, i + 1, problem])
	v := violation.new(rego.metadata.rule(), "conduit", key, ["services", i], msg)
}

_low_and_adjacent(levels) if {
	max(levels) <= 2
	max(levels) - min(levels) <= 1
}

_safety_problems contains [key, "security_level_target", msg] if {
	some key, zone in input.zones
	zone.kind == "safety"
	zone.security_level_target < 3
	msg := sprintf(
		"safety zone %s has SL-T %d; a safety system is held to SL-T 3 or more: raise security_level_target",
		[key, zone.security_level_target],
	)
}

_safety_problems contains [key, "serves", msg] if {
	some key, zone in input.zones
	zone.kind == "safety"
	served := input.zones[purdue.zone_key(zone.site, zone.serves)]
	served.kind != "cell"
	msg := sprintf(
		"safety zone %s serves %s, a %s zone; a safety system serves the control cell whose process it protects",
		[key, zone.serves, served.kind],
	)
}

# `apps` is what plantctl facts found the service to carry; a service it could not match to
# the catalogue has none, and is on no allowlist.
_allowlist_problem(service, _) := "carries no protocol of the catalogue (protocols.yaml); name an app" if {
	service.apps == []
}

_allowlist_problem(service, pair) := msg if {
	bad := sort([id | some id in service.apps; not pair in input.protocols[id].between])
	count(bad) > 0
	msg := sprintf("carries %s, not allowed between %s (protocols.yaml between)", [concat(", ", bad), pair])
}
