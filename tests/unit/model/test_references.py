"""Unit tests of plantctl.model.references (check): every name an inventory object uses names
something that exists, and a dangling one is reported at the file:line of the reference.

references.check runs inside the loader, which refuses an inventory with a dangling reference;
so each test loads the valid sample from memory and then points one reference of one record's
data at nothing. The record keeps its document, hence the positions of the text it came from.
"""

from __future__ import annotations

import re

import pytest

from plantctl.core.problems import InvalidInput
from plantctl.model import references

MACHINES = "sites/ridgeway/machines.yaml"
GATEWAYS = "sites/ridgeway/gateways.yaml"
DEVICES = "sites/ridgeway/devices.yaml"
CONDUITS = "sites/ridgeway/conduits.yaml"
SITE = "sites/ridgeway/site.yaml"
COLLECTORS = "sites/ridgeway/collectors.yaml"
GRANTS = "access/grants.yaml"
TEAMS = "org/teams.yaml"
OWNERSHIP = "org/ownership.yaml"
DATA_CLASSES = "data_classes.yaml"


def _set(data, path: tuple, value) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


# (kind, key, path inside the record, dangling value, message, file, text on the expected line,
#  text of a line at or before it)
DANGLING = [
    pytest.param(
        "device",
        "rw-historian-01",
        ("zone",),
        "dmz-b",
        r"zone 'dmz-b' does not exist; use a zone id from sites/ridgeway/zones\.yaml",
        DEVICES,
        "id: rw-historian-01",
        None,
        id="device-zone",
    ),
    pytest.param(
        "gateway",
        "gw-rw-03",
        ("zone",),
        "dmz-2",
        r"zone 'dmz-2' does not exist",
        GATEWAYS,
        "id: gw-rw-03",
        None,
        id="gateway-zone",
    ),
    pytest.param(
        "conduit",
        "ridgeway/hmi-machining",
        ("to",),
        "cell-grinding",
        r"to zone 'cell-grinding' does not exist; use a zone id from "
        r"sites/ridgeway/zones\.yaml or 'internet'",
        CONDUITS,
        "to: cell-machining",
        "id: hmi-machining",
        id="conduit-to-zone",
    ),
    pytest.param(
        "conduit",
        "ridgeway/vendors-to-bastion",
        ("from",),
        "Internet",
        r"from zone 'Internet' does not exist",
        CONDUITS,
        "from: internet",
        "id: vendors-to-bastion",
        id="conduit-internet-is-lower-case",
    ),
    pytest.param(
        "site",
        "ridgeway",
        ("maintenance_windows", 1, "zones", 2),
        "remote",
        r"zone 'remote' does not exist",
        SITE,
        "id: wed-night",
        None,
        id="maintenance-window-zone",
    ),
    pytest.param(
        "site",
        "ridgeway",
        ("services", "broker", "zone"),
        "dmz2",
        r"broker zone 'dmz2' does not exist",
        SITE,
        "broker:",
        None,
        id="broker-zone",
    ),
    pytest.param(
        "team",
        "it-security",
        ("members", 0),
        "tbergh",
        r"member 'tbergh' does not exist; add the person to org/people\.yaml",
        TEAMS,
        "members:",
        "id: it-security",
        id="team-member",
    ),
    pytest.param(
        "grant",
        "g-rw-0008",
        ("approvals", 0, "person"),
        "mlopes",
        r"approver 'mlopes' does not exist; add the person to org/people\.yaml",
        GRANTS,
        "{person: mlopez, team: ops-ridgeway, date: 2026-11-20}",
        None,
        id="grant-approver",
    ),
    pytest.param(
        "grant",
        "g-rw-0007",
        ("approvals", 1, "team"),
        "it-sec",
        r"approving team 'it-sec' does not exist; name a team from org/teams\.yaml",
        GRANTS,
        "person: tberg",
        None,
        id="grant-approving-team",
    ),
    pytest.param(
        "grant",
        "g-rw-0007",
        ("target",),
        "rw-ews-01",  # a device: no grant reaches a device
        r"target 'rw-ews-01' does not exist; name a machine or gateway id",
        GRANTS,
        "target: gw-rw-02",
        None,
        id="grant-target-is-a-device",
    ),
    pytest.param(
        "collector",
        "col-rw-press-02",
        ("gateway",),
        "gw-rw-09",
        r"gateway 'gw-rw-09' does not exist",
        COLLECTORS,
        "gateway: gw-rw-02",
        "id: col-rw-press-02",
        id="collector-gateway",
    ),
    pytest.param(
        "data_class",
        "work-orders",
        ("correction_owner",),
        "maintenance",
        r"correction_owner team 'maintenance' does not exist",
        DATA_CLASSES,
        "correction_owner:",
        "id: work-orders",
        id="data-class-team",
    ),
    pytest.param(
        "ownership",
        "ownership",
        ("sites", "ridgeway", "zones", "cell-molding", "dashboard-usage"),
        "ops-mold",
        r"team for dashboard-usage 'ops-mold' does not exist",
        OWNERSHIP,
        "dashboard-usage: ops-molding",
        None,
        id="zone-ownership-team",
    ),
    pytest.param(
        "ownership",
        "ownership",
        ("defaults", "change-approvals", "it"),
        "it-net",
        r"team for change-approvals 'it-net' does not exist",
        OWNERSHIP,
        "change-approvals: {it: it-network, operations: ops-ridgeway}",
        None,
        id="default-ownership-team-of-a-pair",
    ),
]


def test_the_sample_has_no_dangling_reference(plant):
    assert references.check(plant) == []


@pytest.mark.parametrize(
    ("kind", "key", "path", "value", "message", "rel", "at", "after"), DANGLING
)
def test_a_dangling_reference_is_reported_at_its_line(
    fresh_plant, line_of, kind, key, path, value, message, rel, at, after
):
    _set(fresh_plant.get(kind, key).data, path, value)
    [problem] = references.check(fresh_plant)
    assert problem.rule == "INV-REF"
    assert re.search(message, problem.message), problem.message
    assert (problem.file, problem.line) == (f"inventory/{rel}", line_of(rel, at, after))


def test_every_dangling_reference_is_reported_not_only_the_first(fresh_plant, line_of):
    fresh_plant.get("machine", "rw-cnc-02").data["zone"] = "cell-a"
    fresh_plant.get("grant", "g-rw-0008").data["person"] = "nobody"
    fresh_plant.get("team", "it-security").data["members"][0] = "nobody-else"
    found = {(p.file, p.line, p.rule) for p in references.check(fresh_plant)}
    assert found == {
        (f"inventory/{MACHINES}", line_of(MACHINES, "zone:", "id: rw-cnc-02"), "INV-REF"),
        (f"inventory/{GRANTS}", line_of(GRANTS, "person: rkessler"), "INV-REF"),
        (f"inventory/{TEAMS}", line_of(TEAMS, "members:", "id: it-security"), "INV-REF"),
    }


def test_a_zone_of_another_site_does_not_count(fresh_plant):
    """Zones are per site: lakeside's cell-stamping is no zone of a ridgeway machine."""
    fresh_plant.get("machine", "rw-lathe-01").data["zone"] = "cell-stamping"
    [problem] = references.check(fresh_plant)
    assert "zone 'cell-stamping' does not exist" in problem.message


def test_a_grant_may_target_a_machine_or_a_gateway(fresh_plant):
    fresh_plant.get("grant", "g-rw-0007").data["target"] = "rw-cnc-01"
    fresh_plant.get("grant", "g-rw-0008").data["target"] = "gw-rw-01"
    assert references.check(fresh_plant) == []


def test_an_ownership_override_for_a_zone_that_does_not_exist(fresh_plant, line_of):
    zones = fresh_plant.ownership.data["sites"]["ridgeway"]["zones"]
    zones["cell-grinding"] = zones.pop("cell-molding")
    [problem] = references.check(fresh_plant)
    assert problem.rule == "INV-REF"
    assert "zone of ridgeway 'cell-grinding' does not exist" in problem.message
    # the renamed override stands where cell-molding was written
    assert (problem.file, problem.line) == (
        f"inventory/{OWNERSHIP}",
        line_of(OWNERSHIP, "cell-molding:"),
    )


def test_the_loader_refuses_the_same_text_with_the_same_problem(fresh_plant, load_plant):
    """What these tests do to a record's data is what an edit of the file's text does."""
    fresh_plant.get("grant", "g-rw-0008").data["person"] = "rkesler"
    [expected] = references.check(fresh_plant)
    with pytest.raises(InvalidInput) as refused:
        load_plant((GRANTS, "person: rkessler", "person: rkesler"))
    assert [(p, p.rule) for p in refused.value.problems] == [(expected, expected.rule)]
    assert expected.message == refused.value.problems[0].message
