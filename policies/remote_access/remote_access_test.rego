package plant.remote_access_test

import data.plant.lib.fixture
import data.plant.remote_access

ops_and_security := [{"person": "olga", "team": "ops", "date": "2026-11-19"}, {"person": "sam", "team": "it-sec", "date": "2026-11-19"}]

test_fixture_is_clean if {
	count(remote_access.deny) == 0 with input as fixture.base
}

# RA-001

test_ra_001_fires_without_a_bastion if {
	result := remote_access.deny with input as fixture.drop(["sites", "north", "services", "bastion"])
	fixture.found(result, "RA-001") == {
		{
			"kind": "grant", "id": "g-int", "field": ["via"],
			"msg": "grant g-int is for site north, which has no bastion; remote access goes only through the site bastion: declare services.bastion in sites/north/site.yaml",
		},
		{
			"kind": "grant", "id": "g-ven", "field": ["via"],
			"msg": "grant g-ven is for site north, which has no bastion; remote access goes only through the site bastion: declare services.bastion in sites/north/site.yaml",
		},
	}
}

test_ra_001_fires_for_another_path if {
	result := remote_access.deny with input as fixture.change(["grants", "g-int", "via"], "jump")
	fixture.found(result, "RA-001") == {{
		"kind": "grant", "id": "g-int", "field": ["via"],
		"msg": "grant g-int goes through jump, not the bastion of site north; set via to bastion",
	}}
}

test_ra_001_fires_for_a_target_of_another_site if {
	result := remote_access.deny with input as fixture.patch([
		{"op": "add", "path": ["gateways", "gw9"], "value": {"id": "gw9", "zone": "sup", "address": "10.9.2.21", "site": "south"}},
		{"op": "replace", "path": ["grants", "g-int", "target"], "value": "gw9"},
	])
	fixture.found(result, "RA-001") == {{
		"kind": "grant", "id": "g-int", "field": ["target"],
		"msg": "grant g-int targets gateway gw9 of site south through the bastion of site north; make a grant at site south instead",
	}}
}

test_ra_001_near_miss_another_gateway_of_the_site if {
	count(remote_access.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["gateways", "gw2"], "value": {"id": "gw2", "zone": "sup", "address": "10.1.2.22", "site": "north"}},
		{"op": "replace", "path": ["grants", "g-int", "target"], "value": "gw2"},
	])
}

# RA-002

test_ra_002_fires_for_an_open_ended_grant if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "end"], null)
	fixture.found(result, "RA-002") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven has no end; remote access is never open-ended: set end to when the access must stop",
	}}
}

test_ra_002_near_miss_end_without_seconds if {
	count(remote_access.deny) == 0 with input as fixture.change(["grants", "g-ven", "end"], "2026-12-01T12:00Z")
}

# RA-003

test_ra_003_fires_for_an_end_before_the_start if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "end"], "2026-12-01T07:00:00Z")
	fixture.found(result, "RA-003") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven must end after it starts (start 2026-12-01T08:00:00Z, end 2026-12-01T07:00:00Z); write both as RFC 3339 instants, end after start",
	}}
}

test_ra_003_fires_for_an_unreadable_end if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "end"], "2026-12-32T12:00:00Z")
	fixture.found(result, "RA-003") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven must end after it starts (start 2026-12-01T08:00:00Z, end 2026-12-32T12:00:00Z); write both as RFC 3339 instants, end after start",
	}}
}

test_ra_003_near_miss_one_minute if {
	count(remote_access.deny) == 0 with input as fixture.change(["grants", "g-ven", "end"], "2026-12-01T09:01:00+01:00")
}

# RA-004

test_ra_004_fires_for_a_long_vendor_window if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "end"], "2026-12-01T18:00:00Z")
	fixture.found(result, "RA-004") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven gives vendor vic 10 hours of access; a vendor window at site north is at most 8 hours: shorten it or split it into separately approved windows",
	}}
}

test_ra_004_fires_over_a_site_limit if {
	result := remote_access.deny with input as fixture.change(["sites", "north", "remote_access", "vendor_max_hours"], 3)
	fixture.found(result, "RA-004") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven gives vendor vic 4 hours of access; a vendor window at site north is at most 3 hours: shorten it or split it into separately approved windows",
	}}
}

test_ra_004_fires_over_the_default_limit if {
	result := remote_access.deny with input as fixture.patch([
		{"op": "remove", "path": ["sites", "north", "remote_access"]},
		{"op": "replace", "path": ["grants", "g-ven", "end"], "value": "2026-12-01T16:30:00Z"},
	])
	fixture.found(result, "RA-004") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven gives vendor vic 8.5 hours of access; a vendor window at site north is at most 8 hours: shorten it or split it into separately approved windows",
	}}
}

test_ra_004_near_miss_exactly_the_limit if {
	count(remote_access.deny) == 0 with input as fixture.change(["grants", "g-ven", "end"], "2026-12-01T16:00:00Z")
}

# RA-005

test_ra_005_fires_for_a_long_internal_window if {
	result := remote_access.deny with input as fixture.change(["grants", "g-int", "end"], "2026-12-25T08:00:00Z")
	fixture.found(result, "RA-005") == {{
		"kind": "grant", "id": "g-int", "field": ["end"],
		"msg": "grant g-int gives nora 35 days of access; an internal window at site north is at most 30 days: shorten it and renew it when the work continues",
	}}
}

test_ra_005_near_miss_exactly_the_limit if {
	count(remote_access.deny) == 0 with input as fixture.change(["grants", "g-int", "end"], "2026-12-20T08:00:00Z")
}

# RA-006

test_ra_006_fires_without_the_operations_owner if {
	result := remote_access.deny with input as fixture.change(["grants", "g-int", "approvals"], [ops_and_security[1]])
	fixture.found(result, "RA-006") == {{
		"kind": "grant", "id": "g-int", "field": ["approvals"],
		"msg": "grant g-int is not approved by the operations owner of gw1 (team ops, zone north/sup); ask a member of ops to approve it",
	}}
}

test_ra_006_fires_for_the_owner_of_another_zone if {
	result := remote_access.deny with input as fixture.change(["owners", "zones", "north/sup", "change-approvals", "operations"], "qa")
	fixture.found(result, "RA-006") == {
		{
			"kind": "grant", "id": "g-int", "field": ["approvals"],
			"msg": "grant g-int is not approved by the operations owner of gw1 (team qa, zone north/sup); ask a member of qa to approve it",
		},
		{
			"kind": "grant", "id": "g-ven", "field": ["approvals"],
			"msg": "grant g-ven is not approved by the operations owner of gw1 (team qa, zone north/sup); ask a member of qa to approve it",
		},
	}
}

test_ra_006_near_miss_owner_of_the_target_zone if {
	count(remote_access.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["owners", "zones", "north/sup", "change-approvals", "operations"], "value": "qa"},
		{"op": "replace", "path": ["grants", "g-int", "approvals", 0], "value": {"person": "quinn", "team": "qa", "date": "2026-11-19"}},
		{"op": "replace", "path": ["grants", "g-ven", "approvals", 0], "value": {"person": "quinn", "team": "qa", "date": "2026-11-19"}},
	])
}

# RA-007

test_ra_007_fires_without_it_security if {
	result := remote_access.deny with input as fixture.change(
		["grants", "g-int", "approvals", 1],
		{"person": "nora", "team": "it-net", "date": "2026-11-19"},
	)
	fixture.found(result, "RA-007") == {{
		"kind": "grant", "id": "g-int", "field": ["approvals"],
		"msg": "grant g-int is not approved by IT security; ask a member of it-sec to approve it",
	}}
}

test_ra_007_fires_when_no_team_is_the_security_team if {
	result := remote_access.deny with input as fixture.put(["teams", "it-sec", "security"], false)
	fixture.found(result, "RA-007") == {
		{
			"kind": "grant", "id": "g-int", "field": ["approvals"],
			"msg": "grant g-int is not approved by IT security; no IT team is marked security: true in org/teams.yaml; mark the security team",
		},
		{
			"kind": "grant", "id": "g-ven", "field": ["approvals"],
			"msg": "grant g-ven is not approved by IT security; no IT team is marked security: true in org/teams.yaml; mark the security team",
		},
	}
}

test_ra_007_near_miss_a_second_security_team if {
	count(remote_access.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["teams", "soc"], "value": {"id": "soc", "kind": "it", "security": true, "members": ["max"]}},
		{"op": "replace", "path": ["grants", "g-int", "approvals", 1], "value": {"person": "max", "team": "soc", "date": "2026-11-19"}},
	])
}

# RA-008

test_ra_008_fires_for_an_approver_outside_the_team if {
	result := remote_access.deny with input as fixture.change(
		["grants", "g-int", "approvals", 1],
		{"person": "olga", "team": "it-sec", "date": "2026-11-19"},
	)
	fixture.found(result, "RA-008") == {{
		"kind": "grant", "id": "g-int", "field": ["approvals", 1, "person"],
		"msg": "grant g-int is approved by olga for team it-sec, but olga is not a member of it-sec; only members approve for their team",
	}}
}

test_ra_008_near_miss_member_of_two_teams if {
	count(remote_access.deny) == 0 with input as fixture.patch([
		{"op": "add", "path": ["teams", "ops", "members", "-"], "value": "sam"},
		{"op": "replace", "path": ["grants", "g-int", "approvals", 0, "person"], "value": "sam"},
	])
}

# RA-009

test_ra_009_fires_for_a_self_approval if {
	result := remote_access.deny with input as fixture.put(
		["grants", "g-int", "approvals", "-"],
		{"person": "nora", "team": "it-net", "date": "2026-11-19"},
	)
	fixture.found(result, "RA-009") == {{
		"kind": "grant", "id": "g-int", "field": ["approvals", 2, "person"],
		"msg": "grant g-int is approved by nora, the person it gives access to; ask another member of it-net",
	}}
}

test_ra_009_near_miss_approval_by_a_colleague if {
	count(remote_access.deny) == 0 with input as fixture.put(
		["grants", "g-int", "approvals", "-"],
		{"person": "sam", "team": "it-sec", "date": "2026-11-20"},
	)
}

# RA-010

test_ra_010_fires_for_an_unrecorded_vendor_session if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "session_recording"], false)
	fixture.found(result, "RA-010") == {{
		"kind": "grant", "id": "g-ven", "field": ["session_recording"],
		"msg": "grant g-ven gives vendor vic access without session_recording; vendors need mfa: true and session_recording: true",
	}}
}

test_ra_010_fires_for_a_vendor_without_mfa if {
	result := remote_access.deny with input as fixture.drop(["grants", "g-ven", "mfa"])
	fixture.found(result, "RA-010") == {{
		"kind": "grant", "id": "g-ven", "field": ["mfa"],
		"msg": "grant g-ven gives vendor vic access without mfa; vendors need mfa: true and session_recording: true",
	}}
}

test_ra_010_near_miss_staff_without_mfa if {
	count(remote_access.deny) == 0 with input as fixture.change(["grants", "g-int", "mfa"], false)
}

# RA-011

test_ra_011_fires_for_a_controller_target if {
	result := remote_access.deny with input as fixture.change(["grants", "g-int", "target"], "m1")
	fixture.found(result, "RA-011") == {{
		"kind": "grant", "id": "g-int", "field": ["target"],
		"msg": "grant g-int targets m1 in zone cell (level 1); remote access never reaches levels 0-1 directly: target a gateway or HMI at level 2 instead",
	}}
}

test_ra_011_near_miss_machine_at_level_2 if {
	count(remote_access.deny) == 0 with input as fixture.patch([
		{"op": "replace", "path": ["grants", "g-int", "target"], "value": "m1"},
		{"op": "replace", "path": ["machines", "m1", "zone"], "value": "sup"},
	])
}

# RA-012

test_ra_012_fires_for_an_ended_grant if {
	result := remote_access.deny with input as fixture.put(["now"], "2026-12-05T00:00:00Z")
	fixture.found(result, "RA-012") == {{
		"kind": "grant", "id": "g-ven", "field": ["end"],
		"msg": "grant g-ven ended at 2026-12-01T12:00:00Z; remove it from access/grants.yaml (ask for a new grant if access is still needed)",
	}}
}

test_ra_012_near_miss_the_last_moment if {
	count(remote_access.deny) == 0 with input as fixture.put(["now"], "2026-12-01T12:00:00Z")
}

# RA-013

test_ra_013_fires_for_every_port_as_a_range if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "services", 0], {"protocol": "tcp", "port": 1, "port_end": 65535})
	fixture.found(result, "RA-013") == {{
		"kind": "grant", "id": "g-ven", "field": ["services", 0],
		"msg": "grant g-ven service 1 has a port range 1-65535 of 65535 ports, wider than 64; name the port the vendor's tool needs",
	}}
}

test_ra_013_fires_for_a_backwards_range if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "services", 0], {"protocol": "tcp", "port": 443, "port_end": 1})
	fixture.found(result, "RA-013") == {{
		"kind": "grant", "id": "g-ven", "field": ["services", 0],
		"msg": "grant g-ven service 1 has a port range 443-1 that runs backwards; name the port the vendor's tool needs",
	}}
}

test_ra_013_near_miss_two_ports if {
	count(remote_access.deny) == 0 with input as fixture.change(["grants", "g-ven", "services", 0], {"protocol": "tcp", "port": 443, "port_end": 444})
}

# RA-014

test_ra_014_fires_for_an_external_admin if {
	result := remote_access.deny with input as fixture.put(["roles", "vendor-technician", "admin"], true)
	fixture.found(result, "RA-014") == {{
		"kind": "binding", "id": "vic/vendor-technician/north", "field": ["role"],
		"msg": "vic is external and holds admin role vendor-technician at site north (standing access to its gateways); remove the binding and use a time-bound grant in access/grants.yaml",
	}}
}

test_ra_014_near_miss_an_employee_admin if {
	count(remote_access.deny) == 0 with input as fixture.put(["roles", "network-admin", "admin"], true)
}

# RA-020

test_ra_020_fires_for_a_recorded_udp_service if {
	result := remote_access.deny with input as fixture.change(["grants", "g-ven", "services", 0, "protocol"], "udp")
	fixture.found(result, "RA-020") == {{
		"kind": "grant", "id": "g-ven", "field": ["services", 0],
		"msg": "grant g-ven asks for session_recording but service 1 (udp) cannot be recorded: the bastion forwards and records TCP connections only (gateways record SSH shells with tlog); name a TCP service",
	}}
}

test_ra_020_near_miss_udp_without_recording if {
	result := remote_access.deny with input as fixture.change(["grants", "g-int", "services", 0, "protocol"], "udp")
	fixture.found(result, "RA-020") == set()
}
