# Who counts for each object a pull request needs approved (the `needs` of approvals.rego).
#
# An approval by `login` counts for team T on a needed object K (`<kind> <id>`; a file is
# `file <path>`) when all of these hold:
# - login's latest position is APPROVED: comments and drafts (silent_states) take no position;
#   every other state, including one plantctl does not know (UNKNOWN), is a position that is
#   not an approval; reviews are ordered by plantctl's `seq` (submitted_at, then review id);
# - login is a member of T (logins compared in lower case) and not the pull request's author;
# - the commit login approved is in the head's history and K is unchanged since
#   (input.change.commits, from src/plantctl/gate/approvals.py);
# - where K needs two or more teams under a rule with separation of duties (APR-011), each of
#   those teams is given a different person.
# T is satisfied when every object it is needed for has an approval that counts.
package plant.approvals

# Review states that take no position: the earlier position of the person stands.
silent_states := {"COMMENTED", "PENDING"}

author := lower(object.get(input, "author", ""))

commits := object.get(input, ["change", "commits"], {})

positions := [r | some r in object.get(input, "reviews", []); not r.state in silent_states]

# Latest first by plantctl's sequence number, else (facts written by hand) by submitted_at.
review_order(r) := [object.get(r, "seq", 0), object.get(r, "submitted_at", "")]

last_order[login] := max({review_order(r) | some r in positions; r.login == login}) if {
	some p in positions
	login := p.login
}

# login -> their latest position (a set: one review, or several that share an order).
latest[login] := {r | some r in positions; r.login == login; review_order(r) == order} if {
	some login, order in last_order
}

approving contains login if {
	some login, reviews in latest
	every r in reviews {
		r.state == "APPROVED"
	}
}

object_key(obj) := sprintf("%s %s", [obj.kind, obj.id])

team_members[team] := {lower(m) | some m in t.members} if some team, t in input.teams

needed_teams contains n.team if some n in needs

# team -> the keys of the objects it is needed for.
team_keys[team] := {object_key(n.object) | some n in needs; n.team == team} if some team in needed_teams

# login's approval stands for object k: given on a commit in the head's history, k unchanged.
fresh(login, k) if {
	login in approving
	every r in latest[login] {
		fresh_at(r, k)
	}
}

fresh_at(r, k) if {
	c := commits[r.commit_id]
	c.in_history == true
	not k in c.changed_since
}

# object key -> team -> who may approve it for the team: members, not the author, with a fresh
# approval.
candidates[k][team] := {login |
	some login in approving
	login in team_members[team]
	login != author
	fresh(login, k)
} if {
	some team, keys in team_keys
	some k in keys
}

# METADATA
# title: Each team's approval from a different person
# description: Where an object needs two or more teams under a rule with separation of duties,
#   each of those teams is approved by a different person; one person in two of the teams counts
#   for one of them. The rules are org/ownership.yaml separation_of_duties (APR-008 when not
#   set), of the head and of the base together, so a pull request cannot switch it off for
#   itself.
# custom:
#   id: APR-011
#   severity: high
#   owner: audit
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.1", "SR 2.1 RE 4"]
#   recommended_action: Ask another member of the team whose approval is missing to review.
separated_rules := separation(object.get(input, ["ownership", "separation_of_duties"], null)) | separation(object.get(
	input,
	["change", "base_separation_of_duties"],
	null,
))

separation(setting) := {rule | some rule in setting} if is_array(setting)

separation(setting) := {"APR-008"} if not is_array(setting)

separated_needs := [n | some n in needs; n.rule in separated_rules]

# object key -> the teams it needs under a rule with separation of duties, when two or more.
separated[k] := teams if {
	some n in separated_needs
	k := object_key(n.object)
	teams := {m.team | some m in separated_needs; object_key(m.object) == k}
	count(teams) > 1
}

separated_candidates[k][team] := candidates[k][team] if {
	some k, teams in separated
	some team in teams
}

# Beyond this many teams on one object the exact choice below (2^n subsets) is not tried: a
# team then counts only with a candidate no other of those teams has.
max_separated := 10

# The teams of separated[k] that are each given a different person. In team order, a team is
# kept when it raises how many of the teams before it can be given different people: the
# greedy choice on a transversal matroid, which satisfies as many teams as can be.
matched[k] := {team |
	some i, team in ordered
	match_size(array.slice(ordered, 0, i + 1), k, set()) > match_size(array.slice(ordered, 0, i), k, set())
} if {
	some k, teams in separated
	count(teams) <= max_separated
	ordered := sort(teams)
}

matched[k] := {team |
	some team in teams
	some login in cands[team]
	every other in teams - {team} {
		not login in cands[other]
	}
} if {
	some k, teams in separated
	count(teams) > max_separated
	cands := separated_candidates[k]
}

# How many of the teams `ts` can be given different people (not those in `gone`): the size
# minus the largest shortfall of any subset (Hall's theorem, deficiency form).
match_size(ts, _, _) := 0 if count(ts) == 0

match_size(ts, k, gone) := count(ts) - max(shortfalls) if {
	count(ts) > 0
	shortfalls := {shortfall |
		some s in subsets(ts)
		shortfall := count(s) - count(people_of(s, k, gone))
	}
}

people_of(s, k, gone) := {login | some team in s; some login in separated_candidates[k][team]} - gone

subsets(ts) := {{team | some j, team in ts; bits.and(mask, bits.lsh(1, j)) != 0} |
	some mask in numbers.range(0, bits.lsh(1, count(ts)) - 1)
}

# login counts for team on k: team is matched and the other matched teams can still be given
# different people without login.
counted_at[k][team] := {login |
	some login in cands
	match_size(others, k, {login}) == count(others)
} if {
	some k, teams in separated
	some team in teams
	team in matched[k]
	cands := separated_candidates[k][team]
	others := sort(matched[k] - {team})
}

counted_at[k][team] := set() if {
	some k, teams in separated
	some team in teams
	not team in matched[k]
}

in_separated(team, k) if team in separated[k]

counted(team, k) := counted_at[k][team] if in_separated(team, k)

counted(team, k) := candidates[k][team] if not in_separated(team, k)

default satisfied(_) := false

satisfied(team) if {
	every k in team_keys[team] {
		count(counted(team, k)) > 0
	}
}

approvers(team) := sort({login | some k in team_keys[team]; some login in counted(team, k)})

# -- why an approval did not count --

not_counted(team) := member_notes(team) | object.get(separation_notes, team, set())

member_notes(team) := {{"login": login, "why": why} |
	some login in team_members[team]
	latest[login]
	some why in position_notes(team, login)
}

position_notes(_, login) := {sprintf("%s is the author of the pull request", [login])} if {
	login == author
	login in approving
}

position_notes(_, login) := {sprintf("%s's latest review is %s, not an approval", [login, state_text(login)])} if {
	login != author
	not login in approving
}

position_notes(team, login) := commit_notes(team, login) if {
	login != author
	login in approving
}

state_text(login) := concat(", ", sort({state_of(r) | some r in latest[login]}))

state_of(r) := r.state if r.state != "UNKNOWN"

state_of(r) := sprintf("%s (a state not read as an approval)", [object.get(r, "host_state", "?")]) if {
	r.state == "UNKNOWN"
}

commit_notes(team, login) := {note |
	some r in latest[login]
	some note in commit_note(team, login, r)
}

commit_note(_, login, r) := {sprintf("%s approved without naming a commit", [login])} if {
	object.get(r, "commit_id", "") == ""
}

commit_note(_, login, r) := {msg} if {
	object.get(r, "commit_id", "") != ""
	not commits[r.commit_id].known
	msg := sprintf("%s approved %s, a commit this repository does not have", [login, r.commit_id])
}

commit_note(_, login, r) := {sprintf("%s approved %s, which is not in the head's history", [login, c.short])} if {
	c := commits[r.commit_id]
	c.known
	not c.in_history
}

commit_note(team, login, r) := {msg} if {
	c := commits[r.commit_id]
	c.in_history
	stale := {k | some k in team_keys[team]; k in c.changed_since}
	count(stale) > 0
	msg := sprintf("%s approved at %s, changed since: %s", [login, c.short, concat(", ", sort(stale))])
}

separation_notes[team] contains {"login": login, "why": why} if {
	some k, teams in separated
	some team in teams
	some login in separated_candidates[k][team]
	not login in counted_at[k][team]
	elsewhere := {other | some other in (teams - {team}); login in counted_at[k][other]}
	why := sprintf(
		"%s is counted for %s; each team's approval comes from a different person (APR-011)",
		[login, concat(", ", sort(elsewhere))],
	)
}

# Approvals by people in none of the required teams (shown where an approval is missing).
outsider_notes contains {"login": login, "why": why} if {
	some login in approving
	login != author
	every team in needed_teams {
		not login in object.get(team_members, team, set())
	}
	why := sprintf("%s approved but is a member of none of the required teams", [login])
}

notes_shown(_, true) := []

notes_shown(notes, false) := [sprintf("approval not counted: %s", [n.why]) | some n in notes]

required := [entry |
	some team in needed_teams
	ok := satisfied(team)
	notes := sort(not_counted(team) | outsider_shown(ok))
	entry := {
		"team": team,
		"handle": object.get(input.teams, [team, "handle"], team),
		"rules": sort({n.rule | some n in needs; n.team == team}),
		"reasons": array.concat(sort({n.reason | some n in needs; n.team == team}), notes_shown(notes, ok)),
		"objects": sort(team_keys[team]),
		"approved_by": approvers(team),
		"satisfied": ok,
		"not_counted": notes,
	}
]

outsider_shown(true) := set()

outsider_shown(false) := outsider_notes

missing := [entry.team | some entry in required; not entry.satisfied]
