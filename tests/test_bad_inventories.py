"""Bad inventories: each a small edit of the sample that `plantctl validate` must refuse with
exit 2, pointing at the right file and line and saying what to do. The sample itself is valid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

BOMB = "bomb: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"bomb{i}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
)


@dataclass
class Case:
    name: str
    file: str  # relative to inventory/
    old: str | None  # text replaced exactly once (None: the whole file is `new`)
    new: str | None  # None: delete the file
    rule: str
    message: str  # regex the problem's message must match
    at: str | None = None  # text on the expected line of the edited file (default: `new`)
    at_file: str | None = None


CASES = [
    Case(
        "duplicate key",
        "sites/ridgeway/machines.yaml",
        "    kind: cnc-machine\n    vendor: Ostra",
        "    kind: cnc-machine\n    kind: press\n    vendor: Ostra",
        "INV-DUPKEY",
        r"duplicate key .*kind.*remove or rename",
        at="    kind: press",
    ),
    Case(
        "NO is text, not false",
        "sites/ridgeway/zones.yaml",
        "internet_egress: true",
        "internet_egress: NO",
        "INV-SCHEMA",
        r"YAML 1.2 reads NO as text, write true or false",
    ),
    Case(
        "alias bomb",
        "org/people.yaml",
        "people:\n",
        BOMB + "people:\n",
        "INV-YAML",
        r"alias|expands",
        at="bomb0:",
    ),
    Case(
        "overlapping zone CIDR",
        "sites/lakeside/zones.yaml",
        "cidr: 10.30.30.0/24",
        "cidr: 10.30.20.0/23",
        "ADDR-OVERLAP",
        r"overlaps zone lakeside/supervisory .*own range",
    ),
    Case(
        "address outside its zone",
        "sites/ridgeway/gateways.yaml",
        "address: 10.20.20.21",
        "address: 10.20.30.21",
        "ADDR-ZONE",
        r"outside its zone supervisory .*plantctl allocate",
    ),
    Case(
        "duplicate address",
        "sites/ridgeway/gateways.yaml",
        "address: 10.20.20.22",
        "address: 10.20.20.21",
        "ADDR-DUP",
        r"already used by gateway gw-rw-01",
        at="id: gw-rw-02",
    ),
    Case(
        "public range below the DMZ",
        "sites/lakeside/zones.yaml",
        "cidr: 10.30.11.0/24",
        "cidr: 203.0.113.0/24",
        "ADDR-PUBLIC",
        r"below the DMZ .*private range",
    ),
    Case(
        "public device address below the DMZ",
        "sites/lakeside/machines.yaml",
        "address: 10.30.11.31",
        "address: 198.51.100.31",
        "ADDR-PUBLIC",
        r"public address 198.51.100.31 below the DMZ",
    ),
    Case(
        "unknown key",
        "sites/ridgeway/machines.yaml",
        "    model: TL-25\n",
        "    model: TL-25\n    colour: blue\n",
        "INV-SCHEMA",
        r"unknown key 'colour'; remove it or fix its spelling",
        at="colour: blue",
    ),
    Case(
        "collector for a machine that does not exist",
        "sites/ridgeway/collectors.yaml",
        "machine: rw-cnc-02",
        "machine: rw-cnc-09",
        "INV-REF",
        r"machine 'rw-cnc-09' does not exist; use a machine id",
    ),
    Case(
        "grant for an unknown person",
        "access/grants.yaml",
        "person: rkessler",
        "person: rkesler",
        "INV-REF",
        r"person 'rkesler' does not exist; add the person",
    ),
    Case(
        "team with no members",
        "org/teams.yaml",
        "members: [jweber]",
        "members: []",
        "INV-REF",
        r"has no members; add at least one",
    ),
    Case(
        "duplicate id",
        "sites/ridgeway/gateways.yaml",
        "{id: gw-rw-03,",
        "{id: gw-rw-02,",
        "INV-DUPID",
        r"duplicate gateway 'gw-rw-02', first defined at "
        r"inventory/sites/ridgeway/gateways.yaml:4",
        at="address: 10.20.20.23",
    ),
    Case(
        "malformed CIDR",
        "sites/ridgeway/zones.yaml",
        "cidr: 10.20.30.0/24",
        "cidr: 10.20.300.0/24",
        "ADDR-CIDR",
        r"not a network in CIDR form; write it like",
    ),
    Case(
        "CIDR with host bits",
        "sites/ridgeway/zones.yaml",
        "cidr: 10.20.30.0/24",
        "cidr: 10.20.30.7/24",
        "ADDR-CIDR",
        r"host bits set; write 10.20.30.0/24",
    ),
    Case(
        "wrong type",
        "sites/ridgeway/zones.yaml",
        "vlan: 130",
        "vlan: one-thirty",
        "INV-SCHEMA",
        r"expected a whole number, found the text 'one-thirty'",
    ),
    Case(
        "version read as a number",
        "sites/ridgeway/machines.yaml",
        'firmware: "2.7.1"',
        "firmware: 2.10",
        "INV-SCHEMA",
        r'quote it so it stays text: "2.10"',
    ),
    Case(
        "zone outside the site supernet",
        "sites/ridgeway/zones.yaml",
        "cidr: 10.20.40.0/24",
        "cidr: 10.21.40.0/24",
        "ADDR-ZONE",
        r"outside the site supernet 10.20.0.0/16",
    ),
    Case(
        "router address",
        "sites/ridgeway/gateways.yaml",
        "address: 10.20.20.23",
        "address: 10.20.20.1",
        "ADDR-RESERVED",
        r"zone's router address",
    ),
    Case(
        "broadcast address",
        "sites/ridgeway/gateways.yaml",
        "address: 10.20.20.23",
        "address: 10.20.20.255",
        "ADDR-RESERVED",
        r"zone's broadcast address",
    ),
    Case(
        "missing required key",
        "sites/lakeside/machines.yaml",
        "    criticality: standard\n",
        "",
        "INV-SCHEMA",
        r"missing required key 'criticality'; add it",
        at="  - id: lk-conv-01",
    ),
    Case(
        "value not in the list",
        "sites/ridgeway/site.yaml",
        "  phase: pilot\n",
        "  phase: piloting\n",
        "INV-SCHEMA",
        r"'piloting' is not allowed; use one of \"survey\"",
    ),
    Case(
        "broken YAML syntax",
        "sites/ridgeway/gateways.yaml",
        "os: Debian 12, maintenance_window: wed-night}\n  - {id: gw-rw-03",
        "os: Debian 12, maintenance_window: wed-night\n  - {id: gw-rw-03",
        "INV-YAML",
        r"invalid YAML: .*fix the syntax",
        at="  - {id: gw-rw-03",
    ),
    Case(
        "impossible date",
        "org/training.yaml",
        "completed: 2026-05-20",
        "completed: 2026-13-45",
        "INV-SCHEMA",
        r"'2026-13-45' is not valid; A calendar date",
    ),
    Case(
        "site id differs from folder",
        "sites/lakeside/site.yaml",
        "id: lakeside",
        "id: lakeshore",
        "INV-ID",
        r"differs from its folder sites/lakeside/",
    ),
    Case(
        "required file missing",
        "org/roles.yaml",
        None,
        None,
        "INV-FILE",
        r"required inventory file is missing",
        at_file="org/roles.yaml",
        at="",
    ),
    Case(
        "misspelt file name",
        "sites/ridgeway/machine.yaml",
        None,
        "machines: []\n",
        "INV-FILE",
        r"not an inventory file; expected one of",
        at="machines: []",
    ),
    Case(
        "machine in a zone that does not exist",
        "sites/ridgeway/machines.yaml",
        "zone: supervisory",
        "zone: supervisor",
        "INV-REF",
        r"zone 'supervisor' does not exist; use a zone id from sites/ridgeway/zones.yaml",
    ),
    Case(
        "ownership names an unknown team",
        "org/ownership.yaml",
        "training: plant-management",
        "training: plant-mgmt",
        "INV-REF",
        r"team for training 'plant-mgmt' does not exist",
    ),
    Case(
        "site supernets overlap",
        "sites/lakeside/site.yaml",
        "supernet: 10.30.0.0/16",
        "supernet: 10.20.128.0/17",
        "ADDR-OVERLAP",
        r"overlaps site ridgeway",
    ),
    Case(
        "nesting too deep",
        "glossary.yaml",
        "terms:\n",
        "deep: " + "[" * 40 + "]" * 40 + "\nterms:\n",
        "INV-YAML",
        r"nesting",
        at="deep:",
    ),
    Case(
        "pilot machine of another site",
        "sites/ridgeway/site.yaml",
        "rw-comp-01]",
        "lk-press-01]",
        "INV-REF",
        r"pilot machine of ridgeway 'lk-press-01' does not exist",
    ),
    Case(
        "unknown maintenance window",
        "sites/lakeside/machines.yaml",
        "maintenance_window: sat-late",
        "maintenance_window: sun-early",
        "INV-REF",
        r"maintenance window 'sun-early' does not exist",
    ),
    Case(
        "not UTF-8",
        "sites/lakeside/conduits.yaml",
        "Enterprise web access",
        "Enterprise web acc\udce8s",
        "INV-YAML",
        r"not UTF-8",
        at="",
    ),
]


def _apply(inv: Path, case: Case) -> Path:
    path = inv / case.file
    if case.new is None:
        path.unlink()
        return path
    if case.old is None:
        path.write_text(case.new)
        return path
    text = path.read_text()
    assert text.count(case.old) == 1, f"{case.name}: edit anchor must occur once"
    path.write_bytes(text.replace(case.old, case.new).encode("utf-8", "surrogateescape"))
    return path


def _expected_line(inv: Path, case: Case) -> int:
    anchor = case.at if case.at is not None else (case.new or "").strip().splitlines()[0]
    if not anchor:
        return 1
    lines = (inv / case.file).read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if anchor in line]
    assert len(hits) == 1, f"{case.name}: anchor {anchor!r} on lines {hits}"
    return hits[0]


def test_the_sample_is_valid(plantctl):
    run = plantctl("validate", "--inventory", str(Path(__file__).parents[1] / "inventory"))
    assert run.code == 0, run.err
    assert "inventory valid" in run.out


def test_at_least_25_bad_inventories():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_inventory_is_refused(case: Case, sample: Path, plantctl):
    before = {p: p.read_bytes() for p in sample.rglob("*") if p.is_file()}
    _apply(sample, case)
    line = _expected_line(sample, case)
    edited = {p: p.read_bytes() for p in sample.rglob("*") if p.is_file()}

    run = plantctl("validate", "--inventory", "inventory", cwd=sample.parent)

    assert run.code == 2, run.out + run.err
    shown = f"inventory/{case.at_file or case.file}:{line}:"
    ours = [row for row in run.err.splitlines() if row.startswith(shown)]
    assert ours, f"no problem at {shown}; got:\n{run.err}"
    assert any(row.endswith(f"[{case.rule}]") and re.search(case.message, row) for row in ours), (
        f"expected [{case.rule}] matching {case.message!r} at {shown}; got:\n{run.err}"
    )
    # Validation changes nothing.
    assert {p: p.read_bytes() for p in sample.rglob("*") if p.is_file()} == edited
    assert before.keys() >= {p for p in edited if p.exists()} - {sample / case.file}


def test_alias_bomb_is_refused_quickly(sample: Path, plantctl):
    import time

    _apply(sample, CASES[2])
    start = time.perf_counter()
    run = plantctl("validate", "--inventory", "inventory", cwd=sample.parent)
    elapsed = time.perf_counter() - start
    assert run.code == 2
    # Generous bound: expanding this bomb would take 9**10 values.
    assert elapsed < 10


def test_json_output_lists_problems(sample: Path, plantctl):
    import json

    _apply(sample, CASES[4])
    run = plantctl("validate", "--inventory", "inventory", "--format", "json", cwd=sample.parent)
    assert run.code == 2
    report = json.loads(run.out)
    assert report["valid"] is False
    assert {"file", "line", "col", "rule", "message"} <= set(report["problems"][0])
    assert any(p["rule"] == "ADDR-ZONE" for p in report["problems"])
