# METADATA
# title: Phases
# description: >-
#   A site moves survey -> pilot -> rollout -> operate. It leaves the survey phase only after a
#   joint survey (operations, maintenance, IT and the vendor or implementation partner); during
#   the pilot, collectors read only the declared pilot machines; rollout and operate need a
#   rollout sign-off by an IT team and an operations team, each by a member of that team.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
#   clock_input: [sites, teams, people]
package plant.phases

import data.plant.lib.clock
import data.plant.lib.org
import data.plant.lib.violation

# The kinds of team whose members walk the site together in the survey.
survey_kinds := {"operations", "maintenance", "it", "vendor"}

# The kinds of team that sign off the rollout.
rollout_kinds := {"it", "operations"}

# METADATA
# title: A joint site survey before the pilot
# description: >-
#   A site in pilot, rollout or operate has a survey, dated on or before today, whose attendees
#   include members of an operations, a maintenance, an IT and a vendor (or implementation
#   partner) team.
# custom:
#   id: PHA-001
#   severity: high
#   owner: operations
#   principle: 3 Joint site survey
#   iec62443: ["SR 7.8"]
#   recommended_action: Hold the joint survey and record its date and attendees in site.yaml.
#   clock: true
deny contains v if {
	some [id, field, msg] in _survey_issues
	v := violation.new(rego.metadata.rule(), "site", id, field, msg)
}

# METADATA
# title: No collectors before the pilot, only pilot machines during it
# description: >-
#   A site in its survey has no collectors yet; while a site is in its pilot, collectors read
#   only the machines in pilot.machines.
# custom:
#   id: PHA-002
#   severity: medium
#   owner: operations
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.7"]
#   recommended_action: No collectors during the survey; in the pilot, add the machine to pilot.machines once agreed.
deny contains v if {
	some id, collector in input.collectors
	msg := _collector_problem(input.sites[collector.site], collector)
	v := violation.new(rego.metadata.rule(), "collector", id, ["machine"], msg)
}

# METADATA
# title: Rollout signed off by IT and operations
# description: >-
#   A site in rollout or operate has sign-offs with phase rollout by a member of an IT team and
#   by a member of an operations team.
# custom:
#   id: PHA-003
#   severity: high
#   owner: operations
#   principle: 4 Balance speed and security
#   iec62443: ["SR 7.6"]
#   recommended_action: Record the rollout sign-offs of the IT and operations teams in site.yaml.
deny contains v if {
	some id, site in input.sites
	site.phase in {"rollout", "operate"}
	signed := {input.teams[s.team].kind |
		some s in object.get(site, "signoffs", [])
		s.phase == "rollout"
		org.is_member(s.team, s.person)
	}
	missing := rollout_kinds - signed
	count(missing) > 0
	msg := sprintf(
		"site %s is in phase %s without a rollout sign-off by %s; %s",
		[
			id, site.phase, concat(" and ", [sprintf("a team of kind %s", [k]) | some k in sort(missing)]),
			"record signoffs {phase: rollout, team, person, date} by a member of each team",
		],
	)
	v := violation.new(rego.metadata.rule(), "site", id, ["phase"], msg)
}

# METADATA
# title: Sign-offs are by members of the signing team
# description: Each phase sign-off is by a member of the team it names.
# custom:
#   id: PHA-004
#   severity: medium
#   owner: operations
#   principle: 4 Balance speed and security
#   iec62443: ["SR 2.1"]
#   recommended_action: Record the signer's own team, or ask a member of the team to sign off.
deny contains v if {
	some id, site in input.sites
	some i, signoff in object.get(site, "signoffs", [])
	not org.is_member(signoff.team, signoff.person)
	msg := sprintf(
		"the %s sign-off of site %s is by %s for team %s, but %s is not a member of %s; only members sign off for their team",
		[signoff.phase, id, signoff.person, signoff.team, signoff.person, signoff.team],
	)
	v := violation.new(rego.metadata.rule(), "site", id, ["signoffs", i, "person"], msg)
}

_pilot_machines[id] := {machine | some machine in object.get(site, ["pilot", "machines"], [])} if {
	some id, site in input.sites
}

_past_survey := {"pilot", "rollout", "operate"}

_collector_problem(site, collector) := msg if {
	site.phase == "survey"
	msg := sprintf(
		"site %s is still in its survey; collectors start with the pilot: remove collector %s until then",
		[site.id, collector.id],
	)
}

_collector_problem(site, collector) := msg if {
	site.phase == "pilot"
	not collector.machine in _pilot_machines[site.id]
	msg := sprintf(
		"site %s is in its pilot and machine %s is not a pilot machine; %s",
		[
			site.id, collector.machine,
			sprintf("add it to pilot.machines in sites/%s/site.yaml once agreed, or wait for the rollout", [site.id]),
		],
	)
}

_survey_issues contains [id, ["phase"], msg] if {
	some id, site in input.sites
	site.phase in _past_survey
	not site.survey
	msg := sprintf(
		"site %s is in phase %s without a survey; %s",
		[id, site.phase, "record the joint survey of operations, maintenance, IT and the vendor (date, attendees)"],
	)
}

_survey_issues contains [id, ["survey", "attendees"], msg] if {
	some id, site in input.sites
	site.phase in _past_survey
	attendees := site.survey.attendees
	kinds := {kind | some login in attendees; some kind in object.get(org.team_kinds, login, set())}
	missing := survey_kinds - kinds
	count(missing) > 0
	msg := sprintf(
		"site %s is in phase %s but %s; %s",
		[
			id, site.phase, _absent(missing),
			"operations, maintenance, IT and the vendor or implementation partner survey the site together",
		],
	)
}

_survey_issues contains [id, ["survey", "date"], msg] if {
	some id, site in input.sites
	site.phase in _past_survey
	date := site.survey.date
	not _surveyed_by_now(date)
	msg := sprintf(
		"site %s is in phase %s but its survey is dated %s, after today; hold the survey before the pilot",
		[id, site.phase, date],
	)
}

_surveyed_by_now(date) if clock.date_ns(date) <= clock.now_ns

_absent(missing) := sprintf("the %s side did not attend its survey", [concat("", sort(missing))]) if count(missing) == 1

_absent(missing) := sprintf("the %s and %s sides did not attend its survey", [
	concat(", ", array.slice(sort(missing), 0, count(missing) - 1)),
	sort(missing)[count(missing) - 1],
]) if {
	count(missing) > 1
}
