package plant.lib.org_test

import data.plant.lib.fixture
import data.plant.lib.org

test_members_by_team if {
	org.members["it-sec"] == {"sam"} with input as fixture.base
	org.members.ops == {"olga", "sam"} with input as fixture.put(["teams", "ops", "members", "-"], "sam")
}

test_team_kinds_of_a_person_in_two_teams if {
	kinds := org.team_kinds with input as fixture.put(["teams", "ops", "members", "-"], "sam")
	kinds.sam == {"it", "operations"}
	kinds.olga == {"operations"}
	not kinds.zed
}

test_security_teams_only_of_kind_it if {
	org.security_teams == {"it-sec"} with input as fixture.put(["teams", "ops", "security"], true)
}

test_external_people if {
	org.external == {"vic"} with input as fixture.base
}

test_is_member if {
	org.is_member("ops", "olga") with input as fixture.base
	not org.is_member("ops", "sam") with input as fixture.base
	not org.is_member("ghost", "olga") with input as fixture.base
}

test_kind_of if {
	org.kind_of("qa") == "quality" with input as fixture.base
	org.kind_of("ghost") == "(unknown team)" with input as fixture.base
}
