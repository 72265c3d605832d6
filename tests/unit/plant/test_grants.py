"""Unit tests of plantctl.plant.grants (build): which grants a site bastion carries now, each
restricted to its target's address and the TCP ports of its services, usable from where a
conduit lets its person reach the bastion, and expiring at its end; the others skipped, saying
why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plantctl.plant import grants

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForGrantUnitTests00000000000000000000"
KEYS = {"dokafor": KEY, "rkessler": KEY}
GRANTS = "access/grants.yaml"
CONDUITS = "sites/ridgeway/conduits.yaml"
SITE = "sites/ridgeway/site.yaml"
# Inside g-rw-0007's window (internal, dokafor), before g-rw-0008's (external, rkessler).
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# g-rw-0008: 2026-12-03T08:00:00-05:00 to 2026-12-03T14:00:00-05:00.
VENDOR_START = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
VENDOR_END = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
SERVICES_0007 = "services: [{protocol: tcp, port: 22, name: ssh}]\n    start: 2026-11-16"


def _services(spelling: str):
    return (GRANTS, SERVICES_0007, f"services: [{spelling}]\n    start: 2026-11-16")


def _conduit(texts: dict[str, str], conduit: str) -> str:
    """The text of one conduit of ridgeway's conduits.yaml, its `- id:` line to the next."""
    lines = texts[CONDUITS].splitlines(keepends=True)
    start = lines.index(f"  - id: {conduit}\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - ")), None)
    return "".join(lines[start:end])


def _plan(inv, now=NOW, keys=KEYS, **options):
    return grants.build(inv, "ridgeway", keys, now=now, **options)


def _deployed(plan) -> list[str]:
    return [e.grant for e in plan.entries]


def _reasons(plan) -> dict[str, str]:
    return {s.grant: s.reason for s in plan.skipped}


@pytest.mark.parametrize(
    ("now", "deployed", "reason"),
    [
        (VENDOR_START - SECOND, False, "it starts at 2026-12-03T08:00:00-05:00; deploy again then"),
        (VENDOR_START, True, None),
        (VENDOR_END - SECOND, True, None),
        (VENDOR_END, False, "it ended at 2026-12-03T14:00:00-05:00"),
        (VENDOR_END + timedelta(days=30), False, "it ended at 2026-12-03T14:00:00-05:00"),
    ],
    ids=["a-second-before-start", "at-start", "a-second-before-end", "at-end", "long-after"],
)
def test_a_grant_is_deployed_only_inside_its_window(plant, now, deployed, reason):
    plan = _plan(plant, now=now)
    assert ("g-rw-0008" in _deployed(plan)) is deployed
    assert _reasons(plan).get("g-rw-0008") == reason


def test_the_lab_may_keep_an_ended_grant_but_never_one_not_yet_started(plant):
    after = _plan(plant, now=VENDOR_END + SECOND, include_ended=True)
    assert "g-rw-0008" in _deployed(after)
    before = _plan(plant, now=VENDOR_START - SECOND, include_ended=True)
    assert "g-rw-0008" in _reasons(before)


@pytest.mark.parametrize(
    ("spelling", "ports"),
    [
        ("{protocol: tcp, port: 22, name: ssh}", [22]),
        ("{app: rdp}", [3389]),  # from the protocol catalogue
        (
            "{app: ssh}, {protocol: tcp, port: 8080, port_end: 8082, name: web}",
            [22, 8080, 8081, 8082],
        ),
        ("{protocol: tcp, port: 22, name: ssh}, {app: ssh}", [22]),  # one permit per port
        ("{protocol: tcp, port: 9000, port_end: 9015, name: wide}", list(range(9000, 9016))),
    ],
    ids=["port", "app", "app-and-range", "twice", "sixteen-ports"],
)
def test_the_permits_are_the_target_address_and_the_grants_ports(load_plant, spelling, ports):
    [entry] = _plan(load_plant(_services(spelling))).entries
    assert entry.permits == tuple(("10.20.20.22", p) for p in ports)  # gw-rw-02's address


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ("{protocol: udp, port: 161, name: snmp}", "is not a TCP port"),
        ("{protocol: tcp, name: web}", "is not a TCP port"),
        ("{app: ssh}, {app: cip-io}", "is not a TCP port"),
        ("{protocol: tcp, port: 9000, port_end: 9016, name: wide}", "spans more than 16 ports"),
    ],
    ids=["udp", "no-port", "one-of-two-udp", "seventeen-ports"],
)
def test_a_grant_whose_services_the_bastion_cannot_forward_is_skipped(load_plant, spelling, reason):
    plan = _plan(load_plant(_services(spelling)))
    assert plan.entries == ()
    assert reason in _reasons(plan)["g-rw-0007"]


@pytest.mark.parametrize(
    ("target", "address"),
    [("rw-cnc-01", "10.20.11.21"), ("gw-rw-03", "10.20.20.23"), ("rw-hmi-01", "10.20.20.10")],
)
def test_the_target_is_a_machines_controller_or_a_gateway(load_plant, target, address):
    inv = load_plant((GRANTS, "target: gw-rw-02", f"target: {target}"))
    [entry] = _plan(inv).entries
    assert (entry.target, entry.permits) == (target, ((address, 22),))


def test_a_grant_via_another_bastion_is_skipped(load_plant):
    inv = load_plant(
        (
            GRANTS,
            "via: rw-bastion\n    mfa: true\n    session_recording: false",
            "via: lk-bastion\n    mfa: true\n    session_recording: false",
        )
    )
    plan = _plan(inv)
    assert plan.entries == ()
    assert _reasons(plan)["g-rw-0007"] == (
        "it goes via 'lk-bastion', not this site's bastion 'rw-bastion'"
    )


def test_a_grant_of_another_site_is_neither_deployed_nor_skipped(load_plant):
    inv = load_plant(
        (GRANTS, "person: rkessler\n    site: ridgeway", "person: rkessler\n    site: lakeside")
    )
    plan = _plan(inv, now=VENDOR_START)
    assert "g-rw-0008" not in _deployed(plan)
    assert "g-rw-0008" not in _reasons(plan)


@pytest.mark.parametrize("site", ["lakeside", "nowhere"])
def test_a_site_without_a_bastion_has_no_plan(plant, site):
    with pytest.raises(KeyError):
        grants.build(plant, site, KEYS, now=NOW)


@pytest.mark.parametrize(
    ("removed", "grant", "side"),
    [
        ("staff-to-bastion", "g-rw-0007", "an internal zone"),
        ("vendors-to-bastion", "g-rw-0008", "the internet"),
    ],
)
def test_without_a_conduit_to_the_bastion_a_grant_is_skipped(
    load_plant, sample_texts, removed, grant, side
):
    inv = load_plant((CONDUITS, _conduit(sample_texts, removed), ""))
    plan = _plan(inv, now=VENDOR_START)
    assert grant not in _deployed(plan)
    assert _reasons(plan)[grant] == f"no conduit lets {side} reach the bastion on port 22"
    assert len(plan.entries) == 1  # the other grant's conduit is still there


@pytest.mark.parametrize(
    ("old", "new", "sources"),
    [
        (None, None, ("10.20.40.0/24",)),  # the whole enterprise zone
        ("to: remote-access\n", "to: remote-access\n    sources: [10.20.40.5]\n", ("10.20.40.5",)),
        ("    destinations: [10.20.36.10]\n", "", ("10.20.40.0/24",)),  # to the bastion's zone
        ("destinations: [10.20.36.10]", "destinations: [10.20.36.11]", None),  # another host
        ("port: 22", "port: 20, port_end: 30", ("10.20.40.0/24",)),  # a range holding 22
        ("port: 22", "port: 2222", None),  # another port
        ("protocol: tcp", "protocol: udp", None),
    ],
    ids=["zone", "listed", "no-destinations", "other-host", "range", "other-port", "udp"],
)
def test_an_internal_grant_comes_from_where_the_staff_conduit_allows(
    load_plant, sample_texts, old, new, sources
):
    block = _conduit(sample_texts, "staff-to-bastion")
    changed = block if old is None else block.replace(old, new, 1)
    assert old is None or changed != block
    plan = _plan(load_plant((CONDUITS, block, changed)))
    if sources is None:
        assert plan.entries == ()
        assert "no conduit lets an internal zone" in _reasons(plan)["g-rw-0007"]
    else:
        [entry] = plan.entries
        assert (entry.sources, entry.external) == (sources, False)


@pytest.mark.parametrize(
    ("old", "new", "sources"),
    [
        (None, None, ("!10.20.0.0/16", "*")),  # anywhere outside the site's supernet
        ("from: internet\n", "from: internet\n    sources: [203.0.113.7]\n", ("203.0.113.7",)),
    ],
    ids=["anywhere-outside", "listed"],
)
def test_an_external_grant_comes_from_where_the_vendor_conduit_allows(
    load_plant, sample_texts, old, new, sources
):
    block = _conduit(sample_texts, "vendors-to-bastion")
    changed = block if old is None else block.replace(old, new, 1)
    [entry] = [
        e
        for e in _plan(load_plant((CONDUITS, block, changed)), now=VENDOR_START).entries
        if e.grant == "g-rw-0008"
    ]
    assert (entry.sources, entry.external) == (sources, True)


def test_a_bastion_on_another_port_needs_conduits_to_that_port(load_plant):
    inv = load_plant((SITE, "address: 10.20.36.10, port: 22}", "address: 10.20.36.10, port: 2222}"))
    plan = _plan(inv, now=VENDOR_START)
    assert plan.port == 2222
    assert plan.entries == ()
    assert set(_reasons(plan)) == {"g-rw-0007", "g-rw-0008"}


@pytest.mark.parametrize(
    ("end", "expiry"),
    [
        ("2026-12-11T17:00:59-05:00", "202612112200Z"),  # rounded down to the minute
        ("2026-12-11T23:30:00-05:00", "202612120430Z"),  # the next day in UTC
        ("2026-12-11T17:00:00+01:00", "202612111600Z"),
        ("2026-12-11T16:00:00Z", "202612111600Z"),
    ],
)
def test_the_expiry_is_the_end_in_utc(load_plant, end, expiry):
    inv = load_plant((GRANTS, "end: 2026-12-11T17:00:00-05:00", f"end: {end}"))
    [entry] = _plan(inv).entries
    assert entry.expiry == expiry
    assert entry.end == grants.parse_time(end)


def test_an_entry_is_one_account_per_grant(load_plant):
    """Two grants of one person are two accounts, each with its own restrictions."""
    inv = load_plant((GRANTS, "person: rkessler", "person: dokafor"))
    plan = _plan(inv, now=VENDOR_START, keys={"dokafor": KEY})
    assert [(e.grant, e.account, e.person) for e in plan.entries] == [
        ("g-rw-0007", "g-rw-0007", "dokafor"),
        ("g-rw-0008", "g-rw-0008", "dokafor"),
    ]
    assert [e.permits for e in plan.entries] == [
        (("10.20.20.22", 22),),
        (("10.20.20.10", 443),),
    ]
    # the person is internal now: from the enterprise zone, not the internet
    assert {e.sources for e in plan.entries} == {("10.20.40.0/24",)}


def test_the_bastion_is_the_sites_service(plant):
    plan = _plan(plant)
    assert (plan.site, plan.bastion_id, plan.zone, plan.address, plan.port) == (
        "ridgeway",
        "rw-bastion",
        "remote-access",
        "10.20.36.10",
        22,
    )
