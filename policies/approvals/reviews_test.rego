package plant.approvals_reviews_test

import data.plant.approvals

teams := {
	"net": {"kind": "it", "handle": "@o/net", "members": ["nina"]},
	"sec": {"kind": "it", "security": true, "handle": "@o/sec", "members": ["sam", "Sue"]},
	"maint": {"kind": "maintenance", "handle": "@o/maint", "members": ["Max", "mia", "nina"]},
	"aud": {"kind": "audit", "handle": "@o/aud", "members": ["ada", "sam"]},
	"qa": {"kind": "quality", "handle": "@o/qa", "members": ["quinn"]},
}

zone := {"sensor-gateway-health": "maint", "network-connectivity": "net"}

# Commits as src/plantctl/gate/approvals.py states them.
commit(short, in_history, changed) := {
	"commit": concat("", [short, "000"]), "short": short, "known": true,
	"in_history": in_history, "changed_since": changed, "note": "",
}

commits := {
	"head": commit("head", true, []),
	"a": commit("a", true, ["gateway gw2", "file src/x.py"]),
	"b": commit("b", true, ["gateway other"]),
	"gone": commit("gone", false, []),
	"dead": {"commit": "", "short": "dead", "known": false, "in_history": false, "changed_since": [], "note": ""},
}

gateway(id) := {"kind": "gateway", "id": id, "op": "added", "zones": ["s1/sup"], "before": null, "after": {}}

plant := {
	"teams": teams,
	"owners": {"zones": {"s1/sup": zone}},
	"author": "MIA",
	"change": {"commits": commits},
}

pr(objects, files, reviews) := object.union(plant, {"reviews": reviews, "change": {"objects": objects, "files": files}})

# A review as plantctl's loader writes it: numbered in order (seq).
review(login, state, seq, commit_id) := {
	"login": login, "state": state, "host_state": state, "seq": seq,
	"submitted_at": "2026-01-01T00:00:00Z", "commit_id": commit_id,
}

approved(login, seq) := review(login, "APPROVED", seq, "head")

entry(team, req) := e if {
	some e in req
	e.team == team
}

whys(team, req) := {n.why | some n in entry(team, req).not_counted}

# -- reviews: ordering and states --

test_equal_times_are_ordered_by_sequence if {
	later_change := pr([gateway("gw1")], [], [approved("max", 1), review("max", "CHANGES_REQUESTED", 2, "head")])
	approvals.missing == ["maint", "net"] with input as later_change
	later_approval := pr([gateway("gw1")], [], [review("max", "CHANGES_REQUESTED", 1, "head"), approved("max", 2)])
	approvals.missing == ["net"] with input as later_approval
}

test_equal_order_without_sequence_does_not_approve if {
	tie := [
		{"login": "max", "state": "APPROVED", "submitted_at": "t", "commit_id": "head"},
		{"login": "max", "state": "CHANGES_REQUESTED", "submitted_at": "t", "commit_id": "head"},
	]
	approvals.missing == ["maint", "net"] with input as pr([gateway("gw1")], [], tie)
}

test_comments_and_drafts_keep_the_approval if {
	inp := pr([gateway("gw1")], [], [
		approved("max", 1), approved("nina", 2),
		review("max", "COMMENTED", 3, "head"), review("max", "PENDING", 4, ""),
	])
	approvals.missing == [] with input as inp
}

test_unknown_state_after_an_approval_is_not_an_approval if {
	unknown := object.union(review("max", "UNKNOWN", 2, "head"), {"host_state": "SHRUG"})
	inp := pr([gateway("gw1")], [], [approved("max", 1), unknown])
	approvals.missing == ["maint", "net"] with input as inp
	req_inp := approvals.required with input as inp
	"max's latest review is SHRUG (a state not read as an approval), not an approval" in whys("maint", req_inp)
}

test_review_requested_after_an_approval_is_not_an_approval if {
	inp := pr([gateway("gw1")], [], [approved("max", 1), review("max", "REVIEW_REQUESTED", 2, "")])
	approvals.missing == ["maint", "net"] with input as inp
	req_inp := approvals.required with input as inp
	"max's latest review is REVIEW_REQUESTED, not an approval" in whys("maint", req_inp)
}

test_logins_compared_in_lower_case if {
	inp := pr([gateway("gw1")], [], [approved("max", 1), approved("nina", 2)])
	approvals.missing == [] with input as inp
	req_inp := approvals.required with input as inp
	entry("maint", req_inp).approved_by == ["max", "nina"]
}

test_author_in_another_case_never_counts if {
	inp := pr([gateway("gw1")], [], [approved("mia", 1), approved("nina", 2)])
	req_inp := approvals.required with input as inp
	entry("maint", req_inp).approved_by == ["nina"]
	"mia is the author of the pull request" in whys("maint", req_inp)
}

test_outsider_named_where_an_approval_is_missing if {
	inp := pr([gateway("gw1")], [], [approved("quinn", 1), approved("nina", 2)])
	approvals.missing == [] with input as inp
	only_outsider := pr([gateway("gw1")], [], [approved("quinn", 1)])
	req_only_outsider := approvals.required with input as only_outsider
	e := entry("net", req_only_outsider)
	"approval not counted: quinn approved but is a member of none of the required teams" in e.reasons
}

# -- approvals bound to content --

test_approval_stale_for_an_object_changed_since if {
	inp := pr([gateway("gw1"), gateway("gw2")], [], [review("max", "APPROVED", 1, "a")])
	approvals.missing == ["maint", "net"] with input as inp
	req_inp := approvals.required with input as inp
	e := entry("maint", req_inp)
	e.approved_by == ["max"] # for gw1, unchanged since
	"max approved at a, changed since: gateway gw2" in whys("maint", req_inp)
	"approval not counted: max approved at a, changed since: gateway gw2" in e.reasons
}

test_approval_of_each_object_may_come_from_another_member if {
	inp := pr([gateway("gw1"), gateway("gw2")], [], [review("max", "APPROVED", 1, "a"), review("nina", "APPROVED", 2, "b")])
	req_inp := approvals.required with input as inp
	e := entry("maint", req_inp)
	e.satisfied
	e.approved_by == ["max", "nina"]
}

test_approval_kept_when_only_unrelated_things_changed if {
	inp := pr([gateway("gw1")], [], [review("max", "APPROVED", 1, "b"), review("nina", "APPROVED", 2, "b")])
	approvals.missing == [] with input as inp
}

test_file_changed_since_the_approval if {
	inp := pr([], ["src/x.py"], [review("sue", "APPROVED", 1, "a"), review("ada", "APPROVED", 2, "head")])
	approvals.missing == ["sec"] with input as inp
	req_inp := approvals.required with input as inp
	"sue approved at a, changed since: file src/x.py" in whys("sec", req_inp)
}

test_commit_outside_the_history_counts_for_nothing if {
	inp := pr([gateway("gw1")], [], [review("max", "APPROVED", 1, "gone")])
	req_inp := approvals.required with input as inp
	"max approved gone, which is not in the head's history" in whys("maint", req_inp)
	approvals.missing == ["maint", "net"] with input as inp
}

test_unknown_commit_counts_for_nothing if {
	inp := pr([gateway("gw1")], [], [review("max", "APPROVED", 1, "dead"), review("nina", "APPROVED", 2, "cafe")])
	approvals.missing == ["maint", "net"] with input as inp
	req_inp := approvals.required with input as inp
	"max approved dead, a commit this repository does not have" in whys("maint", req_inp)
	"nina approved cafe, a commit this repository does not have" in whys("net", req_inp)
}

test_approval_naming_no_commit_counts_for_nothing if {
	inp := pr([gateway("gw1")], [], [review("max", "APPROVED", 1, "")])
	req_inp := approvals.required with input as inp
	"max approved without naming a commit" in whys("maint", req_inp)
}

# APR-011

test_apr_011_one_person_in_two_teams_counts_once if {
	inp := pr([], ["policies/x.rego"], [approved("sam", 1)])
	approvals.missing == ["sec"] with input as inp
	req_inp := approvals.required with input as inp
	entry("aud", req_inp).approved_by == ["sam"]
	e := entry("sec", req_inp)
	e.approved_by == []
	"approval not counted: sam is counted for aud; each team's approval comes from a different person (APR-011)" in e.reasons
}

test_apr_011_two_people_satisfy_two_teams if {
	inp := pr([], ["policies/x.rego"], [approved("sam", 1), approved("ada", 2)])
	approvals.missing == [] with input as inp
	req_inp := approvals.required with input as inp
	entry("aud", req_inp).approved_by == ["ada"]
	entry("sec", req_inp).approved_by == ["sam"]
}

test_apr_011_near_miss_a_rule_without_separation if {
	# nina is in net and in maint: a gateway (APR-001) is not separated by default.
	inp := pr([gateway("gw1")], [], [approved("nina", 1)])
	approvals.missing == [] with input as inp
}

test_apr_011_configured_for_another_rule if {
	inp := object.union(pr([gateway("gw1")], [], [approved("nina", 1)]), {"ownership": {"separation_of_duties": ["APR-001"]}})
	count(approvals.missing) == 1 with input as inp
}

test_apr_011_switched_off_only_when_off_in_base_and_head if {
	change := pr([], ["policies/x.rego"], [approved("sam", 1)])
	off_in_head := object.union(change, {"ownership": {"separation_of_duties": []}})
	approvals.missing == ["sec"] with input as off_in_head
	off_in_both := object.union(off_in_head, {"change": {"base_separation_of_duties": []}})
	approvals.missing == [] with input as off_in_both
}

test_apr_011_as_many_teams_as_can_be_are_satisfied if {
	# sam could serve aud or sec; sue only sec: sam counts for aud, sue for sec.
	inp := pr([], ["policies/x.rego"], [approved("sam", 1), approved("sue", 2)])
	approvals.missing == [] with input as inp
	req_inp := approvals.required with input as inp
	entry("aud", req_inp).approved_by == ["sam"]
	entry("sec", req_inp).approved_by == ["sue"]
}

many_teams[id] := {"kind": "it", "security": true, "members": [sprintf("p%d", [i]), "shared"]} if {
	some i in numbers.range(1, 11)
	id := sprintf("t%02d", [i])
}

test_apr_011_beyond_ten_teams_only_exclusive_approvers_count if {
	reviews := [approved(login, i) | some i in numbers.range(1, 10); login := sprintf("p%d", [i])]
	inp := object.union(pr([], ["policies/x.rego"], array.concat(reviews, [approved("shared", 11)])), {"teams": many_teams})
	{t | some t in approvals.missing} == {"aud", "sec", "t11"} with input as inp
}
