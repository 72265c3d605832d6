"""Unit tests of plantctl.plant.broker_access (build): a site broker's accounts. A collector
writes only its own signals' topics and reads nothing; a role reads only the data classes that
list it as a viewer and writes nothing; Sparkplug B gateways get their namespace's topics."""

from __future__ import annotations

import pytest

from plantctl.model import tokens
from plantctl.plant import broker_access

DATA_CLASSES = "data_classes.yaml"
COLLECTORS = "sites/ridgeway/collectors.yaml"
GATEWAYS = "sites/ridgeway/gateways.yaml"


def _subscriptions(*classes: str) -> tuple[str, ...]:
    return tuple(f"ridgeway/+/+/{c}/+" for c in classes)


def _sparkplug_gw3(texts: dict[str, str]):
    """gw-rw-03 (the compressor's gateway) publishing Sparkplug B."""
    line = next(li for li in texts[GATEWAYS].splitlines() if "id: gw-rw-03" in li)
    return (GATEWAYS, line, line.replace("}", ", payload: sparkplug-b}"))


@pytest.mark.parametrize(
    ("role", "classes"),
    [
        (
            "operator",
            ("downtime-reasons", "machine-status", "operator-entries", "production-counts"),
        ),
        (
            "data-analyst",
            ("downtime-reasons", "energy", "machine-status", "production-counts", "reports"),
        ),
        ("quality-engineer", ("production-counts", "quality-records", "reports")),
        ("maintenance-technician", ("downtime-reasons", "energy", "machine-status", "work-orders")),
    ],
)
def test_a_role_reads_exactly_the_classes_it_views(plant, role, classes):
    account = broker_access.build(plant, "ridgeway").account(f"role.{role}")
    assert (account.kind, account.subject) == ("role", role)
    assert account.read == _subscriptions(*classes)
    assert account.write == ()


def test_a_role_that_views_nothing_has_no_account(plant):
    usernames = {a.username for a in broker_access.build(plant, "ridgeway").accounts}
    assert "role.vendor-technician" not in usernames
    assert "role.security-analyst" not in usernames


def test_becoming_a_viewer_adds_that_class_only(load_plant):
    inv = load_plant(
        (
            DATA_CLASSES,
            "viewers: [maintenance-technician, process-engineer, plant-manager, data-analyst]",
            "viewers: [maintenance-technician, process-engineer, plant-manager, data-analyst, "
            "vendor-technician]",
        )
    )
    account = broker_access.build(inv, "ridgeway").account("role.vendor-technician")
    assert account.read == _subscriptions("energy")


@pytest.mark.parametrize(
    ("editors", "exporters"),
    [("[vendor-technician]", "[data-analyst]"), ("[]", "[data-analyst, vendor-technician]")],
    ids=["editor", "exporter"],
)
def test_editing_or_exporting_a_class_is_not_viewing_it(load_plant, editors, exporters):
    """Only `viewers` read on the broker: an editor or exporter who is no viewer reads nothing."""
    inv = load_plant(
        (
            DATA_CLASSES,
            "editors: []\n    exporters: [data-analyst]\n    retention: {days: 1095",
            f"editors: {editors}\n    exporters: {exporters}\n    retention: {{days: 1095",
        )
    )
    with pytest.raises(KeyError):
        broker_access.build(inv, "ridgeway").account("role.vendor-technician")


def test_no_longer_a_viewer_no_account(load_plant):
    inv = load_plant((DATA_CLASSES, ", data-analyst, network-admin]", ", data-analyst]"))
    with pytest.raises(KeyError):
        broker_access.build(inv, "ridgeway").account("role.network-admin")


def test_a_gateway_writes_one_topic_per_signal_of_its_collectors_and_reads_nothing(plant):
    """One account per gateway (one collector process, one client certificate), its topics the
    union of its collectors' topics, in collector order."""
    access = broker_access.build(plant, "ridgeway")
    gateways = [a for a in access.accounts if a.kind == "gateway"]
    collectors = {c.key: c for c in plant.of("collector").values() if c.site == "ridgeway"}
    running = sorted({c.data["gateway"] for c in collectors.values()})
    assert [a.username for a in gateways] == [f"gateway.{g}" for g in running]
    assert not [a for a in access.accounts if a.kind not in ("gateway", "role")]
    for account in gateways:
        own = sorted(k for k, c in collectors.items() if c.data["gateway"] == account.subject)
        assert account.collectors == tuple(own)
        expected = []
        for key in own:
            rec = collectors[key]
            machine = plant.get("machine", rec.data["machine"])
            expected += [
                f"ridgeway/{machine.data['zone']}/{machine.key}/{s['data_class']}/{s['name']}"
                for s in rec.data["signals"]
            ]
        assert account.read == ()
        assert account.write == tuple(expected)


def test_a_gateway_with_two_collectors_writes_both_collectors_topics(plant):
    access = broker_access.build(plant, "ridgeway")
    account = access.account("gateway.gw-rw-01")
    assert account.collectors == ("col-rw-cnc-01", "col-rw-cnc-02")
    cnc1 = [t for t in account.write if "/rw-cnc-01/" in t]
    cnc2 = [t for t in account.write if "/rw-cnc-02/" in t]
    assert cnc1 and cnc2 and len(cnc1) + len(cnc2) == len(account.write)
    assert cnc2 == [
        "ridgeway/cell-machining/rw-cnc-02/machine-status/status",
        "ridgeway/cell-machining/rw-cnc-02/production-counts/part-count",
    ]
    # nothing of another gateway's collectors
    assert not any("rw-press" in t for t in account.write)
    with pytest.raises(KeyError):
        access.account("collector.col-rw-cnc-01")  # no per-collector account any more


@pytest.mark.parametrize(
    ("gateway", "account"), [("gw-rw-01", "gateway.gw-rw-01"), ("x", "gateway.x")]
)
def test_the_account_name_is_the_gateways(gateway, account):
    assert broker_access.gateway_account(gateway) == account
    assert broker_access.ACCOUNT.fullmatch(account)


@pytest.mark.parametrize("bad", ["gw rw", "GW", "gw/1", "gw.1", ""])
def test_a_gateway_id_that_is_no_id_gives_no_account(bad):
    with pytest.raises(tokens.UnsafeToken):
        broker_access.gateway_account(bad)


@pytest.mark.parametrize(
    ("topic", "command"),
    [
        ("spBv1.0/ridgeway/NCMD/gw-rw-02", True),
        ("spBv1.0/ridgeway/DCMD/gw-rw-02/rw-press-01.machine-status", True),
        ("spBv1.0/ridgeway/+/gw-rw-02", True),
        ("spBv1.0/+/#", True),
        ("+/ridgeway/NCMD/gw-rw-02", True),
        ("#", True),
        ("spBv1.0/ridgeway/NBIRTH/gw-rw-02", False),
        ("spBv1.0/ridgeway/DDATA/gw-rw-02/rw-press-01.machine-status", False),
        ("ridgeway/cell-molding/rw-press-01/NCMD/status", False),
    ],
)
def test_a_sparkplug_command_is_recognised(topic, command):
    assert broker_access.is_command(topic) is command


def test_a_publish_prefix_replaces_site_zone_and_machine(load_plant):
    inv = load_plant(
        (
            COLLECTORS,
            "  - id: col-rw-cnc-02\n",
            "  - id: col-rw-cnc-02\n    publish_prefix: plant/line-1/cnc-2\n",
        )
    )
    assert broker_access.build(inv, "ridgeway").account("gateway.gw-rw-01").write[-2:] == (
        "plant/line-1/cnc-2/machine-status/status",
        "plant/line-1/cnc-2/production-counts/part-count",
    )


def test_a_sparkplug_collector_writes_its_gateways_node_and_its_devices(load_plant, sample_texts):
    inv = load_plant(_sparkplug_gw3(sample_texts))
    account = broker_access.build(inv, "ridgeway").account("gateway.gw-rw-03")
    node = "spBv1.0/ridgeway/{}/gw-rw-03"
    assert account.write == (
        node.format("NBIRTH"),
        node.format("NDEATH"),
        *(
            f"{node.format(kind)}/rw-comp-01.{cls}"
            for cls in ("energy", "machine-status")
            for kind in ("DBIRTH", "DDATA", "DDEATH")
        ),
    )
    assert account.read == (node.format("NCMD"),)


@pytest.mark.parametrize(
    ("role", "devices"),
    [
        ("maintenance-technician", ("rw-comp-01.energy", "rw-comp-01.machine-status")),
        ("network-admin", ("rw-comp-01.machine-status",)),  # machine-status only: no energy
        ("quality-engineer", ()),  # views no class the compressor publishes
    ],
)
def test_a_role_reads_the_sparkplug_devices_of_its_classes_only(
    load_plant, sample_texts, role, devices
):
    inv = load_plant(_sparkplug_gw3(sample_texts))
    read = broker_access.build(inv, "ridgeway").account(f"role.{role}").read
    sparkplug = [t for t in read if t.startswith("spBv1.0/")]
    device_topics = [t for t in sparkplug if t.count("/") == 4]
    assert device_topics == [f"spBv1.0/ridgeway/+/gw-rw-03/{d}" for d in devices]
    node_topics = {t for t in sparkplug if t.count("/") == 3}
    expected = {"spBv1.0/ridgeway/NBIRTH/gw-rw-03", "spBv1.0/ridgeway/NDEATH/gw-rw-03"}
    assert node_topics == (expected if devices else set())
    assert not any("NCMD" in t or "#" in t for t in read)


def test_the_other_gateways_stay_json(load_plant, sample_texts):
    inv = load_plant(_sparkplug_gw3(sample_texts))
    account = broker_access.build(inv, "ridgeway").account("gateway.gw-rw-02")
    assert all(
        t.startswith(("ridgeway/cell-molding/rw-press-01/", "ridgeway/cell-molding/rw-press-02/"))
        for t in account.write
    )


def test_accounts_and_listener_of_the_sites_broker(plant):
    access = broker_access.build(plant, "ridgeway")
    assert (access.site, access.broker_id, access.zone) == ("ridgeway", "rw-broker", "dmz")
    [listener] = access.listeners
    assert (listener.address, listener.port, listener.tls, listener.require_certificate) == (
        "10.20.35.10",
        8883,
        True,
        True,
    )
    names = [a.username for a in access.accounts]
    assert len(names) == len(set(names))
    assert all(n.startswith(("gateway.", "role.")) for n in names)


@pytest.mark.parametrize("site", ["lakeside", "nowhere"])
def test_a_site_without_a_broker_has_no_access(plant, site, monkeypatch):
    if site in plant.of("site"):  # the sample's lakeside has a broker: take it away
        monkeypatch.setitem(plant.of("site")[site].data, "services", {})
    with pytest.raises(KeyError):
        broker_access.build(plant, site)
