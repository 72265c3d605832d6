"""The plant on one machine, for the role test: built once per test module from the inventory.

Two gateways (gw-rw-01 reads the CNC machines over OPC UA and a Logix welding cell over
EtherNet/IP, gw-rw-02 the presses over Modbus and an S7 press; the S7 and Logix machines are
added to the lab's inventory copy, see lab_plant.add_s7_and_logix),
the site bastion and the site broker are booted Debian machines, each in its own namespace in
its inventory zone; the PLCs are recording simulators in their own namespaces (python-snap7's
own server for S7, cpppo's EtherNet/IP server for Logix); an IT workstation
namespace in the enterprise zone is the controller's only way in (ssh ProxyCommand through it to
the bastion, ProxyJump from there, as in the plant) and hosts the independent MQTT observer; the
HMI server's namespace is "another host in the gateways' zone". The broker enforces the ACL
plantctl renders for the inventory (configs/mosquitto.py): each gateway connects as its one
account `gateway.<id>` (the union of its collectors' topics); the observer's read-everything
account is the one test-only line appended to it.

Test-only secrets (SSH keys, a CA) are generated in the session's temporary folder; the admins'
public keys are added to a private copy of the inventory, never to the repository.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from lab_plant import (
    GATEWAYS,
    OPERATOR,
    ROOT,
    SITE,
    Plant,
    inventory_with_keys,
    make_keys,
    write_ssh_config,
)

from plantctl.collector import config
from plantctl.configs import mosquitto as mosquitto_render
from plantctl.lab import File, Lab, Namespace, PlcSimulator, cleanup
from plantctl.lab.mosquitto import tls_config
from plantctl.lab.observer import Subscriber
from plantctl.lab.pki import Authority
from plantctl.model import addressing
from plantctl.model.loader import load
from plantctl.plant import broker_access, collector_config


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    """Module-scoped: the plant goes away as soon as its tests are done (later lab tests get
    the machine to themselves)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the lab tests need root; CI runs them as root")
        pytest.skip("the lab tests need root (namespaces, nspawn); CI runs them as root")
    for prefix, items in cleanup.remove_stale().items():
        print(f"removed leftovers of lab run {prefix}: {len(items)} item(s)")
    work = tmp_path_factory.mktemp("plant")
    # The session's own wheelhouse of this source tree (offline once make setup has cached the
    # dependency wheels).
    subprocess.run([str(ROOT / "tools/build-wheelhouse.sh"), str(work / "wheelhouse")], check=True)
    keys = make_keys(work)
    inventory_dir = inventory_with_keys(work, keys)
    inv = load(inventory_dir)
    site = inv.get("site", SITE).data
    broker_svc, bastion_svc = site["services"]["broker"], site["services"]["bastion"]

    ca = Authority(work / "ca")
    broker_cred = ca.issue(broker_svc["id"], server=True, ips=(broker_svc["address"],))
    for gw in GATEWAYS:
        ca.issue(broker_access.gateway_account(gw))  # CN = the gateway's broker account
    observer_cred = ca.issue("lab-observer")
    acl = mosquitto_render.render_acl(broker_access.build(inv, SITE))
    acl += f"\n# test only: the independent observer\nuser lab-observer\ntopic read {SITE}/#\n"

    with Lab() as lab:
        net = lab.site_network(inv, SITE)
        ns: dict[str, Namespace] = {}
        ctl_address = addressing.allocate(inv, SITE, "enterprise")[0]
        ns["ctl"] = net.host("it-ws", "enterprise", ctl_address)
        ns["rw-hmi-01"] = net.host(
            "rw-hmi-01",
            "supervisory",
            inv.get("machine", "rw-hmi-01").data["controller"]["address"],
        )
        ns["rw-bastion"] = net.host(bastion_svc["id"], bastion_svc["zone"], bastion_svc["address"])
        ns["rw-broker"] = net.host(broker_svc["id"], broker_svc["zone"], broker_svc["address"])
        for gw in GATEWAYS:
            rec = inv.get("gateway", gw)
            ns[gw] = net.host(gw, rec.data["zone"], rec.data["address"])

        # PLC simulators for every machine the two gateways read.
        plcs: dict[str, PlcSimulator] = {}
        for gw in GATEWAYS:
            for src in config.parse(collector_config.render(inv, gw)).sources:
                machine = inv.get("machine", src.machine)
                ns[src.machine] = net.host(src.machine, machine.data["zone"], src.address)
                plcs[src.machine] = PlcSimulator(src, lab.path("plc"), netns=ns[src.machine])
        for sim in plcs.values():
            sim.launch()

        provision = keys["provision"].with_suffix(".pub").read_text()
        machines = {
            "rw-bastion": lab.machine(
                "rw-bastion",
                ns["rw-bastion"],
                services=["ssh.service"],
                files={
                    "/root/.ssh/authorized_keys": File(
                        keys["jump"].with_suffix(".pub").read_text(), 0o600
                    )
                },
            ),
            "rw-broker": lab.machine(
                "rw-broker",
                ns["rw-broker"],
                services=["mosquitto.service"],
                files={
                    "/etc/mosquitto/certs/ca.pem": File(ca.cert.read_text(), 0o644),
                    "/etc/mosquitto/certs/server.pem": File(broker_cred.cert.read_text(), 0o644),
                    "/etc/mosquitto/certs/server.key": File(
                        broker_cred.key.read_text(), 0o640, "mosquitto"
                    ),
                    "/etc/mosquitto/plantctl-acl": File(acl, 0o640, "mosquitto"),
                    "/etc/mosquitto/conf.d/plantctl-lab.conf": File(
                        tls_config(
                            port=broker_svc["port"],
                            bind=None,
                            ca=Path("/etc/mosquitto/certs/ca.pem"),
                            cert=Path("/etc/mosquitto/certs/server.pem"),
                            key=Path("/etc/mosquitto/certs/server.key"),
                        )
                        + "acl_file /etc/mosquitto/plantctl-acl\n"
                    ),
                },
            ),
        }
        for gw in GATEWAYS:
            machines[gw] = lab.machine(
                gw,
                ns[gw],
                services=["ssh.service"],
                capabilities=["CAP_NET_ADMIN"],
                files={"/root/.ssh/authorized_keys": File(provision, 0o600)},
            )
        lab.boot(*machines.values())
        boot_seconds = {name: round(m.boot_seconds, 1) for name, m in machines.items()}
        for sim in plcs.values():
            sim.wait_ready()

        observer = Subscriber(
            lab.path("observer"),
            host=broker_svc["address"],
            port=broker_svc["port"],
            ca=ca.cert,
            cert=observer_cred.cert,
            key=observer_cred.key,
            client_id="lab-observer",
            topic=f"{SITE}/#",
            netns=ns["ctl"],
        )
        observer.start()
        lab.defer(observer.stop)
        pinned = {"rw-bastion": bastion_svc["address"]}
        pinned |= {gw: inv.get("gateway", gw).data["address"] for gw in GATEWAYS}
        host_keys = {
            address: machines[name].run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout
            for name, address in pinned.items()
        }
        ssh_config = write_ssh_config(
            work, keys, ns["ctl"], bastion_svc["address"], "10.20.20.*", host_keys
        )
        yield Plant(
            lab,
            work,
            inv,
            inventory_dir,
            ssh_config,
            keys,
            ca,
            machines,
            ns,
            plcs,
            observer,
            boot_seconds,
        )
        # Close the SSH masters before the machines go away.
        for sock in (work / "cp").glob("*"):
            subprocess.run(
                ["ssh", "-F", str(ssh_config), "-o", f"ControlPath={sock}", "-O", "exit", "lab"],
                capture_output=True,
                check=False,
                timeout=10,
            )


@pytest.fixture(scope="module")
def converged(plant: Plant) -> Plant:
    """site.yml twice: first as root with the provisioning key (a new gateway), then as a
    network admin from the role bindings (sudo), which must change nothing."""
    plant.converges.append(plant.ansible("site.yml", "root", log_name="converge-1"))
    plant.converges.append(plant.ansible("site.yml", OPERATOR, log_name="converge-2"))
    return plant
