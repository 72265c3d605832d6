# METADATA
# title: Shared goals
# description: >-
#   The business goals of goals.yaml are agreed by IT and operations (and by management when
#   they spend a budget); every collector serves at least one agreed goal of its site and
#   collects only the signals its goals need (no data without a purpose); a site's pilot names
#   the goals it tests; a goal whose metric no collector provides is flagged.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
package plant.goals

import data.plant.lib.violation

# The two sides that agree every goal.
sides := {"it", "operations"}

# METADATA
# description: Goal id -> the set of kinds of the teams that agreed it.
agreed_kinds[id] := {input.teams[a.team].kind | some a in goal.agreed_by} if some id, goal in input.goals

# METADATA
# description: Goal id -> the agreement it lacks (a set of team kinds), empty when agreed.
lacking[id] := missing if {
	some id, goal in input.goals
	budget := {"management" | goal.budget}
	missing := (sides | budget) - agreed_kinds[id]
}

# METADATA
# description: Goals agreed by everyone they need.
agreed contains id if {
	some id, missing in lacking
	count(missing) == 0
}

# METADATA
# description: Goal id -> the glossary meanings of the signals its metric is computed from.
needed_meanings[id] := {goal.metric.meaning} | {m | some m in object.get(goal.metric, "from", [])} if {
	some id, goal in input.goals
}

# METADATA
# description: Goal id -> the machines its metric covers (named, or on its named lines).
goal_machines[id] := named | on_lines if {
	some id, goal in input.goals
	named := {m | some m in object.get(goal.metric, "machines", [])}
	on_lines := {mid |
		some line in object.get(goal.metric, "lines", [])
		some mid in _machines_on_line[[goal.site, line]]
	}
}

# [site, line] -> its machines, and machine id -> the meanings its collectors' signals have:
# complete rules, evaluated once, whose inner comprehensions OPA indexes on the equality with the
# outer key, so no goal walks every machine or collector (issue 15). An object rule would be
# evaluated again for every key asked (3 M evaluations at 50k devices).
# regal ignore:prefer-set-or-object-rule
_machines_on_line := {key: machines |
	some key in {[m.site, m.line] | some m in input.machines; m.line}
	machines := {mid | some mid, m in input.machines; m.site == key[0]; m.line == key[1]}
}

# regal ignore:prefer-set-or-object-rule
_meanings_on_machine := {machine: meanings |
	some machine in {c.machine | some c in input.collectors}
	meanings := {s.meaning | some c in input.collectors; c.machine == machine; some s in c.signals; s.meaning}
}

# METADATA
# title: A goal is agreed by IT and operations
# description: A goal's agreed_by names at least one IT team and one operations team.
# custom:
#   id: GOL-001
#   severity: medium
#   owner: operations
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 7.8"]
#   recommended_action: Agree the goal with the missing side and add the agreement (team, person, date) to agreed_by.
deny contains v if {
	some id, goal in input.goals
	missing := sides - agreed_kinds[id]
	count(missing) > 0
	msg := sprintf(
		"goal %s is not agreed by %s; agree it with them and add who agreed, their team and the date to agreed_by",
		[id, _kinds(missing)],
	)
	v := violation.new(rego.metadata.rule(), "goal", id, ["agreed_by"], msg)
}

# METADATA
# title: A goal with a budget is agreed by management
# description: A goal that names a budget is agreed by a management team as well.
# custom:
#   id: GOL-002
#   severity: medium
#   owner: operations
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 7.8"]
#   recommended_action: Have a management team (a sponsor) agree the budget and add the agreement to agreed_by.
deny contains v if {
	some id, goal in input.goals
	goal.budget
	not "management" in agreed_kinds[id]
	msg := sprintf(
		"goal %s names a budget of %v %s but is not agreed by a team of kind management; %s",
		[id, goal.budget.amount, goal.budget.currency, "a sponsor agrees the money: add their agreement to agreed_by"],
	)
	v := violation.new(rego.metadata.rule(), "goal", id, ["agreed_by"], msg)
}

# METADATA
# title: Every collector serves an agreed goal
# description: >-
#   A collector's serves names at least one goal of its site that is agreed (by IT and
#   operations, and management where it names a budget): no data without a purpose.
# custom:
#   id: GOL-003
#   severity: medium
#   owner: operations
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 7.8"]
#   recommended_action: Name in serves the agreed goal the collector's data is for, or agree the goal first.
deny contains v if {
	some id, collector in input.collectors
	served := {g | some g in object.get(collector, "serves", [])}
	count({g | some g in served; g in agreed; input.goals[g].site == collector.site}) == 0
	msg := sprintf("collector %s serves no agreed goal of site %s (%s); %s", [
		id, collector.site, _served_text(served),
		"name the agreed goal its data is for in serves, or agree the goal first",
	])
	v := violation.new(rego.metadata.rule(), "collector", id, ["serves"], msg)
}

# METADATA
# title: Only the signals the goals need
# description: >-
#   Every signal of a collector is needed by a goal it serves: its meaning is one the goal's
#   metric is computed from, or its data class is one the goal needs as a whole.
# custom:
#   id: GOL-004
#   severity: medium
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 4.1"]
#   recommended_action: Remove the signal, or name in serves a goal whose metric or data classes need it.
deny contains v if {
	some id, collector in input.collectors
	served := {g | some g in object.get(collector, "serves", []); input.goals[g]}
	count(served) > 0
	some i, signal in collector.signals
	not _needed(signal, served)
	msg := sprintf(
		"signal %s of collector %s (%s, data class %s) is needed by none of the goals it serves (%s); %s",
		[
			signal.name, id, object.get(signal, "meaning", "no meaning"), signal.data_class,
			concat(", ", sort(served)), "remove it, or serve a goal whose metric or data classes need it",
		],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["signals", i, "name"], msg)
}

# METADATA
# title: A pilot names the goals it tests
# description: A site's pilot names in goals at least one goal of goals.yaml it is meant to show.
# custom:
#   id: GOL-005
#   severity: low
#   owner: operations
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 7.8"]
#   recommended_action: Add the ids of the goals the pilot tests to the pilot's goals.
deny contains v if {
	some id, site in input.sites
	pilot := site.pilot
	count(object.get(pilot, "goals", [])) == 0
	msg := sprintf(
		"the pilot of site %s names no goals it tests; add the ids of its goals (goals.yaml) to pilot goals",
		[id],
	)
	v := violation.new(rego.metadata.rule(), "site", id, ["pilot"], msg)
}

# METADATA
# title: A goal's metric is provided by a collector
# description: >-
#   Some collector on a machine of the goal's metric has a signal whose meaning the metric is
#   computed from; otherwise the goal cannot be measured (a warning: a goal may be agreed
#   before its collectors are).
# custom:
#   id: GOL-006
#   severity: low
#   owner: operations
#   principle: 7 Governance rhythm
#   iec62443: ["SR 7.8"]
#   recommended_action: Add a collector (or a signal) that reads the metric on the goal's machines, or fix the metric.
warn contains v if {
	some id, goal in input.goals
	count({meaning |
		some machine in goal_machines[id]
		some meaning in _meanings_on_machine[machine]
		meaning in needed_meanings[id]
	}) == 0
	msg := sprintf(
		"no collector provides the metric of goal %s (%s on %s); it cannot be measured: %s",
		[
			id, concat(", ", sort(needed_meanings[id])), _machines_text(goal_machines[id]),
			"add a collector or a signal of that meaning on its machines",
		],
	)
	v := violation.new(rego.metadata.rule(), "goal", id, ["metric"], msg)
}

_needed(signal, served) if {
	some g in served
	signal.meaning in needed_meanings[g]
}

_needed(signal, served) if {
	some g in served
	signal.data_class in object.get(input.goals[g], "data_classes", [])
}

_kinds(missing) := concat(" and ", [sprintf("a team of kind %s", [kind]) | some kind in sort(missing)])

_served_text(served) := "it names none" if count(served) == 0

_served_text(served) := sprintf("it names %s", [concat(", ", sort(served))]) if count(served) > 0

_machines_text(machines) := "no machine" if count(machines) == 0

_machines_text(machines) := concat(", ", sort(machines)) if count(machines) > 0
