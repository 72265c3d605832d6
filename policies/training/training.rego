# METADATA
# title: Training by role
# description: >-
#   A person holds a role at a site (org/role_bindings.yaml) only with a valid training record
#   for that role (org/training.yaml: completed <= now < expires, dates at midnight UTC), and
#   only when one of the person's teams is of a kind the role allows (org/roles.yaml).
# schemas:
#   - input: schema.input
# custom:
#   scope: site
#   clock_input: [bindings, roles, training, people, teams]
package plant.training

import data.plant.lib.clock
import data.plant.lib.org
import data.plant.lib.violation

# How long before expiry a renewal is due (TRN-003).
renewal_days := 30

# METADATA
# title: A role binding needs valid training for the role
# description: >-
#   Every binding of a person to a role has a training record of the same person and role
#   that is valid now (completed on or before today, expiring after now).
# custom:
#   id: TRN-001
#   severity: high
#   owner: operations
#   principle: 6 Training by role
#   iec62443: ["SR 1.3", "SR 2.1"]
#   recommended_action: Record the completed training in org/training.yaml, or remove the binding.
#   clock: true
deny contains v if {
	some binding in input.bindings
	not _trained_at(binding.person, binding.role, clock.now_ns)
	msg := sprintf(
		"%s holds role %s at site %s without valid training for it; %s",
		[binding.person, binding.role, binding.site, _training_hint(binding.person, binding.role)],
	)
	v := violation.new(rego.metadata.rule(), "binding", _binding_key(binding), ["role"], msg)
}

# METADATA
# title: The role fits the person's team
# description: >-
#   A person holds a role only when one of their teams is of a kind the role allows
#   (role.team_kinds). This is a deny, not a warning: a binding gives permissions (admin
#   accounts on gateways, viewing, editing and exporting data classes), and the roles file is
#   the written agreement on who may hold them.
# custom:
#   id: TRN-002
#   severity: medium
#   owner: operations
#   principle: 6 Training by role
#   iec62443: ["SR 2.1"]
#   recommended_action: Bind the role to a person of an allowed team, or add the person to such a team.
deny contains v if {
	some binding in input.bindings
	role := input.roles[binding.role]
	allowed := {kind | some kind in role.team_kinds}
	kinds := object.get(org.team_kinds, binding.person, set())
	count(kinds & allowed) == 0
	msg := sprintf(
		"%s holds role %s at site %s but %s; the role is for teams of kind %s: %s",
		[
			binding.person, binding.role, binding.site, _teams_text(kinds), concat(" or ", sort(allowed)),
			"bind it to someone in such a team, or add the person to one",
		],
	)
	v := violation.new(rego.metadata.rule(), "binding", _binding_key(binding), ["role"], msg)
}

# METADATA
# title: Training due for renewal
# description: A binding's training expires within the next 30 days and no later record covers it.
# custom:
#   id: TRN-003
#   severity: low
#   owner: operations
#   principle: 6 Training by role
#   iec62443: ["SR 1.3"]
#   recommended_action: Schedule the renewal training before the record expires.
#   clock: true
warn contains v if {
	some binding in input.bindings
	_trained_at(binding.person, binding.role, clock.now_ns)
	not _trained_at(binding.person, binding.role, clock.now_ns + (renewal_days * clock.day_ns))
	expires := max({record.expires | some record in _records[_person_role(binding.person, binding.role)]})
	msg := sprintf(
		"the training of %s for role %s expires on %s, within %d days; schedule the renewal",
		[binding.person, binding.role, expires, renewal_days],
	)
	v := violation.new(rego.metadata.rule(), "binding", _binding_key(binding), ["role"], msg)
}

_binding_key(binding) := concat("/", [binding.person, binding.role, binding.site])

_person_role(person, role) := concat("/", [person, role])

# "<person>/<role>" -> the training records of that person for that role. An object
# comprehension over the distinct keys, so that OPA indexes the inner comprehension (linear).
_record_keys contains _person_role(record.person, record.role) if some record in input.training

_records := {key: records | # regal ignore:prefer-set-or-object-rule
	some key in _record_keys
	records := [record | some record in input.training; concat("/", [record.person, record.role]) == key]
}

_trained_at(person, role, at) if {
	some record in _records[_person_role(person, role)]
	clock.date_ns(record.completed) <= at
	at < clock.date_ns(record.expires)
}

_training_hint(person, role) := concat(": ", [
	"there is no training record for it",
	"add the completed training to org/training.yaml, or remove the binding",
]) if {
	not _records[_person_role(person, role)]
}

_training_hint(person, role) := hint if {
	records := _records[_person_role(person, role)]
	hint := sprintf(
		"its training records (completed %s, expiring %s) are not valid now: renew the training and record it",
		[concat(", ", sort({r.completed | some r in records})), concat(", ", sort({r.expires | some r in records}))],
	)
}

_teams_text(kinds) := "is in no team" if count(kinds) == 0

_teams_text(kinds) := sprintf("is only in teams of kind %s", [concat(", ", sort(kinds))]) if count(kinds) > 0
