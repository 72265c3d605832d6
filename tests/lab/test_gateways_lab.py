"""The gateway roles on booted lab machines: converge through the bastion, converge again
(nothing changes), then verify independently (pytest-testinfra over SSH, probes from other
namespaces, the broker's deliveries, the PLCs' request records)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from lab_plant import GATEWAYS, LOGIX_MACHINE, OPERATOR, S7_MACHINE, probe

from plantctl.lab.plc import CIP_READ_SERVICES, S7_EVENT_DATA_READ, Model
from plantctl.plant import collector_config

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_machines_boot(plant):
    print(f"boot seconds: {plant.boot_seconds}")
    assert set(plant.boot_seconds) == {"rw-bastion", "rw-broker", *GATEWAYS}
    assert all(s < 60 for s in plant.boot_seconds.values())


def test_converge_twice_and_the_second_changes_nothing(converged):
    first, second = converged.converges
    print(f"first converge {first.seconds:.1f} s, second {second.seconds:.1f} s")
    for gw in GATEWAYS:
        assert first.recap[gw]["failed"] == 0 and first.recap[gw]["unreachable"] == 0
        assert first.recap[gw]["changed"] > 0
        assert second.recap[gw]["changed"] == 0, f"{gw}: {second.recap[gw]} ({second.log})"
        assert second.recap[gw]["failed"] == 0 and second.recap[gw]["unreachable"] == 0
    # Issue 5's target is 30 s per gateway (both run in parallel here); the bound below only
    # catches a regression on a loaded machine, the measured figure is printed above.
    assert second.seconds <= 120, "second converge far slower than expected"


@pytest.mark.parametrize("gw", GATEWAYS)
def test_services_run_and_start_at_boot(converged, gw):
    host = converged.host(gw)
    for unit in ("ssh.service", "nftables.service", "plantctl-collector.service"):
        svc = host.service(unit)
        assert svc.is_enabled, unit
        assert svc.is_running or unit == "nftables.service", unit
    assert host.service("systemd-timesyncd.service").is_enabled
    timesync = host.file("/etc/systemd/timesyncd.conf")
    assert timesync.contains("^NTP=10.20.20.1$")
    assert timesync.contains("^FallbackNTP=$")
    journald = host.file("/etc/systemd/journald.conf")
    assert journald.contains("^SystemMaxUse=500M$")
    assert journald.contains("^RateLimitBurst=10000$")


@pytest.mark.parametrize("gw", GATEWAYS)
def test_updates_only_in_the_maintenance_window(converged, gw):
    host = converged.host(gw)
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        show = host.run(
            f"systemctl show -p TimersCalendar -p Persistent -p RandomizedDelayUSec {timer}"
        ).stdout
        assert "OnCalendar=Wed *-*-* 22:00:00 America/New_York" in show, show
        assert show.count("OnCalendar=") == 1, f"the default schedule is still there: {show}"
        assert "Persistent=no" in show
        assert "RandomizedDelayUSec=0" in show
        assert host.service(timer).is_enabled
    assert host.file("/etc/apt/apt.conf.d/20auto-upgrades").contains(
        'APT::Periodic::Unattended-Upgrade "1";'
    )


@pytest.mark.parametrize("gw", GATEWAYS)
def test_admin_accounts_follow_the_role_bindings(converged, gw):
    host = converged.host(gw)
    group = host.group("plantctl-admins")
    assert group.exists
    for login in ("dokafor", "kito", "abello"):
        user = host.user(login)
        assert user.exists and "plantctl-admins" in user.groups
        assert user.password == "*"  # no password: key only
        keys = host.file(f"/etc/ssh/authorized_keys/{login}")
        assert keys.user == "root" and keys.mode == 0o644
        assert keys.contains('^from="10.20.36.10",restrict,pty ssh-ed25519 ')
    assert not host.user("mlopez").exists  # a shift supervisor has no admin role
    assert host.file("/etc/sudoers.d/plantctl-admins").mode == 0o440


@pytest.mark.parametrize("gw", GATEWAYS)
def test_sshd_is_key_only_and_admins_only(converged, gw):
    sshd = converged.host(gw).run("sshd -T").stdout
    for line in (
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "permitrootlogin no",
        "allowgroups plantctl-admins",
        "allowgroups plantctl-grants",  # sshd -T prints one line per group
        "allowusers *@10.20.36.10",
        "authorizedkeysfile /etc/ssh/authorized_keys/%u",
        "allowtcpforwarding no",
    ):
        assert line in sshd.splitlines(), line


def test_root_cannot_log_in_any_more(converged):
    proc = subprocess.run(
        [
            "ssh",
            "-F",
            str(converged.ssh_config),
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-l",
            "root",
            converged.address("gw-rw-01"),
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 255
    assert "Permission denied" in proc.stderr


def test_ssh_from_anywhere_but_the_bastion_is_refused(converged):
    gw = converged.address("gw-rw-01")
    # The bastion reaches it (that is how every test here connects).
    assert converged.host("gw-rw-01").run("true").rc == 0
    # A workstation in the enterprise zone, a host in the gateway's own zone, the broker: the
    # gateway drops their SSH connections (a timeout, not even a refusal).
    for name in ("ctl", "rw-hmi-01"):
        assert probe(converged.namespaces[name], gw, 22) == "timeout", name
    assert probe(converged.machines["rw-broker"], gw, 22) == "timeout"
    # With a valid admin key, directly from the workstation: no connection.
    key = converged.keys[OPERATOR]
    proc = converged.namespaces["ctl"].run(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            f"{OPERATOR}@{gw}",
            "true",
        ],
        check=False,
        timeout=30,
    )
    assert proc.returncode == 255
    assert "timed out" in proc.stderr


def test_a_blocked_port_really_times_out(converged):
    gw = converged.address("gw-rw-01")
    hmi = converged.namespaces["rw-hmi-01"]
    # Nothing listens on 8080: without the firewall this would be refused at once.
    started = time.monotonic()
    assert probe(hmi, gw, 8080, timeout=5) == "timeout"
    assert time.monotonic() - started >= 4.5
    # The same probe against a host without a firewall is refused immediately.
    assert probe(hmi, converged.address("rw-press-01"), 8080) == "refused"


def test_outbound_only_to_the_broker_and_its_own_plcs(converged):
    gw1, gw2 = converged.host("gw-rw-01"), converged.host("gw-rw-02")
    press = converged.address("rw-press-01")
    cnc = converged.address("rw-cnc-01")
    broker = converged.address("rw-broker")
    bastion = converged.address("rw-bastion")
    assert probe(gw1, broker, 8883) == "open"
    assert probe(gw1, cnc, 4840) == "open"
    assert probe(gw2, press, 502) == "open"
    # Not its collectors' machines, not the bastion, not the broker's other ports.
    assert probe(gw1, press, 502) != "open"
    assert probe(gw2, cnc, 4840) != "open"
    assert probe(gw1, bastion, 22) != "open"
    assert probe(gw1, broker, 1883) != "open"
    # ...while those ports are open to others: the gateway's firewall is what stops it.
    assert probe(converged.namespaces["ctl"], bastion, 22) == "open"
    ruleset = gw1.run("nft list ruleset").stdout
    assert "policy drop" in ruleset
    assert 'comment "mqtts to broker rw-broker"' in ruleset


@pytest.mark.parametrize("gw", GATEWAYS)
def test_the_collector_configuration_comes_from_the_inventory(converged, gw):
    host = converged.host(gw)
    cfg_file = host.file("/etc/plantctl-collector/config.json")
    assert cfg_file.user == "root" and cfg_file.group == "plantctl-collector"
    assert cfg_file.mode == 0o640
    installed = json.loads(cfg_file.content_string)
    expected = collector_config.render(converged.inv, gw, state_dir="/var/lib/plantctl-collector")
    assert installed == expected
    key = host.file("/etc/plantctl-collector/tls/client.key")
    assert key.mode == 0o640 and key.group == "plantctl-collector"
    check = host.run(
        "/opt/plantctl-collector/current/bin/plantctl-collector --check --config "
        "/etc/plantctl-collector/config.json"
    )
    assert check.rc == 0 and "reads only" in check.stdout


@pytest.mark.parametrize("gw", GATEWAYS)
def test_the_collector_runs_hardened_and_unprivileged(converged, gw):
    host = converged.host(gw)
    props = host.run(
        "systemctl show plantctl-collector.service -p User -p NoNewPrivileges "
        "-p ProtectSystem -p PrivateTmp -p ProtectHome -p CapabilityBoundingSet "
        "-p RestrictAddressFamilies"
    ).stdout
    for line in (
        "User=plantctl-collector",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=",
    ):
        assert line in props.splitlines(), line
    procs = host.process.filter(comm="plantctl-collec")
    assert procs and all(p.user == "plantctl-collector" for p in procs)


def test_plc_values_arrive_at_the_broker_on_the_right_topics(converged):
    expected = {}
    for gw in GATEWAYS:
        doc = collector_config.render(converged.inv, gw)
        for src in doc["sources"]:
            for sig in src["signals"]:
                expected[f"{src['topic_prefix']}/{sig['data_class']}/{sig['name']}"] = (
                    gw,
                    src["machine"],
                    sig["name"],
                )
    # Every signal at least once (the slowest interval in the sample plant is 30 s).
    msgs = converged.observer.wait_for(
        lambda m: expected.keys() <= {t for t, _ in m}, timeout=90, what="a sample of every signal"
    )
    assert {t for t, _ in msgs} <= set(expected), "a topic outside the configuration"
    assert "ridgeway/cell-machining/rw-cnc-01/machine-status/status" in expected
    assert "ridgeway/cell-molding/rw-press-02/production-counts/shot-count" in expected
    for topic, payload in msgs:
        gw, machine, name = expected[topic]
        assert payload["gateway"] == gw
        sim = converged.plcs[machine]
        sig = next(s for s in sim.source.signals if s.name == name)
        kind = Model.of(sig).kind
        if kind == "constant":
            assert payload["value"] == sim.expected(name), topic
        elif kind == "counter":
            assert abs(payload["value"] - sim.expected(name, payload["ts"])) <= 2, topic
        else:
            assert payload["value"] in (1, 2, 3, True), topic


def test_the_plcs_only_ever_saw_reads(converged):
    for machine, sim in converged.plcs.items():
        assert sim.requests(), f"{machine} was never read"
        assert sim.writes() == [], f"{machine} received a write: {sim.writes()[:3]}"


def test_s7_and_logix_machines_are_read_from_third_party_simulators(converged):
    """The lab's S7 press (python-snap7's own server) and Logix welding cell (cpppo's
    EtherNet/IP server), each in its PLC namespace at the machine record's address and port:
    every signal arrives at the broker with the simulator's value, only the gateway that reads a
    machine reaches its port, and the simulators' records show reads and nothing else."""
    readers = {S7_MACHINE: ("gw-rw-02", "s7"), LOGIX_MACHINE: ("gw-rw-01", "ethernet-ip")}
    for machine, (gw, protocol) in readers.items():
        sim = converged.plcs[machine]
        controller = converged.inv.get("machine", machine).data["controller"]
        assert sim.source.protocol == protocol == controller["protocol"]
        assert (sim.bind, sim.port) == (controller["address"], controller["port"])
        assert sim.netns is converged.namespaces[machine]
        src = next(
            s for s in collector_config.render(converged.inv, gw)["sources"]
            if s["machine"] == machine
        )  # fmt: skip
        topics = {
            f"{src['topic_prefix']}/{sig['data_class']}/{sig['name']}": sig["name"]
            for sig in src["signals"]
        }
        msgs = converged.observer.wait_for(
            lambda m, topics=topics: topics.keys() <= {t for t, _ in m},
            timeout=60,
            what=f"every signal of {machine}",
        )
        checked = 0
        for topic, payload in msgs:
            if topic not in topics:
                continue
            name = topics[topic]
            assert payload["gateway"] == gw, topic
            kind = Model.of(next(s for s in sim.source.signals if s.name == name)).kind
            if kind == "constant":
                assert payload["value"] == sim.expected(name), (topic, payload)
            elif kind == "counter":
                assert abs(payload["value"] - sim.expected(name, payload["ts"])) <= 2, topic
            else:
                assert payload["value"] in (1, 2, 3), (topic, payload)
            checked += 1
        print(f"{machine} ({protocol}): {checked} samples checked, {len(sim.requests())} requests")
        assert sim.requests(), f"{machine} was never read"
        assert sim.writes() == [], f"{machine} received a write: {sim.writes()[:3]}"
        other = next(g for g in GATEWAYS if g != gw)
        assert probe(converged.host(gw), controller["address"], controller["port"]) == "open"
        assert probe(converged.host(other), controller["address"], controller["port"]) != "open"
    s7 = converged.plcs[S7_MACHINE].requests()
    # S7 PDUs as snap7's server received them: setup communication, then read var only
    assert {(r["rosctr"], r["function"]) for r in s7 if r["protocol"] == "s7"} == {
        (0x01, 0xF0),
        (0x01, 0x04),
    }
    # snap7's own data events: reads only
    assert {r["code"] for r in s7 if r["protocol"] == "s7-event"} == {S7_EVENT_DATA_READ}
    enip = converged.plcs[LOGIX_MACHINE].requests()
    services = {tuple(s) for r in enip for s in r["services"]}
    assert (0x0A, 0x02) in services, "the tags of a poll group in one Multiple Service Packet"
    assert (0x4C, 0x91) in services
    assert services <= CIP_READ_SERVICES, services - CIP_READ_SERVICES


def test_a_broker_outage_loses_no_sample(converged):
    broker = converged.machines["rw-broker"]
    hosts = {gw: converged.host(gw) for gw in GATEWAYS}

    def status(gw):
        return json.loads(hosts[gw].file("/var/lib/plantctl-collector/status.json").content_string)

    def seqs(gw):
        return {p["seq"] for _, p in converged.observer.messages() if p["gateway"] == gw}

    before = {gw: max(seqs(gw)) for gw in GATEWAYS}
    broker.run(["systemctl", "stop", "mosquitto.service"])
    stopped = time.time()
    time.sleep(12)
    during = {gw: status(gw) for gw in GATEWAYS}
    for gw in GATEWAYS:
        assert not during[gw]["connected"], during[gw]
        assert during[gw]["backlog"] > 0, f"{gw} is not buffering: {during[gw]}"
    broker.run(["systemctl", "start", "mosquitto.service"])
    restarted = time.time()
    time.sleep(2)
    last = {gw: status(gw)["last_seq"] for gw in GATEWAYS}
    for gw in GATEWAYS:
        wanted = set(range(before[gw] + 1, last[gw] + 1))
        deadline = time.monotonic() + 60
        while not wanted <= seqs(gw) and time.monotonic() < deadline:
            time.sleep(0.5)
        missing = wanted - seqs(gw)
        taken_during = [
            p
            for _, p in converged.observer.messages()
            if p["gateway"] == gw and stopped <= p["ts"] <= restarted
        ]
        print(
            f"{gw}: {len(taken_during)} samples taken during the {restarted - stopped:.0f} s "
            f"outage, {len(missing)} lost"
        )
        assert not missing, f"{gw} lost samples {sorted(missing)[:20]}"
        assert len(taken_during) >= 10
        deadline = time.monotonic() + 20
        while not status(gw)["connected"] and time.monotonic() < deadline:
            time.sleep(1)
        journal = hosts[gw].run("journalctl -u plantctl-collector --no-pager -n 30").stdout
        assert status(gw)["connected"], f"{status(gw)}\n{journal}"


def test_a_flushed_firewall_is_restored_by_the_next_converge(converged):
    """Someone flushes gw-rw-01's rule set by hand: the file is untouched, so only the kernel's
    listing can tell. --check reports it without fixing it; the next converge loads it again."""
    gw = converged.address("gw-rw-01")
    hmi = converged.namespaces["rw-hmi-01"]
    converged.host("gw-rw-01").run("nft flush ruleset")
    assert probe(hmi, gw, 8080) == "refused"  # open: nothing filters any more

    dry = converged.ansible("gateways.yml", OPERATOR, "--check", log_name="converge-drift-check")
    assert dry.recap["gw-rw-01"]["changed"] == 1, dry.log
    assert dry.recap["gw-rw-02"]["changed"] == 0, dry.log
    assert probe(hmi, gw, 8080) == "refused", "--check changed the gateway"

    fixed = converged.ansible("gateways.yml", OPERATOR, log_name="converge-drift")
    print(f"converge after drift {fixed.seconds:.1f} s")
    assert fixed.recap["gw-rw-01"]["changed"] == 2, fixed.log  # the comparison and the reload
    assert fixed.recap["gw-rw-02"]["changed"] == 0, fixed.log
    assert probe(hmi, gw, 8080, timeout=5) == "timeout"
