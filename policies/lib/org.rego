# METADATA
# title: Teams and people
# description: >-
#   Indexes over input.teams and input.people, built once per evaluation so that rules look a
#   person or a team up by key instead of scanning every team.
# schemas:
#   - input: schema.input
package plant.lib.org

# METADATA
# description: Team id -> the set of its members' logins.
members[id] := logins if {
	some id, team in input.teams
	logins := {login | some login in team.members}
}

# METADATA
# description: Logins of every person in any team.
member_logins contains login if {
	some team in input.teams
	some login in team.members
}

# METADATA
# description: >-
#   Login -> the set of kinds of the teams the person is a member of. An object comprehension,
#   not a partial rule: only there does OPA index the inner comprehension by login, which keeps
#   this group-by linear in the number of memberships.
team_kinds := {login: kinds | # regal ignore:prefer-set-or-object-rule
	some login in member_logins
	kinds := {team.kind | some team in input.teams; some member in team.members; member == login}
}

# METADATA
# description: IT teams marked as security teams (security true).
security_teams contains id if {
	some id, team in input.teams
	team.kind == "it"
	team.security == true
}

# METADATA
# description: Logins of people who are not employees (vendors, implementation partners).
external contains login if {
	some login, person in input.people
	person.external == true
}

# METADATA
# description: True when the person is a member of the team.
is_member(team, login) if login in members[team]

# METADATA
# scope: document
# description: The team's kind, or "(unknown team)" when the team does not exist.
kind_of(team) := input.teams[team].kind

kind_of(team) := "(unknown team)" if not input.teams[team]
