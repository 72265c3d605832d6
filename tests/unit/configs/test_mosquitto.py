"""Unit tests of plantctl.configs.mosquitto (render_acl, render_conf): the broker's ACL gives a
role only the topics of the data classes it views and a gateway only its collectors'; the
configuration has TLS listeners with client certificates; unsafe values are refused."""

from __future__ import annotations

import dataclasses

import pytest

from plantctl.configs import mosquitto
from plantctl.model import tokens
from plantctl.plant import broker_access
from plantctl.plant.broker_access import Account, Listener

NEW_CLASS = """\
  - id: alarm-history
    name: Alarm history
    owner: maint-ridgeway
    viewers: [security-analyst]
    editors: []
    exporters: [security-analyst]
    retention: {days: 365, min_days: 90, max_days: 730}
    official_reports: false
    correction_owner: maint-ridgeway
    dashboard_change_approver: maint-ridgeway
"""


@pytest.fixture(scope="module")
def access(plant):
    return broker_access.build(plant, "ridgeway")


def _acl(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """user -> (topics read, topics written), as the ACL file says; each user once."""
    users: dict[str, tuple[list[str], list[str]]] = {}
    current = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "user":
            assert rest not in users, f"user {rest} twice"
            current = users[rest] = ([], [])
        else:
            access, topic = rest.split(" ")
            assert (word, current is not None) == ("topic", True), line
            current[{"read": 0, "write": 1}[access]].append(topic)
    return users


def _viewers(inv) -> dict[str, set[str]]:
    """role -> the data classes listing it as a viewer, read from the records."""
    out: dict[str, set[str]] = {}
    for cls, rec in inv.of("data_class").items():
        for role in rec.data["viewers"]:
            out.setdefault(role, set()).add(cls)
    return out


def test_the_acl_is_the_accounts_and_nothing_else(access):
    users = _acl(mosquitto.render_acl(access))
    assert users == {a.username: (list(a.read), list(a.write)) for a in access.accounts}


def test_a_role_reads_its_classes_topics_only_and_writes_nothing(plant, access):
    viewers = _viewers(plant)
    roles = {u: t for u, t in _acl(mosquitto.render_acl(access)).items() if u.startswith("role.")}
    assert set(roles) == {f"role.{r}" for r in viewers}
    for user, (read, write) in roles.items():
        assert write == []
        assert read == [f"ridgeway/+/+/{c}/+" for c in sorted(viewers[user.removeprefix("role.")])]


def test_a_gateway_writes_its_collectors_machines_topics_and_reads_nothing(access):
    users = _acl(mosquitto.render_acl(access))
    read, write = users["gateway.gw-rw-02"]  # col-rw-press-01 and col-rw-press-02
    assert read == []
    assert write[-2:] == [
        "ridgeway/cell-molding/rw-press-02/machine-status/status",
        "ridgeway/cell-molding/rw-press-02/production-counts/shot-count",
    ]
    assert {t.split("/")[2] for t in write} == {"rw-press-01", "rw-press-02"}
    assert not [u for u in users if not u.startswith(("gateway.", "role."))]


def test_a_new_class_is_readable_by_its_viewers_only(load_plant):
    inv = load_plant(("data_classes.yaml", None, NEW_CLASS))
    users = _acl(mosquitto.render_acl(broker_access.build(inv, "ridgeway")))
    assert users["role.security-analyst"] == (["ridgeway/+/+/alarm-history/+"], [])
    others = [u for u, (read, _) in users.items() if u != "role.security-analyst"]
    assert not [u for u in others if any("alarm-history" in t for t in users[u][0])]


def test_nothing_is_open_to_everyone(access):
    text = mosquitto.render_acl(access)
    assert "#" not in text.replace("# ACL of broker", "")
    assert "readwrite" not in text
    assert "pattern" not in text
    assert "\ntopic " not in text.split("\nuser ", 1)[0]  # no line before the first user


@pytest.mark.parametrize(
    "account",
    [
        Account("role.Admin", "role", "Admin"),
        Account("admin", "role", "admin"),
        Account("role.x\nuser role.y", "role", "x"),
        Account("gateway.a b", "gateway", "a b"),
        Account("collector.c", "collector", "c", write=("ridgeway/z/m/x/y",)),
        Account("gateway.g", "gateway", "g", write=("spBv1.0/ridgeway/NCMD/gw-rw-02",)),
        Account(
            "gateway.g", "gateway", "g", write=("spBv1.0/ridgeway/DCMD/gw-rw-02/rw-press-01.x",)
        ),
        Account("role.host", "role", "host", write=("spBv1.0/ridgeway/NCMD/gw-rw-02",)),
        Account("role.viewer", "role", "viewer", read=("ridgeway/#",)),
        Account("role.viewer", "role", "viewer", read=("ridgeway/+/+/x/+\ntopic readwrite x",)),
        Account("role.viewer", "role", "viewer", read=("ridgeway//x",)),
        Account("gateway.c", "gateway", "c", write=("ridgeway/+/m/x/y",)),
        Account("gateway.c", "gateway", "c", write=("ridgeway/z/m/x/y z",)),
    ],
    ids=[
        "upper-case",
        "no-kind",
        "newline-in-name",
        "space-in-name",
        "per-collector-account",
        "gateway-ncmd",
        "gateway-dcmd",
        "role-ncmd",
        "hash-wildcard",
        "newline-in-topic",
        "empty-level",
        "plus-in-write",
        "space-in-topic",
    ],
)
def test_an_unsafe_account_or_topic_is_refused(access, account):
    bad = dataclasses.replace(access, accounts=(*access.accounts, account))
    with pytest.raises(tokens.UnsafeToken):
        mosquitto.render_acl(bad)


def test_the_configuration_reads_its_files_from_one_folder(access):
    conf = mosquitto.render_conf(access, "/srv/broker/")
    assert "acl_file /srv/broker/acl" in conf
    for name in ("ca.crt", "server.crt", "server.key"):
        assert f" /srv/broker/{name}\n" in conf
    assert "/etc/mosquitto" not in conf


@pytest.mark.parametrize(
    "folder",
    ["etc/mosquitto", "/etc/mos quitto", "/etc/../root", "/etc/mosquitto/..", "/etc//x", '/e"x'],
)
def test_a_folder_that_is_not_a_plain_absolute_path_is_refused(access, folder):
    with pytest.raises(tokens.UnsafeToken, match="plain absolute path"):
        mosquitto.render_conf(access, folder)


def test_each_listener_has_tls_as_declared(access):
    listeners = (
        Listener("10.20.35.10", 8883),
        Listener("10.20.35.11", 8884, tls=True, require_certificate=False),
        Listener("127.0.0.1", 1883, tls=False),
    )
    conf = mosquitto.render_conf(dataclasses.replace(access, listeners=listeners))
    blocks = conf.split("\nlistener ")[1:]
    assert [b.splitlines()[0] for b in blocks] == [
        "8883 10.20.35.10",
        "8884 10.20.35.11",
        "1883 127.0.0.1",
    ]
    assert "require_certificate true" in blocks[0]
    assert "cafile" in blocks[1]
    assert "require_certificate" not in blocks[1]
    assert "cafile" not in blocks[2]
    assert conf.count("allow_anonymous false") == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"listeners": (Listener("10.20.35.10\nlistener 1883", 8883),)},
        {"listeners": (Listener("10.20.35.10", 0),)},
        {"broker_id": 'rw-broker"\nallow_anonymous true'},
        {"site": "Ridgeway"},
    ],
    ids=["address", "port", "broker-id", "site"],
)
def test_an_unsafe_configuration_value_is_refused(access, changes):
    with pytest.raises(tokens.UnsafeToken):
        mosquitto.render_conf(dataclasses.replace(access, **changes))
