"""Unit tests of plantctl.plant.segmentation (build): a site's zones and its allowed flows, one
per conduit service, from the conduit's addresses or else its zones' networks; nothing else."""

from __future__ import annotations

import pytest

from plantctl.model import tokens
from plantctl.plant import segmentation
from plantctl.plant.segmentation import INTERNET, Service

CONDUITS = "sites/ridgeway/conduits.yaml"

# A conduit between two zones no conduit of the sample connects, with the whole zones as ends.
MOLDING_TO_SIS = """\
  - id: molding-to-sis
    from: cell-molding
    to: sis-molding
    services: [{protocol: udp, port: 1000, port_end: 1010, name: io}, {app: modbus-tcp}]
    purpose: Unit test conduit between the molding cell and its safety system
"""

RIDGEWAY_FLOWS = [
    ("gateways-read-machining", "supervisory", "cell-machining", "tcp", "4840"),
    ("gateways-read-molding", "supervisory", "cell-molding", "tcp", "502"),
    ("hmi-machining", "supervisory", "cell-machining", "tcp", "4840"),
    ("hmi-machining", "supervisory", "cell-machining", "tcp", "502"),
    ("gateways-publish", "supervisory", "dmz", "tcp", "8883"),
    ("mes-subscribe", "site-ops", "dmz", "tcp", "8883"),
    ("dashboards-subscribe", "enterprise", "dmz", "tcp", "8883"),
    ("staff-to-bastion", "enterprise", "remote-access", "tcp", "22"),
    ("vendors-to-bastion", INTERNET, "remote-access", "tcp", "22"),
    ("bastion-to-supervisory", "remote-access", "supervisory", "tcp", "22"),
    ("bastion-to-supervisory", "remote-access", "supervisory", "tcp", "443"),
    ("enterprise-egress", "enterprise", INTERNET, "tcp", "443"),
]


def _pairs(seg) -> set[tuple[str, str]]:
    return {(f.source_zone, f.destination_zone) for f in seg.flows}


def test_the_flows_are_exactly_the_conduits_services_in_file_order(plant):
    seg = segmentation.build(plant, "ridgeway")
    got = [
        (f.conduit, f.source_zone, f.destination_zone, f.service.protocol, f.service.ports)
        for f in seg.flows
    ]
    assert got == RIDGEWAY_FLOWS


@pytest.mark.parametrize(
    ("source", "destination"),
    [
        ("cell-machining", "cell-molding"),
        ("cell-molding", "cell-machining"),
        ("cell-machining", "supervisory"),  # replies only: no flow back up
        ("enterprise", "cell-machining"),
        ("enterprise", "supervisory"),
        (INTERNET, "supervisory"),
        (INTERNET, "dmz"),
        ("dmz", "enterprise"),
    ],
)
def test_an_unconnected_zone_pair_has_no_flow(plant, source, destination):
    assert (source, destination) not in _pairs(segmentation.build(plant, "ridgeway"))


def test_no_flow_reaches_or_leaves_the_safety_zone(plant):
    seg = segmentation.build(plant, "ridgeway")
    assert not [f for f in seg.flows if "sis-molding" in (f.source_zone, f.destination_zone)]


def test_a_new_conduit_adds_one_flow_per_service_between_the_whole_zones(load_plant):
    inv = load_plant((CONDUITS, None, MOLDING_TO_SIS))
    seg = segmentation.build(inv, "ridgeway")
    new = [f for f in seg.flows if f.conduit == "molding-to-sis"]
    assert [(f.service.protocol, f.service.ports, f.service.name) for f in new] == [
        ("udp", "1000-1010", "io"),
        ("tcp", "502", "modbus-tcp"),  # from the protocol catalogue, named after it
    ]
    assert {(f.sources, f.destinations) for f in new} == {(("10.20.12.0/24",), ("10.20.13.0/24",))}
    assert len(seg.flows) == len(RIDGEWAY_FLOWS) + 2
    assert ("cell-molding", "sis-molding") in _pairs(seg)
    assert ("sis-molding", "cell-molding") not in _pairs(seg)


@pytest.mark.parametrize(
    ("conduit", "sources", "destinations"),
    [
        ("gateways-read-machining", ("10.20.20.21",), ("10.20.11.21", "10.20.11.22")),
        ("hmi-machining", ("10.20.20.10",), ("10.20.11.0/24",)),  # to the whole cell
        ("mes-subscribe", ("10.20.30.0/24",), ("10.20.35.10",)),  # from the whole zone
        ("vendors-to-bastion", (), ("10.20.36.10",)),  # () is anywhere outside
        ("enterprise-egress", ("10.20.40.0/24",), ()),
    ],
)
def test_the_ends_are_the_listed_addresses_else_the_zone(plant, conduit, sources, destinations):
    seg = segmentation.build(plant, "ridgeway")
    ends = {(f.sources, f.destinations) for f in seg.flows if f.conduit == conduit}
    assert ends == {(sources, destinations)}


def test_a_flow_points_at_its_conduit_in_the_file(plant, line_of):
    seg = segmentation.build(plant, "ridgeway")
    for flow in seg.flows:
        assert flow.file == f"inventory/{CONDUITS}"
        assert flow.line == line_of(CONDUITS, f"id: {flow.conduit}")


def test_zones_are_ordered_by_purdue_level_with_their_router_and_egress(plant):
    seg = segmentation.build(plant, "ridgeway")
    assert [z.id for z in seg.zones] == [
        "cell-machining",
        "cell-molding",
        "sis-molding",
        "supervisory",
        "site-ops",
        "dmz",
        "remote-access",
        "enterprise",
    ]
    dmz = seg.zone("dmz")
    assert (dmz.cidr, dmz.router, dmz.prefixlen, dmz.vlan) == (
        "10.20.35.0/24",
        "10.20.35.1",
        24,
        135,
    )
    assert [z.id for z in seg.zones if z.internet_egress] == ["enterprise"]
    assert seg.supernet == "10.20.0.0/16"
    with pytest.raises(KeyError):
        seg.zone("cell-stamping")  # lakeside's


def test_each_site_has_its_own_conduits(plant):
    """Both sites have an enterprise-egress conduit; each site's flow starts in its own zone."""
    lakeside = segmentation.build(plant, "lakeside")
    assert [(f.conduit, f.sources) for f in lakeside.flows] == [
        ("enterprise-egress", ("10.30.40.0/24",))
    ]
    assert lakeside.uses_internet


def test_a_site_without_conduits_allows_nothing(load_plant):
    inv = load_plant(("sites/lakeside/conduits.yaml", None, None))
    seg = segmentation.build(inv, "lakeside")
    assert seg.flows == ()
    assert not seg.uses_internet
    assert len(seg.zones) == 6


def test_an_unknown_site_is_a_key_error(plant):
    with pytest.raises(KeyError):
        segmentation.build(plant, "nowhere")


@pytest.mark.parametrize(
    ("service", "ports"),
    [
        (Service("tcp", 502), "502"),
        (Service("udp", 1000, 1010), "1000-1010"),
        (Service("tcp", 4840, 4840), "4840"),
        (Service("tcp"), None),
        (Service("icmp", 8), None),
        (Service("any"), None),
    ],
)
def test_the_ports_of_a_service(service, ports):
    assert service.ports == ports


def test_a_layer_2_protocol_has_no_routed_flow(load_plant):
    inv = load_plant(
        (
            CONDUITS,
            "services: [{protocol: tcp, port: 4840, name: opcua}]",
            "services: [{app: profinet}]",
        )
    )
    with pytest.raises(tokens.UnsafeToken, match="layer-2 protocol"):
        segmentation.build(inv, "ridgeway")


def test_flow_names_and_plain_data(load_plant):
    inv = load_plant(
        (
            CONDUITS,
            None,
            MOLDING_TO_SIS.replace(", name: io}", "}").replace("molding-to-sis", "m2s"),
        )
    )
    flows = [f for f in segmentation.build(inv, "ridgeway").flows if f.conduit == "m2s"]
    assert [f.name for f in flows] == ["m2s/udp-1000-1010", "m2s/modbus-tcp"]
    assert flows[0].as_dict() == {
        "conduit": "m2s",
        "name": "m2s/udp-1000-1010",
        "from": "cell-molding",
        "to": "sis-molding",
        "sources": ["10.20.12.0/24"],
        "destinations": ["10.20.13.0/24"],
        "protocol": "udp",
        "ports": "1000-1010",
    }
