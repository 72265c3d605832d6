"""The JSON ACL as plantctl renders it (broker_access.build, configs.mosquitto.render_acl) for the
sample plant, enforced by a running Mosquitto with TLS client certificates (the certificate's
common name is the account): a gateway runs ONE collector process with ONE certificate for all
its collectors, so its account must admit every collector's topics.

gw-rw-02 reads two presses (col-rw-press-01 and col-rw-press-02, simulators on loopback): both
collectors' topics are delivered; from the same account, a topic of another gateway's collector
and a topic of no collector are refused (MQTT 5 "not authorized", never delivered). A per-collector
certificate is no account at all. One test-only account is appended to the rendered file: a
witness that may read every topic, to see what the broker accepted."""

from __future__ import annotations

import copy

import pytest
from test_collector_sparkplug_acl import NOT_AUTHORIZED, Client, V5Publisher, _wait

from plantctl.collector import config
from plantctl.configs import mosquitto as mosquitto_render
from plantctl.lab.mosquitto import LocalBroker
from plantctl.plant import broker_access, collector_config

GATEWAY = "gateway.gw-rw-02"
WITNESS = "role.witness-test"


@pytest.fixture
def rendered_broker(tmp_path, authority, inventory):
    access = broker_access.build(inventory, "ridgeway")
    acl = tmp_path / "acl"
    acl.write_text(
        mosquitto_render.render_acl(access) + f"\n# test only\nuser {WITNESS}\ntopic read #\n"
    )
    server = authority.issue("broker-acl", server=True, ips=("127.0.0.1",))
    broker = LocalBroker(
        tmp_path / "acl-broker", ca=authority.cert, cert=server.cert, key=server.key
    )
    broker.conf.write_text(broker.conf.read_text() + f"acl_file {acl}\n")
    with broker:
        yield broker, access


def test_a_gateway_with_two_collectors_publishes_both_through_the_rendered_acl(
    rendered_broker, loopback_config, plcs, collector, authority
):
    broker, access = rendered_broker
    doc = loopback_config("gw-rw-02", interval=0.5)
    assert [s["id"] for s in doc["sources"]] == ["col-rw-press-01", "col-rw-press-02"]
    assert doc["broker"]["account"] == GATEWAY
    doc["broker"]["port"] = broker.port
    cred = authority.issue(GATEWAY)  # the certificate the role installs: CN = the account
    doc["broker"]["tls"] |= {"cert_file": str(cred.cert), "key_file": str(cred.key)}
    published = {
        f"{s['topic_prefix']}/{sig['data_class']}/{sig['name']}": s["id"]
        for s in doc["sources"]
        for sig in s["signals"]
    }
    assert set(published.values()) == {"col-rw-press-01", "col-rw-press-02"}
    assert set(published) == set(access.account(GATEWAY).write)
    sims = plcs(doc)
    witness = Client(broker, authority, WITNESS, "witness", "#")
    rogue = None
    try:
        proc = collector(doc)
        _wait(lambda: set(published) <= witness.topics(), 60, "every topic of both collectors")
        assert witness.topics() <= set(published), "the gateway published beyond its account"

        # The same account, another connection: what is not its collectors' is refused.
        rogue = V5Publisher(broker, authority, GATEWAY, "rogue")
        other_gateway = access.account("gateway.gw-rw-01").write[0]  # col-rw-cnc-01's
        refused = [
            other_gateway,
            "ridgeway/cell-molding/rw-press-03/machine-status/status",  # no collector's
            "ridgeway/cell-molding/rw-press-01/machine-status/other",  # no signal's
            "ridgeway/_health/gw-rw-02",  # the sample has no gateway-health class
        ]
        for topic in refused:
            assert rogue.publish(topic, b"rogue") == NOT_AUTHORIZED, topic
        # a certificate per collector (the defect this guards against) is no account: it may
        # publish nothing, not even its own collector's topic
        per_collector = V5Publisher(broker, authority, "collector.col-rw-press-02", "old")
        own_topic = next(t for t, c in published.items() if c == "col-rw-press-02")
        assert per_collector.publish(own_topic, b"old") == NOT_AUTHORIZED
        per_collector.close()
        marker = next(iter(published))
        assert rogue.publish(marker, b"marker") == 0
        _wait(lambda: witness.got(marker, b"marker"), why="the allowed marker")
        assert not set(refused) & witness.topics(), "a refused publish was delivered"
        assert not witness.got(own_topic, b"old")
        assert proc.proc is not None and proc.proc.poll() is None, proc.log()  # still running
        for sim in sims.values():
            assert sim.writes() == []
    finally:
        witness.close()
        if rogue is not None:
            rogue.close()


@pytest.mark.parametrize("account", ["collector.col-rw-press-01", "gateway.gw-rw-01", "gw-rw-02"])
def test_the_collector_refuses_an_account_that_is_not_its_gateways(inventory, account):
    doc = copy.deepcopy(collector_config.render(inventory, "gw-rw-02"))
    doc["broker"]["account"] = account
    with pytest.raises(config.ConfigError, match=r"not this gateway.s account gateway\.gw-rw-02"):
        config.parse(doc)
