"""Unit tests of plantctl.gate.facts (build, now_rfc3339): the policy input carries every
inventory object under its key with its site, services resolved from the protocol catalogue,
devices by address and owners resolved per site and zone, without changing the inventory."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from plantctl.gate import facts
from plantctl.model.ownership import RESPONSIBILITIES

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

# (table of the policy input, record kind, whether the items carry their site)
SITED = [
    ("machines", "machine"),
    ("gateways", "gateway"),
    ("collectors", "collector"),
    ("devices", "device"),
    ("zones", "zone"),
    ("conduits", "conduit"),
]
UNSITED = [
    ("teams", "team"),
    ("people", "person"),
    ("roles", "role"),
    ("data_classes", "data_class"),
    ("glossary", "term"),
    ("protocols", "protocol"),
    ("grants", "grant"),
    ("waivers", "waiver"),
]


@pytest.fixture(scope="module")
def doc(plant):
    return facts.build(plant, NOW)


@pytest.mark.parametrize(("table", "kind"), SITED)
def test_every_site_object_is_there_with_its_site(plant, doc, table, kind):
    assert set(doc[table]) == set(plant.of(kind))
    assert doc[table]
    for key, item in doc[table].items():
        assert item["site"] == plant.get(kind, key).site


@pytest.mark.parametrize(("table", "kind"), UNSITED)
def test_every_other_object_is_there_under_its_key(plant, doc, table, kind):
    assert set(doc[table]) == set(plant.of(kind))
    for key, item in doc[table].items():
        assert "site" not in item or item["site"] == plant.get(kind, key).data["site"]


def test_a_gateway_and_a_machine_as_the_policies_see_them(doc):
    assert doc["gateways"]["gw-rw-02"]["site"] == "ridgeway"
    assert doc["gateways"]["gw-rw-02"]["zone"] == "supervisory"
    assert doc["machines"]["lk-press-02"]["site"] == "lakeside"
    assert doc["machines"]["lk-press-02"]["controller"]["protocol"] == "s7"


def test_zones_and_conduits_are_keyed_by_site(doc):
    """Both sites have a supervisory zone and an enterprise-egress conduit: two keys each."""
    assert doc["zones"]["ridgeway/supervisory"]["key"] == "ridgeway/supervisory"
    assert doc["zones"]["lakeside/supervisory"]["cidr"] == "10.30.20.0/24"
    assert {k for k in doc["conduits"] if k.endswith("/enterprise-egress")} == {
        "ridgeway/enterprise-egress",
        "lakeside/enterprise-egress",
    }


def test_a_raw_service_names_the_catalogue_entries_it_carries(doc):
    [service] = doc["conduits"]["ridgeway/gateways-read-molding"]["services"]
    assert service == {"protocol": "tcp", "port": 502, "name": "modbus", "apps": ["modbus-tcp"]}


def test_an_app_service_gets_its_transport_and_port(load_plant):
    inv = load_plant(
        (
            "sites/ridgeway/conduits.yaml",
            "services: [{protocol: tcp, port: 502, name: modbus}]",
            "services: [{app: modbus-tcp}]",
        ),
        (
            "access/grants.yaml",
            "services: [{protocol: tcp, port: 443, name: https}]",
            "services: [{app: https}]",
        ),
    )
    doc = facts.build(inv, NOW)
    assert doc["conduits"]["ridgeway/gateways-read-molding"]["services"] == [
        {
            "app": "modbus-tcp",
            "protocol": "tcp",
            "port": 502,
            "name": "modbus-tcp",
            "apps": ["modbus-tcp"],
        }
    ]
    assert doc["grants"]["g-rw-0008"]["services"] == [
        {"app": "https", "protocol": "tcp", "port": 443, "name": "https", "apps": ["https"]}
    ]


@pytest.mark.parametrize(
    ("address", "kind", "ident", "site", "zone"),
    [
        ("10.20.20.22", "gateway", "gw-rw-02", "ridgeway", "supervisory"),
        ("10.20.11.21", "machine", "rw-cnc-01", "ridgeway", "cell-machining"),  # its controller
        ("10.30.11.51", "machine", "lk-press-02", "lakeside", "cell-stamping"),
        ("10.20.13.21", "safety-plc", "rw-sis-plc-01", "ridgeway", "sis-molding"),
        ("10.20.35.10", "broker", "rw-broker", "ridgeway", "dmz"),
        ("10.20.36.10", "bastion", "rw-bastion", "ridgeway", "remote-access"),
    ],
)
def test_devices_by_address(doc, address, kind, ident, site, zone):
    assert doc["devices_by_address"][address] == {
        "kind": kind,
        "id": ident,
        "site": site,
        "zone": zone,
    }


def test_owners_are_resolved_for_every_site_and_zone(plant, doc):
    assert set(doc["owners"]["sites"]) == set(plant.sites())
    assert set(doc["owners"]["zones"]) == set(plant.of("zone"))
    assert doc["owners"]["zones"]["ridgeway/cell-molding"]["dashboard-usage"] == "ops-molding"
    assert doc["owners"]["zones"]["ridgeway/cell-machining"]["dashboard-usage"] == "ops-ridgeway"
    assert doc["owners"]["zones"]["lakeside/cell-stamping"]["dashboard-usage"] == "ops-lakeside"
    assert doc["owners"]["sites"]["lakeside"]["change-approvals"] == {
        "it": "it-network",
        "operations": "ops-lakeside",
    }
    for owners in [*doc["owners"]["sites"].values(), *doc["owners"]["zones"].values()]:
        assert set(owners) == set(RESPONSIBILITIES)


def test_the_envelope(doc):
    assert doc["schema_version"] == facts.SCHEMA_VERSION == 1
    assert doc["now"] == "2026-11-22T12:00:00Z"
    assert doc["responsibilities"] == list(RESPONSIBILITIES)
    assert isinstance(doc["training"], list)
    assert isinstance(doc["bindings"], list)
    json.dumps(doc)  # the policy input is JSON: nothing in it may be a date or a set


def test_building_the_facts_changes_no_record(fresh_plant):
    before = {
        kind: {key: copy.deepcopy(rec.data) for key, rec in table.items()}
        for kind, table in fresh_plant.records.items()
    }
    facts.build(fresh_plant, NOW)
    after = {
        kind: {key: rec.data for key, rec in table.items()}
        for kind, table in fresh_plant.records.items()
    }
    assert after == before
    assert "site" not in fresh_plant.get("gateway", "gw-rw-01").data
    assert "key" not in fresh_plant.get("zone", "ridgeway/dmz").data


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (
            datetime(2026, 12, 1, 20, 30, 15, tzinfo=timezone(timedelta(hours=-5))),
            "2026-12-02T01:30:15Z",
        ),
        (datetime(2026, 12, 1, 20, 30, 15, 999999, tzinfo=UTC), "2026-12-01T20:30:15Z"),
        (datetime(2026, 6, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))), "2026-06-01T00:00:00Z"),
    ],
)
def test_now_is_rfc3339_in_utc_to_the_second(moment, text):
    assert facts.now_rfc3339(moment) == text


def test_now_defaults_to_the_clock():
    before = datetime.now(UTC).replace(microsecond=0)
    text = facts.now_rfc3339()
    after = datetime.now(UTC)
    assert before <= datetime.fromisoformat(text.replace("Z", "+00:00")) <= after
