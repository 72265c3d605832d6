"""Unit tests of plantctl.configs.nftables (render, rule): a site's zone firewall ruleset, one
accept per flow of its segmentation under a drop policy, ending in the default-deny counter;
every inventory value is checked by model.tokens before it is written, else refused."""

from __future__ import annotations

import dataclasses

import pytest

from plantctl.configs import nftables
from plantctl.model import tokens
from plantctl.plant import segmentation
from plantctl.plant.segmentation import INTERNET, Service

CONDUITS = "sites/ridgeway/conduits.yaml"
MORE_SERVICES = """\
  - id: molding-to-sis
    from: cell-molding
    to: sis-molding
    services:
      - {protocol: udp, port: 1000, port_end: 1010, name: io}
      - {app: modbus-tcp}
      - {protocol: icmp}
      - {protocol: tcp}
    purpose: Unit test conduit with several kinds of service
"""


@pytest.fixture(scope="module")
def seg(plant):
    return segmentation.build(plant, "ridgeway")


def _forward(text: str) -> list[str]:
    """The statements of the forward chain, in order."""
    lines = text.splitlines()
    start = lines.index("\tchain forward {")
    end = lines.index("\t}", start)
    return [li.strip() for li in lines[start + 1 : end] if not li.strip().startswith("#")]


def _accepts(text: str) -> list[str]:
    return [s for s in _forward(text) if "counter accept" in s]


def test_the_forward_chain_drops_by_default_and_ends_with_the_deny_counter(seg):
    statements = _forward(nftables.render(seg))
    assert statements[0] == "type filter hook forward priority filter; policy drop;"
    assert statements[1:3] == ["ct state established,related accept", "ct state invalid drop"]
    assert statements[-1] == 'counter comment "default-deny"'
    assert len(statements) == 3 + len(seg.flows) + 1


def test_one_accept_per_flow_in_flow_order(load_plant):
    seg = segmentation.build(load_plant((CONDUITS, None, MORE_SERVICES)), "ridgeway")
    accepts = _accepts(nftables.render(seg))
    assert [a.rsplit('comment "', 1)[1].rstrip('"') for a in accepts] == [
        f"{f.conduit}/{f.service.name or f.service.protocol}" for f in seg.flows
    ]
    ends = "ip saddr 10.20.12.0/24 ip daddr 10.20.13.0/24 "
    assert accepts[-4:] == [
        ends + 'udp dport 1000-1010 counter accept comment "molding-to-sis/io"',
        ends + 'tcp dport 502 counter accept comment "molding-to-sis/modbus-tcp"',
        ends + 'ip protocol icmp counter accept comment "molding-to-sis/icmp"',
        ends + 'meta l4proto tcp counter accept comment "molding-to-sis/tcp"',
    ]


def test_each_conduit_is_headed_once_by_its_zones(seg):
    lines = [li.strip() for li in nftables.render(seg).splitlines()]
    headings = [li for li in lines if li.startswith("# conduit ")]
    assert len(headings) == len({f.conduit for f in seg.flows})
    at = lines.index("# conduit bastion-to-supervisory: remote-access -> supervisory")
    assert lines[at + 1].endswith('comment "bastion-to-supervisory/ssh"')
    assert lines[at + 2].endswith('comment "bastion-to-supervisory/https"')


def test_a_site_without_conduits_forwards_nothing_new(load_plant):
    seg = segmentation.build(load_plant(("sites/lakeside/conduits.yaml", None, None)), "lakeside")
    text = nftables.render(seg)
    assert _accepts(text) == []
    assert _forward(text)[-1] == 'counter comment "default-deny"'
    assert "# Zone firewall of site lakeside" in text


def test_the_input_chain_drops_and_the_ruleset_replaces_the_old_one(seg):
    text = nftables.render(seg)
    lines = text.splitlines()
    assert lines.index("flush ruleset") < lines.index("table inet plant {")
    assert text.count("table inet ") == 1
    start = lines.index("\tchain input {")
    assert lines[start + 1 : start + 5] == [
        "\t\ttype filter hook input priority filter; policy drop;",
        '\t\tiifname "lo" accept',
        "\t\tct state established,related accept",
        "\t}",
    ]
    assert nftables.render(seg) == text  # the same segmentation, the same text


@pytest.mark.parametrize(
    ("service", "match"),
    [
        (Service("tcp", 502, name="modbus"), " tcp dport 502 counter accept"),
        (Service("udp", 1000, 1010, name="io"), " udp dport 1000-1010 counter accept"),
        (Service("icmp"), " ip protocol icmp counter accept"),
        (Service("udp"), " meta l4proto udp counter accept"),
        (Service("any"), ' ip daddr { 10.20.11.21, 10.20.11.22 } counter accept comment "'),
    ],
)
def test_the_service_match_of_a_rule(seg, service, match):
    flow = dataclasses.replace(seg.flows[0], service=service)  # gateways-read-machining
    assert match in nftables.rule(flow, seg)


@pytest.mark.parametrize(
    ("conduit", "interfaces", "start"),
    [
        (
            "gateways-read-machining",
            {"supervisory": "z-sup", "cell-machining": "z-cell"},
            'iifname "z-sup" oifname "z-cell" ip saddr 10.20.20.21 ',
        ),
        ("gateways-read-machining", {"supervisory": "z-sup"}, 'iifname "z-sup" ip saddr '),
        ("gateways-read-machining", {"dmz": "z-dmz"}, "ip saddr 10.20.20.21 "),
        (
            "vendors-to-bastion",
            {INTERNET: "wan0", "remote-access": "z-ra"},
            'iifname "wan0" oifname "z-ra" ip saddr != 10.20.0.0/16 ip daddr 10.20.36.10 ',
        ),
        (
            "enterprise-egress",
            {INTERNET: "wan0"},
            'oifname "wan0" ip saddr 10.20.40.0/24 ip daddr != 10.20.0.0/16 tcp dport 443 ',
        ),
    ],
)
def test_a_rule_matches_the_interfaces_of_its_zones(seg, conduit, interfaces, start):
    flow = next(f for f in seg.flows if f.conduit == conduit)
    assert nftables.rule(flow, seg, interfaces).startswith(start)


@pytest.mark.parametrize(
    ("flow_changes", "seg_changes"),
    [
        ({"sources": ('10.20.20.21" accept',)}, {}),
        ({"sources": ("10.20.20.21\nflush ruleset",)}, {}),
        ({"destinations": ("10.20.11.21, 0.0.0.0/0",)}, {}),
        ({"service": Service("tcp", 4840, name='opcua" accept')}, {}),
        ({"service": Service("tcp", 4840, name="opcua\n")}, {}),
        ({"source_zone": "supervisory\ntable inet x {"}, {}),
        ({"destination_zone": 'cell"'}, {}),
        ({}, {"site": 'ridgeway"\nflush ruleset'}),
        ({}, {"supernet": "10.20.0.0/16 accept"}),
    ],
    ids=[
        "source-quote",
        "source-newline",
        "destination-list",
        "service-name-quote",
        "service-name-newline",
        "zone-newline",
        "zone-quote",
        "site",
        "supernet",
    ],
)
def test_a_value_that_is_not_its_token_is_refused(seg, flow_changes, seg_changes):
    flows = (dataclasses.replace(seg.flows[0], **flow_changes), *seg.flows[1:])
    bad = dataclasses.replace(seg, flows=flows, **seg_changes)
    with pytest.raises(tokens.UnsafeToken, match="refusing to write it"):
        nftables.render(bad)


@pytest.mark.parametrize(
    "service",
    [
        Service("tcp accept; flush ruleset;", 4840, name="opcua"),
        Service("tcp", "22, 0-65535", name="opcua"),  # type: ignore[arg-type]
        Service("tcp", 22, "0-65535", name="opcua"),  # type: ignore[arg-type]
    ],
    ids=["protocol", "port", "port_end"],
)
def test_a_service_that_is_not_its_token_is_refused(seg, service):
    with pytest.raises(tokens.UnsafeToken):
        nftables.rule(dataclasses.replace(seg.flows[0], service=service), seg)


def test_an_edited_conduit_address_never_reaches_the_ruleset(fresh_plant):
    """The second lock: a value the schema would refuse, put straight into the record."""
    conduit = fresh_plant.get("conduit", "ridgeway/gateways-publish")
    conduit.data["destinations"] = ['10.20.35.10" accept comment "x']
    with pytest.raises(tokens.UnsafeToken):
        nftables.render(segmentation.build(fresh_plant, "ridgeway"))
