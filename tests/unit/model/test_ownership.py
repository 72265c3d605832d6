"""Unit tests of plantctl.model.ownership (resolve, owner_of): the accountable team of each
responsibility at a place; a zone override beats a site override beats the company default."""

from __future__ import annotations

import pytest

from plantctl.model import ownership
from plantctl.model.ownership import RESPONSIBILITIES

OWNERSHIP = "org/ownership.yaml"

# lakeside's site override, and a zone override of its stamping cell, for one responsibility
# the default, the site and the zone each name differently.
LAKESIDE_ZONE = (
    OWNERSHIP,
    "      change-approvals: {it: it-network, operations: ops-lakeside}\n",
    "      change-approvals: {it: it-network, operations: ops-lakeside}\n"
    "    zones:\n"
    "      cell-stamping:\n"
    "        dashboard-usage: quality\n"
    "        change-approvals: {it: it-security, operations: ops-molding}\n",
)


@pytest.mark.parametrize(
    ("site", "zone", "responsibility", "team"),
    [
        (None, None, "dashboard-usage", "ops-ridgeway"),
        ("ridgeway", None, "dashboard-usage", "ops-ridgeway"),  # no site override: default
        ("ridgeway", "cell-molding", "dashboard-usage", "ops-molding"),  # zone override
        ("ridgeway", "cell-machining", "dashboard-usage", "ops-ridgeway"),  # another zone
        ("ridgeway", "cell-molding", "network-connectivity", "it-network"),  # not overridden
        ("lakeside", None, "dashboard-usage", "ops-lakeside"),  # site override
        ("lakeside", "cell-stamping", "dashboard-usage", "ops-lakeside"),  # zone without one
        ("lakeside", None, "network-connectivity", "it-network"),
        (None, "cell-molding", "dashboard-usage", "ops-ridgeway"),  # a zone needs its site
        ("lakeside", "cell-molding", "dashboard-usage", "ops-lakeside"),  # ridgeway's zone id
    ],
)
def test_the_sample_resolves_the_most_specific_owner(plant, site, zone, responsibility, team):
    assert ownership.resolve(plant, site, zone)[responsibility] == team


@pytest.mark.parametrize(
    ("site", "zone", "team", "approvers"),
    [
        (
            "lakeside",
            "cell-stamping",
            "quality",
            {"it": "it-security", "operations": "ops-molding"},
        ),
        ("lakeside", None, "ops-lakeside", {"it": "it-network", "operations": "ops-lakeside"}),
        (None, None, "ops-ridgeway", {"it": "it-network", "operations": "ops-ridgeway"}),
    ],
)
def test_zone_over_site_over_default(load_plant, site, zone, team, approvers):
    inv = load_plant(LAKESIDE_ZONE)
    owners = ownership.resolve(inv, site, zone)
    assert owners["dashboard-usage"] == team
    assert owners["change-approvals"] == approvers


def test_a_zone_override_applies_to_its_site_only(load_plant):
    """Both sites have a supervisory zone; an override of ridgeway's leaves lakeside's alone."""
    inv = load_plant(
        (
            OWNERSHIP,
            "    zones:\n      # The molding line",
            "    zones:\n      supervisory: {sensor-gateway-health: it-network}\n"
            "      # The molding line",
        )
    )
    assert ownership.resolve(inv, "ridgeway", "supervisory")["sensor-gateway-health"] == (
        "it-network"
    )
    assert ownership.resolve(inv, "lakeside", "supervisory")["sensor-gateway-health"] == (
        "maint-lakeside"
    )
    assert ownership.resolve(inv, "ridgeway", "dmz")["sensor-gateway-health"] == "maint-ridgeway"


def test_every_responsibility_has_an_owner_everywhere(plant):
    places = [(None, None)] + [(s, None) for s in plant.sites()]
    places += [(z.site, z.id) for z in plant.of("zone").values()]
    for site, zone in places:
        assert set(ownership.resolve(plant, site, zone)) == set(RESPONSIBILITIES), (site, zone)


def test_resolving_an_override_leaves_the_defaults_as_written(fresh_plant):
    before = dict(fresh_plant.ownership.data["defaults"])
    ownership.resolve(fresh_plant, "ridgeway", "cell-molding")["dashboard-usage"] = "changed"
    ownership.resolve(fresh_plant, "lakeside")
    assert fresh_plant.ownership.data["defaults"] == before
    assert ownership.resolve(fresh_plant)["dashboard-usage"] == "ops-ridgeway"


@pytest.mark.parametrize(
    ("responsibility", "site", "zone", "owner"),
    [
        ("change-approvals", "ridgeway", "cell-molding", "it-network+ops-molding"),
        ("change-approvals", None, None, "it-network+ops-ridgeway"),
        ("training", "lakeside", "cell-stamping", "plant-management"),
        ("coffee-machine", None, None, "(unowned)"),
    ],
)
def test_owner_of_names_one_team_or_the_pair(plant, responsibility, site, zone, owner):
    assert ownership.owner_of(plant, responsibility, site, zone) == owner
