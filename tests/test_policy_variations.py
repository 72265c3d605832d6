"""One edit of the sample plant per policy rule: `plantctl check` (the real OPA server, the real
policies) rejects it with that rule's id at the right file and line, and nothing else changes.
The sample itself passes."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from plantctl.gate import rules

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"


@dataclass
class Variation:
    rule: str
    file: str  # relative to inventory/
    old: str
    new: str
    at: str  # text on the line the violation must point at
    at_file: str | None = None  # when the violation is about an object in another file
    code: int = 1  # 0 for a warning-only rule, 2 when validation refuses the input first
    level: str = "violations"
    after: str | None = None  # `at` is the first line holding it after the line holding this


VARIATIONS = [
    # Ownership
    Variation("OWN-001", "org/ownership.yaml", "  training: plant-management\n", "", "defaults:"),
    Variation(
        "OWN-002",
        "org/ownership.yaml",
        "network-connectivity: it-network",
        "network-connectivity: ops-ridgeway",
        "network-connectivity: ops-ridgeway",
    ),
    Variation(
        "OWN-003",
        "org/ownership.yaml",
        "change-approvals: {it: it-network, operations: ops-ridgeway}",
        "change-approvals: {it: it-network, operations: quality}",
        "change-approvals: {it: it-network, operations: quality}",
    ),
    # Referenced teams exist and have members: the loader refuses these first (exit 2, at the
    # same line); no policy repeats these checks.
    Variation(
        "INV-REF",
        "org/ownership.yaml",
        "training: plant-management",
        "training: plant-mgmt",
        "training: plant-mgmt",
        code=2,
    ),
    Variation(
        "INV-REF", "org/teams.yaml", "members: [hpark]", "members: []", "members: []", code=2
    ),
    Variation(
        "OWN-006",
        "org/ownership.yaml",
        "  training: plant-management\n",
        "",
        "    zone: cell-machining",
        at_file="sites/ridgeway/machines.yaml",
        after="  - id: rw-cnc-01",
    ),
    # Data access
    Variation(
        "DATA-001",
        "sites/ridgeway/collectors.yaml",
        "{name: energy, data_class: energy,",
        "{name: energy, data_class: power,",
        "{name: energy, data_class: power,",
    ),
    Variation(
        "DATA-002",
        "data_classes.yaml",
        "viewers: [maintenance-technician, process-engineer, plant-manager, data-analyst]",
        "viewers: [maintenance-technician, process-engineer, plant-manager, janitor]",
        "viewers: [maintenance-technician, process-engineer, plant-manager, janitor]",
    ),
    Variation(
        "DATA-003",
        "data_classes.yaml",
        "exporters: [plant-manager, auditor]",
        "exporters: [plant-manager, auditor, operator]",
        "exporters: [plant-manager, auditor, operator]",
    ),
    Variation(
        "DATA-004",
        "data_classes.yaml",
        "retention: {days: 400,",
        "retention: {days: 800,",
        "retention: {days: 800,",
    ),
    Variation(
        "DATA-005",
        "data_classes.yaml",
        "    report_approver: quality\n",
        "",
        "official_reports: true",
        after="  - id: quality-records",
    ),
    Variation(
        "DATA-006",
        "data_classes.yaml",
        "    correction_owner: maint-ridgeway\n    dashboard_change_approver: maint-ridgeway\n"
        "    leaves_site: true\n  - id: reports",
        "    dashboard_change_approver: maint-ridgeway\n    leaves_site: true\n  - id: reports",
        "  - id: energy",
    ),
    # Segmentation
    Variation(
        "SEG-001",
        "sites/ridgeway/conduits.yaml",
        "conduits:\n",
        "conduits:\n  - id: mes-to-cell\n    from: site-ops\n    to: cell-machining\n"
        "    services: [{protocol: tcp, port: 4840}]\n    purpose: MES reads CNC\n",
        "    to: cell-machining",
        after="  - id: mes-to-cell",
    ),
    Variation(
        "SEG-002",
        "sites/ridgeway/conduits.yaml",
        "conduits:\n",
        "conduits:\n  - id: erp-to-hmi\n    from: enterprise\n    to: supervisory\n"
        "    services: [{protocol: tcp, port: 443}]\n    purpose: ERP reads the HMI\n",
        "    from: enterprise",
        after="  - id: erp-to-hmi",
    ),
    Variation(
        "SEG-003",
        "sites/lakeside/conduits.yaml",
        "services: [{protocol: tcp, port: 443, name: https}]",
        "services: [{protocol: any}]",
        "services: [{protocol: any}]",
    ),
    Variation(
        "SEG-004",
        "sites/ridgeway/zones.yaml",
        "cidr: 10.20.30.0/24}",
        "cidr: 10.20.30.0/24, internet_egress: true}",
        "cidr: 10.20.30.0/24, internet_egress: true}",
    ),
    Variation(
        "SEG-005",
        "sites/lakeside/conduits.yaml",
        "from: enterprise",
        "from: site-ops",
        "    to: internet",
    ),
    Variation(
        "SEG-006",
        "sites/ridgeway/conduits.yaml",
        "destinations: [10.20.11.21, 10.20.11.22]",
        "destinations: [10.20.11.21]",
        "    machine: rw-cnc-02",
        at_file="sites/ridgeway/collectors.yaml",
    ),
    Variation(
        "SEG-007",
        "sites/ridgeway/conduits.yaml",
        "sources: [10.20.20.21, 10.20.20.22, 10.20.20.23]\n    destinations: [10.20.35.10]",
        "sources: [10.20.20.21, 10.20.20.22]\n    destinations: [10.20.35.10]",
        "{id: gw-rw-03,",
        at_file="sites/ridgeway/gateways.yaml",
    ),
    Variation(
        "SEG-008",
        "sites/ridgeway/conduits.yaml",
        "destinations: [10.20.11.21, 10.20.11.22]",
        "destinations: [10.20.11.21, 10.20.11.22, 10.20.11.99]",
        "destinations: [10.20.11.21, 10.20.11.22, 10.20.11.99]",
    ),
    Variation(
        "SEG-009",
        "sites/ridgeway/collectors.yaml",
        "    machine: rw-cnc-02\n",
        "    machine: rw-cnc-02\n    target: {address: 10.20.11.99, port: 4840}\n",
        "    target: {address: 10.20.11.99, port: 4840}",
    ),
    # Collectors
    Variation(
        "COL-001",
        "sites/ridgeway/collectors.yaml",
        "{function: 2, address: 0}",
        "{function: 5, address: 0}",
        "{function: 5, address: 0}",
    ),
    Variation(
        "COL-002",
        "sites/ridgeway/collectors.yaml",
        'interval_s: 5, opcua: {node_id: "ns=2;s=Spindle.Load", operation: read}',
        'interval_s: 5, opcua: {node_id: "ns=2;s=Spindle.Load", operation: write}',
        "operation: write",
    ),
    Variation(
        "COL-003",
        "sites/ridgeway/collectors.yaml",
        'opcua: {node_id: "ns=2;s=Spindle.Load", operation: read}',
        "modbus: {function: 3, address: 7}",
        "modbus: {function: 3, address: 7}",
    ),
    Variation(
        "COL-004",
        "sites/ridgeway/collectors.yaml",
        "    machine: rw-comp-01\n",
        "    machine: lk-conv-01\n",
        "    machine: lk-conv-01",
    ),
    Variation(
        "COL-005",
        "sites/ridgeway/machines.yaml",
        "controller: {protocol: opcua, address: 10.20.11.22, port: 4840}",
        "controller: {protocol: modbus-tcp, address: 10.20.11.22, port: 4840}",
        "    protocol: opcua",
        at_file="sites/ridgeway/collectors.yaml",
        after="  - id: col-rw-cnc-02",
    ),
    Variation(
        "COL-006",
        "sites/ridgeway/collectors.yaml",
        "    machine: rw-cnc-02\n",
        "    machine: rw-cnc-02\n    publish_prefix: ridgeway/dmz/rw-cnc-02\n",
        "    publish_prefix: ridgeway/dmz/rw-cnc-02",
    ),
    # Remote access
    Variation(
        "RA-001",
        "access/grants.yaml",
        "    via: rw-bastion\n    mfa: true\n    session_recording: true",
        "    via: rw-broker\n    mfa: true\n    session_recording: true",
        "    via: rw-broker",
    ),
    Variation(
        "RA-002", "access/grants.yaml", "end: 2026-12-11T17:00:00-05:00", "end: null", "end: null"
    ),
    Variation(
        "RA-003",
        "access/grants.yaml",
        "end: 2026-12-03T14:00:00-05:00",
        "end: 2026-12-03T07:00:00-05:00",
        "end: 2026-12-03T07:00:00-05:00",
    ),
    Variation(
        "RA-004",
        "access/grants.yaml",
        "end: 2026-12-03T14:00:00-05:00",
        "end: 2026-12-03T17:00:00-05:00",
        "end: 2026-12-03T17:00:00-05:00",
    ),
    Variation(
        "RA-005",
        "access/grants.yaml",
        "end: 2026-12-11T17:00:00-05:00",
        "end: 2027-01-11T17:00:00-05:00",
        "end: 2027-01-11T17:00:00-05:00",
    ),
    Variation(
        "RA-006",
        "access/grants.yaml",
        "{person: mlopez, team: ops-ridgeway, date: 2026-11-20}",
        "{person: kito, team: maint-ridgeway, date: 2026-11-20}",
        "    approvals:",
        after="  - id: g-rw-0008",
    ),
    Variation(
        "RA-007",
        "access/grants.yaml",
        "{person: praman, team: it-security, date: 2026-11-20}",
        "{person: dokafor, team: it-network, date: 2026-11-20}",
        "    approvals:",
        after="  - id: g-rw-0008",
    ),
    Variation(
        "RA-008",
        "access/grants.yaml",
        "{person: praman, team: it-security, date: 2026-11-20}",
        "{person: dokafor, team: it-security, date: 2026-11-20}",
        "{person: dokafor, team: it-security, date: 2026-11-20}",
    ),
    Variation(
        "RA-009",
        "access/grants.yaml",
        "    person: dokafor\n",
        "    person: tberg\n",
        "{person: tberg, team: it-security, date: 2026-11-13}",
    ),
    Variation(
        "RA-010",
        "access/grants.yaml",
        "    mfa: true\n    session_recording: true",
        "    mfa: true\n    session_recording: false",
        "    session_recording: false",
        after="  - id: g-rw-0008",
    ),
    Variation(
        "RA-011",
        "access/grants.yaml",
        "target: rw-hmi-01",
        "target: rw-cnc-01",
        "target: rw-cnc-01",
    ),
    Variation(
        "RA-012",
        "access/grants.yaml",
        "end: 2026-12-11T17:00:00-05:00",
        "end: 2026-11-20T17:00:00-05:00",
        "end: 2026-11-20T17:00:00-05:00",
    ),
    Variation(
        "RA-013",
        "access/grants.yaml",
        "services: [{protocol: tcp, port: 443, name: https}]",
        "services: [{protocol: tcp, port: 443, port_end: 1, name: https}]",
        "services: [{protocol: tcp, port: 443, port_end: 1, name: https}]",
    ),
    Variation(
        "RA-020",
        "access/grants.yaml",
        "services: [{protocol: tcp, port: 443, name: https}]",
        "services: [{protocol: udp, port: 443, name: https}]",
        "services: [{protocol: udp, port: 443, name: https}]",
    ),
    Variation(
        "RA-014",
        "org/roles.yaml",
        "team_kinds: [vendor]}",
        "team_kinds: [vendor], admin: true}",
        "{person: rkessler, role: vendor-technician, site: ridgeway}",
        at_file="org/role_bindings.yaml",
    ),
    # Segmentation, the IEC 62443 zone model (policies/segmentation/zone_model.rego)
    Variation(
        "SEG-010",
        "sites/ridgeway/conduits.yaml",
        "  - id: enterprise-egress\n",
        "  - {id: erp-to-mes, from: enterprise, to: site-ops, services: [{app: https}],"
        " purpose: ERP posts orders to the MES, security_level_capability: 3}\n"
        "  - id: enterprise-egress\n",
        "{id: erp-to-mes,",
    ),
    Variation(
        "SEG-011",
        "sites/ridgeway/conduits.yaml",
        "over MQTT with TLS\n    security_level_capability: 3\n",
        "over MQTT with TLS\n",
        "services: [{protocol: tcp, port: 8883, name: mqtts}]",
        after="id: gateways-publish",
    ),
    Variation(
        "SEG-012",
        "sites/ridgeway/conduits.yaml",
        "    purpose: Enterprise dashboards subscribe to machine data\n    inspection: deep\n",
        "    purpose: Enterprise dashboards subscribe to machine data\n"
        "    security_level_capability: 3\n",
        "from: enterprise",
        after="id: dashboards-subscribe",
    ),
    Variation(
        "SEG-013",
        "sites/ridgeway/zones.yaml",
        "purdue_level: 1, security_level_target: 3, vlan: 113",
        "purdue_level: 1, security_level_target: 2, vlan: 113",
        "{id: sis-molding,",
    ),
    Variation(
        "SEG-014",
        "sites/ridgeway/conduits.yaml",
        "  - id: enterprise-egress\n",
        "  - {id: ews-to-sis, from: supervisory, to: sis-molding, destinations: [10.20.13.21],"
        " services: [{app: ssh}], purpose: The engineering station programs the safety PLC,"
        " inspection: deep}\n"
        "  - id: enterprise-egress\n",
        "{id: ews-to-sis,",
    ),
    Variation(
        "SEG-015",
        "sites/ridgeway/conduits.yaml",
        "  - id: enterprise-egress\n",
        "  - {id: cell-interlock, from: cell-machining, to: cell-molding,"
        " services: [{app: opc-ua}], purpose: Interlock between the cells}\n"
        "  - id: enterprise-egress\n",
        "{id: cell-interlock,",
    ),
    Variation(
        "SEG-016",
        "sites/ridgeway/conduits.yaml",
        "    services: [{protocol: tcp, port: 443, name: https}]\n    purpose: Enterprise web",
        "    services: [{protocol: tcp, port: 23, name: web}]\n    purpose: Enterprise web",
        "services: [{protocol: tcp, port: 23, name: web}]",
    ),
    Variation(
        "SEG-017",
        "sites/ridgeway/conduits.yaml",
        "services: [{protocol: tcp, port: 502, name: modbus}]",
        "services: [{app: profinet}]",
        "services: [{app: profinet}]",
    ),
    Variation(
        "SEG-018",
        "sites/ridgeway/conduits.yaml",
        "    services: [{protocol: tcp, port: 8883, name: mqtts}]\n    purpose: Gateways publish",
        "    services: [{app: modbus-tcp}]\n    purpose: Gateways publish",
        "services: [{app: modbus-tcp}]",
    ),
    # Attack paths (policies/segmentation/paths.rego): remote access -> supervisory -> cell
    # with one inspected hop once the bastion's conduit stops inspecting.
    Variation(
        "SEG-019",
        "sites/ridgeway/conduits.yaml",
        "    purpose: Granted sessions from the bastion to gateways and the HMI server\n",
        "    purpose: Granted sessions from the bastion to gateways and the HMI server\n"
        "    inspection: none\n",
        "inspection: none",
    ),
    Variation(
        "SEG-020",
        "sites/ridgeway/conduits.yaml",
        "    services: [{protocol: tcp, port: 22, name: ssh}]\n    purpose: IT and maintenance",
        "    services: [{app: rdp}]\n    purpose: IT and maintenance",
        "services: [{app: rdp}]",
    ),
    # Training and roles
    Variation(
        "TRN-001",
        "org/training.yaml",
        "completed: 2026-04-15, expires: 2027-10-15",
        "completed: 2026-04-15, expires: 2026-10-15",
        "{person: mlopez, role: shift-supervisor",
        at_file="org/role_bindings.yaml",
    ),
    Variation(
        "TRN-002",
        "org/roles.yaml",
        "Owns quality records and data accuracy checks, team_kinds: [quality]",
        "Owns quality records and data accuracy checks, team_kinds: [operations]",
        "{person: gkim, role: quality-engineer",
        at_file="org/role_bindings.yaml",
    ),
    Variation(
        "TRN-003",
        "org/training.yaml",
        "completed: 2026-04-15, expires: 2027-10-15",
        "completed: 2026-04-15, expires: 2026-12-01",
        "{person: mlopez, role: shift-supervisor",
        at_file="org/role_bindings.yaml",
        code=0,
        level="warnings",
    ),
    # Glossary
    Variation(
        "GLO-001",
        "sites/ridgeway/machines.yaml",
        "    kind: cnc-machine\n    vendor: Ostra",
        "    kind: lathe\n    vendor: Ostra",
        "    kind: lathe",
    ),
    Variation(
        "GLO-002",
        "sites/ridgeway/collectors.yaml",
        "meaning: downtime,",
        "meaning: reason-code,",
        "meaning: reason-code,",
    ),
    Variation(
        "GLO-003",
        "glossary.yaml",
        "stopped, alarm, offline), read from its controller.\n"
        "    agreed_by: [it-network, ops-ridgeway]",
        "stopped, alarm, offline), read from its controller.\n    agreed_by: [it-network]",
        "    agreed_by: [it-network]",
    ),
    # Goals
    Variation(
        "GOL-001",
        "goals.yaml",
        "      - {team: it-network, person: dokafor, date: 2026-04-02}\n"
        "    review: {cadence: weekly}\n  - id: rw-production-reporting",
        "    review: {cadence: weekly}\n  - id: rw-production-reporting",
        "    agreed_by:",
        after="  - id: rw-downtime",
    ),
    Variation(
        "GOL-002",
        "goals.yaml",
        "      - {team: plant-management, person: hpark, date: 2026-04-09}\n",
        "",
        "    agreed_by:",
        after="  - id: rw-compressor-energy",
    ),
    Variation(
        "GOL-003",
        "sites/ridgeway/collectors.yaml",
        "serves: [rw-downtime, rw-compressor-energy]",
        "serves: []",
        "serves: []",
    ),
    Variation(
        "GOL-004",
        "sites/ridgeway/collectors.yaml",
        "serves: [rw-downtime, rw-compressor-energy]",
        "serves: [rw-compressor-energy]",
        "{name: running,",
    ),
    Variation(
        "GOL-005",
        "sites/ridgeway/site.yaml",
        "    goals: [rw-downtime, rw-production-reporting, rw-compressor-energy]\n",
        "",
        "  pilot:",
    ),
    Variation(
        "GOL-006",
        "goals.yaml",
        "      machines: [rw-comp-01]\n",
        "      machines: [rw-press-01]\n",
        "    metric:",
        after="  - id: rw-compressor-energy",
        code=0,
        level="warnings",
    ),
    # A goal named by a collector exists, at its site: the loader refuses it first (exit 2).
    Variation(
        "INV-REF",
        "sites/ridgeway/collectors.yaml",
        "serves: [rw-downtime, rw-compressor-energy]",
        "serves: [rw-downtime, rw-energy-use]",
        "serves: [rw-downtime, rw-energy-use]",
        code=2,
    ),
    # Phases
    Variation(
        "PHA-001",
        "sites/ridgeway/site.yaml",
        "attendees: [mlopez, kito, dokafor, nfarah]",
        "attendees: [mlopez, kito, dokafor]",
        "attendees: [mlopez, kito, dokafor]",
    ),
    Variation(
        "PHA-002",
        "sites/ridgeway/site.yaml",
        "machines: [rw-cnc-01, rw-cnc-02, rw-press-01, rw-press-02, rw-comp-01]",
        "machines: [rw-cnc-01, rw-cnc-02, rw-press-01, rw-press-02]",
        "    machine: rw-comp-01",
        at_file="sites/ridgeway/collectors.yaml",
    ),
    Variation(
        "PHA-003",
        "sites/ridgeway/site.yaml",
        "  phase: pilot\n",
        "  phase: rollout\n",
        "  phase: rollout",
    ),
    Variation(
        "PHA-004",
        "sites/ridgeway/site.yaml",
        "{phase: pilot, team: it-network, person: dokafor,",
        "{phase: pilot, team: it-network, person: mlopez,",
        "{phase: pilot, team: it-network, person: mlopez,",
    ),
    # Bridges to the enterprise broker
    Variation(
        "BRG-001",
        "sites/ridgeway/site.yaml",
        "classes: [machine-status, production-counts, energy]",
        "classes: [machine-status, production-counts, energy, downtime-reasons]",
        "classes: [machine-status, production-counts, energy, downtime-reasons]",
    ),
    Variation(
        "BRG-002",
        "sites/ridgeway/site.yaml",
        "enterprise_broker: {id: ent-broker, zone: enterprise, address: 10.20.40.20,",
        "enterprise_broker: {id: ent-broker, zone: dmz, address: 10.20.35.40,",
        "enterprise_broker: {id: ent-broker, zone: dmz,",
    ),
    Variation(
        "BRG-003",
        "sites/lakeside/site.yaml",
        "  services:\n    broker: {id: lk-broker, zone: dmz, address: 10.30.35.10, port: 8883}\n",
        "",
        "  bridge:",
    ),
    # Waivers: expired, and matching no violation (the sample has none to waive)
    Variation(
        "WAI-001",
        "waivers.yaml",
        "waivers: []",
        "waivers:\n  - {id: w-1, rule: SEG-003, kind: conduit, object: lakeside/enterprise-egress,"
        " reason: Proxy migration, approver: tberg, expires: 2026-11-01}",
        "  - {id: w-1, rule: SEG-003,",
    ),
    Variation(
        "WAI-002",
        "waivers.yaml",
        "waivers: []",
        "waivers:\n  - {id: w-1, rule: SEG-003, kind: conduit, object: lakeside/enterprise-egress,"
        " reason: Proxy migration, approver: tberg, expires: 2026-12-15}",
        "  - {id: w-1, rule: SEG-003,",
    ),
]


def _rule_ids() -> set[str]:
    ids = set()
    for rego in (ROOT / "policies").rglob("*.rego"):
        if rego.name.endswith("_test.rego") or rego.parent.name in ("plan", "approvals", "gate"):
            continue
        for line in rego.read_text().splitlines():
            if line.startswith("#   id: "):
                ids.add(line.split(": ", 1)[1].strip())
    return ids


def test_every_inventory_rule_has_a_variation():
    covered = {v.rule for v in VARIATIONS}
    assert _rule_ids() - covered == set()


def test_the_sample_passes(plantctl):
    run = plantctl(
        "check",
        "--inventory",
        str(ROOT / "inventory"),
        "--policies",
        str(ROOT / "policies"),
        "--now",
        NOW,
        "--format",
        "json",
    )
    assert run.code == 0, run.out + run.err
    assert json.loads(run.out)["violations"] == []


def _line(path: Path, text: str, after: str | None = None) -> int:
    lines = path.read_text().splitlines()
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
        return next(i + 1 for i, line in enumerate(lines) if i > start and text in line)
    hits = [i + 1 for i, line in enumerate(lines) if text in line]
    assert len(hits) == 1, f"{text!r} on lines {hits} of {path}"
    return hits[0]


@pytest.mark.parametrize(
    "v", VARIATIONS, ids=[f"{v.rule}:{v.new.strip()[:30]}" for v in VARIATIONS]
)
def test_one_edit_is_rejected_with_the_rule_at_its_line(v: Variation, tmp_path, plantctl):
    inv = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inv)
    path = inv / v.file
    text = path.read_text()
    assert text.count(v.old) == 1, f"edit anchor {v.old!r} must occur once in {v.file}"
    path.write_text(text.replace(v.old, v.new))
    where = v.at_file or v.file
    line = _line(inv / where, v.at, v.after)

    run = plantctl(
        "check",
        "--inventory",
        "inventory",
        "--policies",
        str(ROOT / "policies"),
        "--now",
        NOW,
        "--format",
        "json",
        cwd=tmp_path,
    )

    assert run.code == v.code, run.out + run.err
    report = json.loads(run.out)
    if v.code == 2:
        problems = report["problems"]
        assert any(
            p["file"] == f"inventory/{where}" and p["line"] == line and p["rule"] == v.rule
            for p in problems
        ), problems
        return
    found = [f for f in report[v.level] if f["rule"] == v.rule]
    assert found, f"{v.rule} not in {[(f['rule'], f['file'], f['line']) for f in report[v.level]]}"
    assert any(f["file"] == f"inventory/{where}" and f["line"] == line for f in found), (
        f"{v.rule} expected at inventory/{where}:{line}, got "
        f"{[(f['file'], f['line'], f['message']) for f in found]}"
    )
    assert all(f["message"] and f["severity"] in rules.severities() for f in found)
