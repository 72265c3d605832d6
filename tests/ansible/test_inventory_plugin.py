"""The Ansible inventory plugin: gateways, groups and host variables from the validated inventory
(through plantctl's loader), an invalid inventory refused with file:line, inventory text never
templated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible(tool: str, *args: str, inventory: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_INVENTORY_PLUGINS": str(ROOT / "plugins/inventory"),
        "ANSIBLE_LOCAL_TEMP": str(inventory.parent / ".ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        [str(BIN / tool), "-i", str(inventory / "plantctl.ansible.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def plain(value):
    """ansible-inventory shows values marked unsafe (never templated) as {"__ansible_unsafe": v}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return plain(value["__ansible_unsafe"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def listing(inventory: Path) -> dict:
    proc = ansible("ansible-inventory", "--list", inventory=inventory)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_inventory_value_is_marked_unsafe(sample):
    hv = listing(sample)["_meta"]["hostvars"]["gw-rw-01"]
    assert hv["ansible_host"] == {"__ansible_unsafe": "10.20.20.21"}


def test_groups_per_site_zone_and_role(sample):
    data = listing(sample)
    gateways = {"gw-rw-01", "gw-rw-02", "gw-rw-03"}
    assert set(data["gateways"]["hosts"]) == gateways
    assert set(data["site_ridgeway"]["hosts"]) == gateways
    assert set(data["zone_ridgeway_supervisory"]["hosts"]) == gateways
    assert set(data["collector_hosts"]["hosts"]) == gateways
    assert "site_lakeside" not in data  # no gateways there yet


def test_host_variables_come_from_the_inventory(sample):
    hv = plain(listing(sample)["_meta"]["hostvars"]["gw-rw-01"])
    assert hv["ansible_host"] == "10.20.20.21"
    assert hv["ansible_ssh_common_args"] == "-o ProxyJump=10.20.36.10:22"
    assert hv["plantctl_zone_network"] == "10.20.20.0/24"
    assert hv["plantctl_router"] == "10.20.20.1"
    assert hv["plantctl_bastion"] == {
        "id": "rw-bastion",
        "address": "10.20.36.10",
        "port": 22,
        "zone": "remote-access",
    }
    assert hv["plantctl_broker"]["address"] == "10.20.35.10"
    assert hv["plantctl_broker"]["port"] == 8883
    assert hv["plantctl_maintenance_window"] == {
        "id": "wed-night",
        "days": ["wed"],
        "start": "22:00",
        "hours": 3,
        "timezone": "America/New_York",
    }
    assert [a["login"] for a in hv["plantctl_admins"]] == ["abello", "dokafor", "kito"]
    assert hv["plantctl_collectors"] == ["col-rw-cnc-01", "col-rw-cnc-02"]
    assert hv["plantctl_plc_endpoints"] == [
        {"machine": "rw-cnc-01", "protocol": "opcua", "address": "10.20.11.21", "port": 4840},
        {"machine": "rw-cnc-02", "protocol": "opcua", "address": "10.20.11.22", "port": 4840},
    ]
    cfg = hv["plantctl_collector_config"]
    assert cfg["gateway"] == "gw-rw-01"
    assert cfg["sources"][0]["topic_prefix"] == "ridgeway/cell-machining/rw-cnc-01"


def test_a_change_in_the_inventory_shows_up_without_generating_anything(sample):
    path = sample / "sites/ridgeway/gateways.yaml"
    path.write_text(path.read_text().replace("address: 10.20.20.23", "address: 10.20.20.33"))
    hostvars = plain(listing(sample)["_meta"]["hostvars"])
    assert hostvars["gw-rw-03"]["ansible_host"] == "10.20.20.33"


def test_an_invalid_inventory_fails_with_file_and_line(sample):
    path = sample / "sites/ridgeway/gateways.yaml"
    path.write_text(path.read_text().replace("address: 10.20.20.23", "address: 10.20.99.23"))
    proc = ansible("ansible-inventory", "--list", inventory=sample)
    assert proc.returncode != 0
    assert "gateways.yaml:5" in proc.stderr
    assert "outside its zone" in proc.stderr


def test_a_collector_asking_for_a_write_fails_the_inventory(sample):
    path = sample / "sites/ridgeway/collectors.yaml"
    path.write_text(
        path.read_text().replace(
            "modbus: {function: 3, address: 0}", "modbus: {function: 16, address: 0}", 1
        )
    )
    proc = ansible("ansible-inventory", "--list", inventory=sample)
    assert proc.returncode != 0
    assert "function code 16 is not a read" in proc.stderr


def test_inventory_text_is_never_templated(sample, tmp_path):
    marker = tmp_path / "templated"
    people = sample / "org/people.yaml"
    people.write_text(
        people.read_text().replace(
            "name: Dana Okafor",
            f"name: \"Dana {{{{ lookup('ansible.builtin.pipe', 'touch {marker}') }}}}\"",
        )
    )
    proc = ansible(
        "ansible",
        "gw-rw-01",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "var=plantctl_admins[1].name",
        inventory=sample,
    )
    assert proc.returncode == 0, proc.stderr
    assert "lookup('ansible.builtin.pipe'" in proc.stdout
    assert not marker.exists()
