# METADATA
# title: Waivers
# description: >-
#   Approved, time-bound exceptions (inventory/waivers.yaml): a waiver that is in force (its
#   expiry date not reached) and names a rule, a record kind and a record key takes the matching
#   violation of the decision out of the violations into the waived list. An expired waiver
#   (WAI-001) and one that matches no violation (WAI-002) are violations themselves, so that
#   exceptions do not outlive their reason. The gate (plant.gate) reads violations, waived and
#   counts from here; the rules are not deny rules, since they read the decision, which reads
#   every domain's deny rules.
# schemas:
#   - input: schema.input
package plant.waivers

import data.plant.lib.clock
import data.plant.lib.violation

# METADATA
# title: A waiver must not be expired
# description: >-
#   A waiver applies until its expiry date (midnight UTC). From that day on it waives nothing
#   and is reported, so that the exception is renewed with a new approval or removed.
# custom:
#   id: WAI-001
#   severity: high
#   owner: audit
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.8", "SR 3.4"]
#   recommended_action: Remove the waiver and fix the violation, or renew it with a new approval and expiry date.
problems contains v if {
	some key, waiver in _waivers
	clock.date_ns(waiver.expires) <= clock.now_ns
	msg := sprintf(
		"waiver %s (approved by %s) of %s for %s %s expired on %s; %s",
		[
			key, waiver.approver, waiver.rule, waiver.kind, waiver.object, waiver.expires,
			"fix the violation and remove the waiver, or renew it with a new approval and expiry date",
		],
	)
	v := violation.new(rego.metadata.rule(), "waiver", key, ["expires"], msg)
}

# METADATA
# title: A waiver must match a violation
# description: >-
#   A waiver in force names a rule, kind and key that the decision reports as a violation;
#   one that matches nothing (the object was fixed, renamed or removed, or the waiver has a typo)
#   is reported, so that no stale exception waits for a future violation.
# custom:
#   id: WAI-002
#   severity: medium
#   owner: audit
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.8", "SR 3.4"]
#   recommended_action: Remove the waiver, or correct its rule, kind and object to the violation it exempts.
problems contains v if {
	some key, waiver in _active
	not _violated[_waiver_match(waiver)]
	msg := sprintf(
		"waiver %s exempts %s %s from %s, but there is no such violation; %s",
		[key, waiver.kind, waiver.object, waiver.rule, "remove the waiver or correct its rule, kind and object"],
	)
	v := violation.new(rego.metadata.rule(), "waiver", key, [], msg)
}

# METADATA
# description: >-
#   The decision's violations without the waived ones, with the waiver problems; undefined
#   (fail closed) when the decision is.
violations := violation.sorted(kept | problems) if {
	raw := data.plant.decision.violations
	kept := {v | some v in raw; not _covering[_match(v)]}
}

# METADATA
# description: >-
#   The waived violations, each with the waiver that covers it (id, reason, approver, expires,
#   ticket), in the decision's order.
waived := [object.union(v, {"waiver": _summary(_covering[_match(v)][0])}) |
	some v in data.plant.decision.violations
	_covering[_match(v)]
]

# METADATA
# description: The decision's counts, of the violations that remain, with the number waived.
counts := {
	"violations": count(violations),
	"warnings": count(object.get(data.plant.decision, "warnings", [])),
	"waived": count(waived),
	"by_severity": {severity: n |
		some severity in ["high", "medium", "low"]
		n := count([v | some v in violations; v.severity == severity])
	},
	"by_rule": {rule: n |
		some rule in {v.rule | some v in violations}
		n := count([v | some v in violations; v.rule == rule])
	},
}

_waivers := object.get(input, "waivers", {})

_active[key] := waiver if {
	some key, waiver in _waivers
	clock.now_ns < clock.date_ns(waiver.expires)
}

_match(v) := concat("|", [v.rule, v.kind, v.id])

_waiver_match(waiver) := concat("|", [waiver.rule, waiver.kind, waiver.object])

_violated contains _match(v) if some v in data.plant.decision.violations

# match -> the keys of the waivers in force for it, sorted (the first one is shown).
_covering := {match: keys | # regal ignore:prefer-set-or-object-rule
	some match in {_waiver_match(waiver) | some waiver in _active}
	keys := sort([key | some key, waiver in _active; _waiver_match(waiver) == match])
}

_summary(key) := object.union(
	{"id": key, "ticket": ""},
	object.filter(_waivers[key], ["reason", "approver", "expires", "ticket"]),
)
