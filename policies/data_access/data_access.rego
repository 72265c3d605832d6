# METADATA
# title: Data access
# description: >-
#   Every data class (data_classes.yaml) says who owns, views, edits and exports it, how long it
#   is kept, who approves its official reports, who corrects it and who approves dashboard
#   changes; every signal a collector reads belongs to a defined data class.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
package plant.data_access

import data.plant.lib.violation

# METADATA
# title: Every signal belongs to a defined data class
# description: >-
#   A collector's signal names a data class from data_classes.yaml, so that its owner, viewers
#   and retention are known before any value is collected.
# custom:
#   id: DATA-001
#   severity: high
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 2.1", "SR 4.1"]
#   recommended_action: Use a data class from data_classes.yaml, or add the class first.
deny contains v if {
	some id, collector in input.collectors
	some i, signal in collector.signals
	not input.data_classes[signal.data_class]
	msg := sprintf(
		"signal %s of collector %s uses data class %s, which data_classes.yaml does not define; %s",
		[signal.name, id, signal.data_class, "use one of its classes or add the class with its owner, viewers and retention"],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["signals", i, "data_class"], msg)
}

# METADATA
# title: Viewers, editors and exporters are known roles
# description: The roles a data class grants access to are defined in org/roles.yaml.
# custom:
#   id: DATA-002
#   severity: medium
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 2.1"]
#   recommended_action: Use role ids from org/roles.yaml in viewers, editors and exporters.
deny contains v if {
	some id, class in input.data_classes
	some list, noun in _role_lists
	some i, role in object.get(class, list, [])
	not input.roles[role]
	msg := sprintf(
		"data class %s lists %s %s, which is not a role in org/roles.yaml; use a role id from there",
		[id, noun, role],
	)
	v := violation.new(rego.metadata.rule(), "data_class", id, [list, i], msg)
}

# METADATA
# title: Editors and exporters are also viewers
# description: A role that may edit or export a data class may also view it.
# custom:
#   id: DATA-003
#   severity: medium
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 2.1", "SR 4.1"]
#   recommended_action: Add the role to viewers, or remove it from editors or exporters.
deny contains v if {
	some id, class in input.data_classes
	viewers := {role | some role in class.viewers}
	some list, verb in _verbs
	some i, role in object.get(class, list, [])
	not role in viewers
	msg := sprintf(
		"data class %s lets role %s %s it but not view it; add %s to viewers or remove it from %s",
		[id, role, verb, role, list],
	)
	v := violation.new(rego.metadata.rule(), "data_class", id, [list, i], msg)
}

# METADATA
# title: Retention within the class's bounds
# description: retention.min_days <= retention.days <= retention.max_days.
# custom:
#   id: DATA-004
#   severity: medium
#   owner: quality
#   principle: 5 Data ownership
#   iec62443: ["SR 4.2"]
#   recommended_action: Set retention.days between min_days and max_days.
deny contains v if {
	some id, class in input.data_classes
	r := class.retention
	not _within(r.min_days, r.days, r.max_days)
	msg := sprintf(
		"data class %s keeps its data %v days, outside min_days %v and max_days %v; set retention.days between them",
		[id, r.days, r.min_days, r.max_days],
	)
	v := violation.new(rego.metadata.rule(), "data_class", id, ["retention", "days"], msg)
}

# METADATA
# title: Official reports have an approver
# description: >-
#   A data class whose reports are official records names the team (report_approver) that
#   approves them.
# custom:
#   id: DATA-005
#   severity: medium
#   owner: quality
#   principle: 5 Data ownership
#   iec62443: ["SR 3.4"]
#   recommended_action: Set report_approver to the team that approves the class's official reports.
deny contains v if {
	some id, class in input.data_classes
	class.official_reports == true
	not input.teams[object.get(class, "report_approver", "")]
	msg := sprintf(
		"data class %s has official reports but %s; set report_approver to the team that approves them",
		[id, _approver_problem(object.get(class, "report_approver", ""))],
	)
	v := violation.new(rego.metadata.rule(), "data_class", id, _field(class, "report_approver", ["official_reports"]), msg)
}

# METADATA
# title: Every class has a correction owner and a dashboard change approver
# description: >-
#   correction_owner (who corrects wrong values) and dashboard_change_approver (who approves
#   dashboard changes) each name a team of org/teams.yaml.
# custom:
#   id: DATA-006
#   severity: medium
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 2.1", "SR 3.4"]
#   recommended_action: Name the correcting team and the dashboard change approver of the class.
deny contains v if {
	some id, class in input.data_classes
	some key, duty in _duties
	not input.teams[object.get(class, key, "")]
	msg := sprintf("data class %s %s; name %s", [id, _duty_problem(key, object.get(class, key, "")), duty])
	v := violation.new(rego.metadata.rule(), "data_class", id, _field(class, key, []), msg)
}

_role_lists := {"viewers": "viewer", "editors": "editor", "exporters": "exporter"}

_verbs := {"editors": "edit", "exporters": "export"}

_duties := {
	"correction_owner": "the team that corrects wrong values",
	"dashboard_change_approver": "the team that approves dashboard changes",
}

_within(low, value, high) if {
	low <= value
	value <= high
}

# The key's own line when it is written, else the fallback path.
_field(class, key, _) := [key] if class[key]

_field(class, key, fallback) := fallback if not class[key]

_approver_problem("") := "no report_approver"

_approver_problem(team) := sprintf("its report_approver %s is not a team in org/teams.yaml", [team]) if team != ""

_duty_problem(key, "") := sprintf("names no %s", [key])

_duty_problem(key, team) := sprintf("names %s %s, which is not a team in org/teams.yaml", [key, team]) if team != ""
