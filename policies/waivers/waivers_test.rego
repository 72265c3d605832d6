package plant.waivers_test

import data.plant.lib.fixture
import data.plant.waivers

# The fixture with one violation (SEG-003 on conduit north/publish) and the given waivers.
broken_with(ws) := fixture.patch([
	{"op": "add", "path": ["conduits", "north/publish", "services", "-"], "value": {"protocol": "any"}},
	{"op": "add", "path": ["waivers"], "value": ws},
])

waiver(rule, kind, key, expires) := {
	"id": "w-1", "rule": rule, "kind": kind, "object": key, "expires": expires,
	"reason": "vendor tool needs it until CHG-1", "approver": "sam", "ticket": "CHG-1",
}

# In force: the violation moves to waived, with its waiver.

test_a_waiver_in_force_moves_its_violation_to_waived if {
	doc := broken_with({"w-1": waiver("SEG-003", "conduit", "north/publish", "2026-11-23")})
	waivers.violations == [] with input as doc
	[[v.rule, v.kind, v.id] | some v in waivers.waived] == [["SEG-003", "conduit", "north/publish"]] with input as doc
	moved := waivers.waived[0] with input as doc
	moved.waiver == {
		"id": "w-1", "reason": "vendor tool needs it until CHG-1", "approver": "sam",
		"expires": "2026-11-23", "ticket": "CHG-1",
	}
	counts := waivers.counts with input as doc
	[counts.violations, counts.waived] == [0, 1]
}

test_without_waivers_nothing_is_waived if {
	doc := fixture.put(["conduits", "north/publish", "services", "-"], {"protocol": "any"})
	[v.rule | some v in waivers.violations] == ["SEG-003"] with input as doc
	waivers.waived == [] with input as doc
}

# WAI-001

test_wai_001_fires_for_an_expired_waiver if {
	doc := broken_with({"w-1": waiver("SEG-003", "conduit", "north/publish", "2026-11-22")})
	fixture.found(waivers.problems, "WAI-001") == {{
		"kind": "waiver", "id": "w-1", "field": ["expires"],
		"msg": "waiver w-1 (approved by sam) of SEG-003 for conduit north/publish expired on 2026-11-22; fix the violation and remove the waiver, or renew it with a new approval and expiry date",
	}} with input as doc

	# the violation it covered is back, and the expired waiver is not also WAI-002
	[v.rule | some v in waivers.violations] == ["SEG-003", "WAI-001"] with input as doc
	waivers.waived == [] with input as doc
}

test_wai_001_near_miss_expiring_tomorrow if {
	doc := broken_with({"w-1": waiver("SEG-003", "conduit", "north/publish", "2026-11-23")})
	fixture.found(waivers.problems, "WAI-001") == set() with input as doc
}

# WAI-002

test_wai_002_fires_for_a_waiver_that_matches_no_violation if {
	doc := broken_with({"w-1": waiver("SEG-003", "conduit", "north/egress", "2026-12-01")})
	fixture.found(waivers.problems, "WAI-002") == {{
		"kind": "waiver", "id": "w-1", "field": [],
		"msg": "waiver w-1 exempts conduit north/egress from SEG-003, but there is no such violation; remove the waiver or correct its rule, kind and object",
	}} with input as doc
	[v.rule | some v in waivers.violations] == ["SEG-003", "WAI-002"] with input as doc
}

test_wai_002_near_miss_a_matching_waiver if {
	doc := broken_with({"w-1": waiver("SEG-003", "conduit", "north/publish", "2026-12-01")})
	fixture.found(waivers.problems, "WAI-002") == set() with input as doc
}

# -- more than one waiver, no decision --

test_two_waivers_for_one_violation_show_the_first if {
	doc := broken_with({
		"w-2": waiver("SEG-003", "conduit", "north/publish", "2026-12-01"),
		"w-1": waiver("SEG-003", "conduit", "north/publish", "2026-12-01"),
	})
	[w.waiver.id | some w in waivers.waived] == ["w-1"] with input as doc
	waivers.problems == set() with input as doc
}

test_undefined_without_a_decision if {
	not waivers.violations with data.plant.decision as {} with input as fixture.base
}
