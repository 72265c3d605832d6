"""S7 and Logix collectors in the inventory: the schema can only express reads, bad input is
refused by `plantctl validate` with file and line, the readers' source has no write path, the
controller port comes from the machine's record, and the gateway firewall opens exactly it."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import jinja2
import pytest

from plantctl.collector import config
from plantctl.model.loader import load
from plantctl.plant import collector_config, gateway_vars

ROOT = Path(__file__).resolve().parents[2]
READERS = ["modbus.py", "opcua.py", "s7.py", "logix.py"]

S7_MACHINE = """\
  - id: rw-s7-01
    name: Blow moulder with an S7-1500
    zone: cell-molding
    line: molding
    kind: injection-molder
    criticality: standard
    controller: {protocol: s7, address: 10.20.12.51, port: 102, rack: 0, slot: 1}
  - id: rw-lgx-01
    name: Granulate dryer with a ControlLogix 5580
    zone: cell-molding
    line: molding
    kind: injection-molder
    criticality: standard
    controller: {protocol: ethernet-ip, address: 10.20.12.52, port: 44818}
"""
S7_COLLECTORS = """\
  - id: col-rw-s7-01
    gateway: gw-rw-03
    protocol: s7
    machine: rw-s7-01
    signals:
      - {name: status, data_class: machine-status, interval_s: 1, s7: {area: db, db: 10, offset: 0, type: int}}
      - {name: running, data_class: machine-status, interval_s: 1, s7: {area: inputs, offset: 0, bit: 3, type: bool}}
  - id: col-rw-lgx-01
    gateway: gw-rw-03
    protocol: ethernet-ip
    machine: rw-lgx-01
    signals:
      - {name: status, data_class: machine-status, interval_s: 1, logix: {tag: Dryer.Status, type: DINT}}
      - {name: dew-point, data_class: machine-status, interval_s: 5, logix: {tag: "Program:Dryer.DewPoint", type: REAL}}
"""  # noqa: E501


@pytest.fixture
def s7_sample(sample: Path) -> Path:
    site = sample / "sites/ridgeway"
    (site / "machines.yaml").write_text((site / "machines.yaml").read_text() + S7_MACHINE)
    (site / "collectors.yaml").write_text((site / "collectors.yaml").read_text() + S7_COLLECTORS)
    return sample


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_s7_and_logix_collectors_validate_and_render(s7_sample, plantctl):
    run = plantctl("validate", "--inventory", str(s7_sample))
    assert run.code == 0, run.out + run.err
    doc = collector_config.render(load(s7_sample), "gw-rw-03")
    by_id = {s["id"]: s for s in doc["sources"]}
    s7, lgx = by_id["col-rw-s7-01"], by_id["col-rw-lgx-01"]
    assert (s7["protocol"], s7["port"], s7["rack"], s7["slot"]) == ("s7", 102, 0, 1)
    assert (lgx["protocol"], lgx["port"]) == ("ethernet-ip", 44818)
    assert lgx["signals"][1]["logix"] == {"tag": "Program:Dryer.DewPoint", "type": "REAL"}


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("tag: Dryer.Status,", "tag: Dryer.Status=5,", "Dryer.Status=5"),
        ("tag: Dryer.Status,", "tag: 'Dryer.Status := 0',", "Dryer.Status := 0"),
        ("area: db, db: 10,", "area: db, db: 0,", "0 is less than the minimum of 1"),
        ("area: db, db: 10,", "area: db, db: 70000,", "70000 is greater than the maximum"),
        ("type: int}", "type: string}", "the text 'string' is not allowed"),
        ("type: DINT}", "type: STRING}", "the text 'STRING' is not allowed"),
        ("type: int}", "type: int, operation: write}", "unknown key 'operation'"),
        ("type: DINT}", "type: DINT, value: 1}", "unknown key 'value'"),
        ("area: db, db: 10,", "area: db,", "missing required key 'db'"),
    ],
)
def test_validate_refuses_bad_s7_and_logix_points_with_file_and_line(
    s7_sample, plantctl, old, new, expect
):
    path = s7_sample / "sites/ridgeway/collectors.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    line = _line_of(path, new.split(",")[0].split("}")[0])
    run = plantctl("validate", "--inventory", str(s7_sample))
    assert run.code == 2, run.out
    out = run.out + run.err
    assert f"collectors.yaml:{line}" in out, out
    assert expect in out, out


@pytest.mark.parametrize(
    ("block", "change", "message"),
    [
        ("logix", {"tag": "Dryer.Status=1"}, "has a write suffix"),
        ("logix", {"type": "STRING"}, "is not a Logix data type"),
        ("logix", {"write": True}, "unknown keys write"),
        ("s7", {"db": 0}, "a data block number 1-65535 is needed"),
        ("s7", {"db": 65536}, "a data block number 1-65535 is needed"),
        ("s7", {"type": "s5time"}, "is not an S7 data type"),
        ("s7", {"area": "timers"}, "is not one of db, inputs, outputs, markers"),
        ("s7", {"operation": "write"}, "unknown keys operation"),
    ],
)
def test_the_collector_refuses_bad_s7_and_logix_points(s7_sample, block, change, message):
    doc = copy.deepcopy(collector_config.render(load(s7_sample), "gw-rw-03"))
    source = next(s for s in doc["sources"] if block in s["signals"][0])
    source["signals"][0][block].update(change)
    with pytest.raises(config.ConfigError, match=message):
        config.parse(doc)


def test_a_collector_of_another_protocol_block_is_refused(s7_sample):
    doc = copy.deepcopy(collector_config.render(load(s7_sample), "gw-rw-03"))
    source = next(s for s in doc["sources"] if s["protocol"] == "s7")
    source["signals"][0]["modbus"] = {"function": 3, "address": 0}
    with pytest.raises(config.ConfigError, match="an s7 source cannot have a 'modbus' point"):
        config.parse(doc)


# No write path in the readers' source --------------------------------------------------------

_WRITE_WORDS = (
    "write", "set_attribute", "plc_stop", "plc_cold_start", "plc_hot_start", "download",
    "db_fill", "set_plc", "force", "copy_ram_to_rom", "compress", "delete", "call_method",
    "generic_message", "history_update", "set_value",
)  # fmt: skip


@pytest.mark.parametrize("module", READERS)
def test_the_readers_source_has_no_write_path(module):
    """Every name, attribute and string in the reader's code (docstrings aside) is free of a
    write, a PLC control or a generic service call."""
    tree = ast.parse((ROOT / "src/plantctl/collector" / module).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words = [node.id]
        elif isinstance(node, ast.Attribute):
            words = [node.attr]
        elif isinstance(node, ast.alias):
            words = [node.name, node.asname or ""]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            words = [node.name]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = [] if id(node) in docstrings else [node.value]
        else:
            continue
        for word in words:
            low = word.lower()
            found += [f"{word!r} (line {node.lineno})" for w in _WRITE_WORDS if w in low]
    assert found == [], f"{module} names a write path: {found}"


# The port from the machine's record, and exactly that port in the firewall -------------------


def test_the_gateway_firewall_opens_exactly_102_and_44818(s7_sample):
    hv = gateway_vars.for_gateway(load(s7_sample), "gw-rw-03")
    endpoints = {(e["protocol"], e["address"], e["port"]) for e in hv["plantctl_plc_endpoints"]}
    assert endpoints == {
        ("modbus-tcp", "10.20.12.41", 502),  # the compressor the gateway already reads
        ("s7", "10.20.12.51", 102),
        ("ethernet-ip", "10.20.12.52", 44818),
    }
    template = (ROOT / "roles/gateway_firewall/templates/nftables.conf.j2").read_text()
    rules = jinja2.Template(template).render(
        inventory_hostname="gw-rw-03",
        gateway_firewall_log_drops=False,
        gateway_firewall_bastion_address=hv["plantctl_bastion"]["address"],
        gateway_firewall_ssh_port=22,
        gateway_firewall_broker=hv["plantctl_broker"],
        gateway_firewall_plc_endpoints=hv["plantctl_plc_endpoints"],
        gateway_firewall_ntp_servers=[hv["plantctl_router"]],
    )
    plc = sorted(line.strip() for line in rules.splitlines() if "to machine" in line)
    assert plc == [
        'ip daddr 10.20.12.41 tcp dport 502 ct state new accept comment "modbus-tcp to machine '
        'rw-comp-01"',
        'ip daddr 10.20.12.51 tcp dport 102 ct state new accept comment "s7 to machine rw-s7-01"',
        "ip daddr 10.20.12.52 tcp dport 44818 ct state new accept "
        'comment "ethernet-ip to machine rw-lgx-01"',
    ]


def test_the_port_follows_the_machine_record(s7_sample):
    path = s7_sample / "sites/ridgeway/machines.yaml"
    path.write_text(path.read_text().replace("port: 102, rack: 0", "port: 1102, rack: 0"))
    hv = gateway_vars.for_gateway(load(s7_sample), "gw-rw-03")
    ports = {e["machine"]: e["port"] for e in hv["plantctl_plc_endpoints"]}
    assert ports == {"rw-comp-01": 502, "rw-s7-01": 1102, "rw-lgx-01": 44818}
