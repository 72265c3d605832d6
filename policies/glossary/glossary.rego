# METADATA
# title: Common language
# description: >-
#   The enumerated values of the inventory (machine kind and criticality, signal meaning) are
#   term ids of glossary.yaml, and every term is agreed by at least one IT team and one
#   operations team.
# schemas:
#   - input: schema.input
# custom:
#   scope: site
package plant.glossary

import data.plant.lib.violation

# The two sides that agree every term.
sides := {"it", "operations"}

# METADATA
# title: Machine kinds and criticalities are glossary terms
# description: A machine's kind and criticality are term ids of glossary.yaml.
# custom:
#   id: GLO-001
#   severity: low
#   owner: operations
#   principle: 2 Common language
#   iec62443: ["SR 7.8"]
#   recommended_action: Use a term id of glossary.yaml, or propose the term there first.
deny contains v if {
	some id, machine in input.machines
	some field in ["kind", "criticality"]
	value := machine[field]
	not input.glossary[value]
	msg := sprintf(
		"machine %s has %s %s, which is not a glossary term; %s",
		[id, field, value, _propose],
	)
	v := violation.new(rego.metadata.rule(), "machine", id, [field], msg)
}

# METADATA
# title: Signal meanings are glossary terms
# description: A signal's meaning, when given, is a term id of glossary.yaml.
# custom:
#   id: GLO-002
#   severity: low
#   owner: operations
#   principle: 2 Common language
#   iec62443: ["SR 7.8"]
#   recommended_action: Use a term id of glossary.yaml as the meaning, or propose the term first.
deny contains v if {
	some id, collector in input.collectors
	some i, signal in collector.signals
	meaning := signal.meaning
	not input.glossary[meaning]
	msg := sprintf(
		"signal %s of collector %s means %s, which is not a glossary term; %s",
		[signal.name, id, meaning, _propose],
	)
	v := violation.new(rego.metadata.rule(), "collector", id, ["signals", i, "meaning"], msg)
}

# METADATA
# title: Every term is agreed by IT and operations
# description: A glossary term's agreed_by names at least one IT team and one operations team.
# custom:
#   id: GLO-003
#   severity: low
#   owner: operations
#   principle: 2 Common language
#   iec62443: ["SR 7.8"]
#   recommended_action: Agree the term with the missing side and add its team to agreed_by.
deny contains v if {
	some id, term in input.glossary
	kinds := {input.teams[team].kind | some team in term.agreed_by}
	missing := sides - kinds
	count(missing) > 0
	msg := sprintf(
		"glossary term %s is not agreed by %s; agree it with them and add their team to agreed_by",
		[id, concat(" and ", [sprintf("a team of kind %s", [kind]) | some kind in sort(missing)])],
	)
	v := violation.new(rego.metadata.rule(), "term", id, ["agreed_by"], msg)
}

_propose := "use a term id of glossary.yaml, or propose the term there for IT and operations to agree"
