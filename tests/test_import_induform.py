"""plantctl import --format induform: a plant in InduForm's project format (written for these
tests from its documented model) becomes a valid site, and the issue-21 probes on it are caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLANT = ROOT / "tests" / "fixtures" / "induform" / "plant.yaml"
POLICIES = ROOT / "policies"
NOW = "2026-11-22T12:00:00Z"
SITE = "harbor"
FILES = ("site.yaml", "zones.yaml", "devices.yaml", "conduits.yaml")


def _import(plantctl, source: Path, into: Path, *extra: str):
    return plantctl(
        "import", "--from", str(source), "--format", "induform", "--site", SITE,
        "--into", str(into), "--supernet", "10.61.0.0/16", *extra,
    )  # fmt: skip


@pytest.fixture
def imported(sample: Path, plantctl) -> Path:
    run = _import(plantctl, PLANT, sample)
    assert run.code == 0, run.err
    return sample


def _read(inv: Path, name: str) -> tuple[str, dict]:
    text = (inv / "sites" / SITE / name).read_text()
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    return header, yaml.safe_load(text)


def _edit(inv: Path, name: str, change) -> None:
    header, data = _read(inv, name)
    change(data)
    (inv / "sites" / SITE / name).write_text(header + yaml.safe_dump(data, sort_keys=False))


def _add_conduit(inv: Path, conduit: dict) -> None:
    _edit(inv, "conduits.yaml", lambda d: d["conduits"].append(conduit))


def _check(plantctl, inv: Path) -> list[dict]:
    run = plantctl(
        "check", "--inventory", str(inv), "--policies", str(POLICIES), "--now", NOW,
        "--format", "json",
    )  # fmt: skip
    assert run.code in (0, 1), run.err
    return json.loads(run.out)["violations"]


def _fired(violations: list[dict], rule: str, key: str) -> list[dict]:
    return [v for v in violations if v["rule"] == rule and v["id"] == key]


def test_import_writes_a_valid_site(imported: Path, plantctl):
    site = imported / "sites" / SITE
    assert sorted(p.name for p in site.iterdir()) == sorted(FILES)
    run = plantctl("validate", "--inventory", str(imported))
    assert run.code == 0, run.err
    zones = {z["id"]: z for z in _read(imported, "zones.yaml")[1]["zones"]}
    assert len(zones) == 7
    assert {z: (v["kind"], v["purdue_level"]) for z, v in zones.items()} == {
        "corp-it": ("enterprise", 4),
        "plant-dmz": ("industrial-dmz", 3.5),
        "site-ops": ("site-operations", 3),
        "filling-area": ("supervisory", 2),
        "filler-cell": ("cell", 1),
        "capper-cell": ("cell", 1),
        "filler-sis": ("safety", 1),
    }
    assert zones["filler-sis"]["security_level_target"] == 4
    assert zones["filler-sis"]["serves"] == "filler-cell"
    assert zones["filler-cell"]["cidr"] == "10.61.50.0/24"  # given by the project
    assert zones["corp-it"]["cidr"] == "10.61.1.0/24"  # allocated from the supernet
    assert len({z["vlan"] for z in zones.values()}) == 7
    devices = {d["id"]: d for d in _read(imported, "devices.yaml")[1]["devices"]}
    assert devices["filler-s7"]["kind"] == "plc"
    assert devices["filler-s7"]["address"] == "10.61.50.10"  # kept: inside its zone
    assert devices["filler-sis-plc"]["kind"] == "safety-plc"
    assert devices["eng-ws"]["kind"] == "engineering-workstation"
    assert devices["eng-ws"]["address"] == "10.61.30.11"  # 192.168.1.50: outside, allocated
    assert devices["capper-io"]["zone"] == "capper-cell"  # top-level asset placed by address
    conduits = {c["id"]: c for c in _read(imported, "conduits.yaml")[1]["conduits"]}
    assert conduits["area-to-filler"]["services"] == [{"app": "s7comm"}, {"app": "modbus-tcp"}]
    assert conduits["area-to-capper"]["services"] == [{"app": "ethernet-ip"}, {"app": "opc-ua"}]
    assert conduits["ops-to-area"]["services"] == [{"app": "opc-ua"}]
    assert conduits["filler-to-sis"]["services"] == [{"app": "profinet"}]
    assert conduits["corp-to-dmz"]["inspection"] == "deep"
    assert conduits["corp-to-dmz"]["security_level_capability"] == 3
    assert "inspection" not in conduits["ops-to-dmz"]


def test_imported_plant_is_checked(imported: Path, plantctl):
    """As imported, only the PROFINET conduit to the safety zone is refused (layer 2)."""
    rules = {(v["rule"], v["id"]) for v in _check(plantctl, imported)}
    assert rules == {("SEG-017", "harbor/filler-to-sis"), ("SEG-020", "harbor/filler-to-sis")}


def _probe_enterprise_to_site_operations(inv):
    _add_conduit(inv, {"id": "probe", "from": "corp-it", "to": "site-ops",
                       "services": [{"app": "https"}], "purpose": "probe"})  # fmt: skip
    return ["SEG-010"], "harbor/probe"


def _probe_cell_to_cell(inv):
    _add_conduit(inv, {"id": "probe", "from": "filler-cell", "to": "capper-cell",
                       "services": [{"app": "s7comm"}], "purpose": "probe"})  # fmt: skip
    return ["SEG-015", "SEG-020"], "harbor/probe"


def _probe_telnet(inv):
    _add_conduit(inv, {"id": "probe", "from": "corp-it", "to": "plant-dmz",
                       "services": [{"app": "telnet"}], "purpose": "probe"})  # fmt: skip
    return ["SEG-016"], "harbor/probe"


def _probe_site_operations_to_safety(inv):
    _add_conduit(inv, {"id": "probe", "from": "site-ops", "to": "filler-sis",
                       "services": [{"app": "opc-ua"}], "purpose": "probe"})  # fmt: skip
    return ["SEG-014"], "harbor/probe"


def _probe_safety_slt_lowered(inv):
    def lower(d):
        next(z for z in d["zones"] if z["id"] == "filler-sis")["security_level_target"] = 2

    _edit(inv, "zones.yaml", lower)
    return ["SEG-013"], "harbor/filler-sis"


def _probe_sl_gap_without_inspection(inv):
    def uninspect(d):
        next(c for c in d["conduits"] if c["id"] == "corp-to-dmz").pop("inspection")

    _edit(inv, "conduits.yaml", uninspect)
    return ["SEG-012"], "harbor/corp-to-dmz"


@pytest.mark.parametrize(
    "probe",
    [
        _probe_enterprise_to_site_operations,
        _probe_cell_to_cell,
        _probe_telnet,
        _probe_site_operations_to_safety,
        _probe_safety_slt_lowered,
        _probe_sl_gap_without_inspection,
    ],
    ids=lambda f: f.__name__.removeprefix("_probe_"),
)
def test_probe_on_imported_plant_fires(imported: Path, plantctl, probe):
    rules, key = probe(imported)
    assert plantctl("validate", "--inventory", str(imported)).code == 0
    violations = _check(plantctl, imported)
    for rule in rules:
        hits = _fired(violations, rule, key)
        assert hits, f"{rule} not reported on {key}: {violations}"
        kind_file = "zones.yaml" if key.endswith("filler-sis") else "conduits.yaml"
        assert all(v["file"].endswith(f"sites/{SITE}/{kind_file}") for v in hits)


# Bad input: exit 2, file:line and a message, nothing written.


def _bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(text)
    return path


def _plant_with(old: str, new: str) -> str:
    text = PLANT.read_text()
    assert old in text
    return text.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("to_zone: filler_cell", "to_zone: filler_cel", "to_zone: filler_cel", "unknown zone"),
        ("ip_address: 10.61.60.20}", "ip_address: 172.16.0.9}", "capper_io", "outside every"),
        ("- id: capper_cell", "- id: 9capper", "- id: 9capper", "cannot be made"),
        ("- id: capper_cell", "- id: Filler_Cell", "- id: Filler_Cell", "the same as"),
        ("subnet: 10.61.60.0/24", "subnet: 10.61.60.0/24\n    vlan: 5000", "vlan: 5000", "1-4094"),
        ("type: historian, ip_address: 10.61.30", "type: toaster, ip_address: 10.61.30",
         "type: toaster", "unknown type"),
        ("{id: dmz_fw, name: DMZ firewall, type: firewall, ip_address: 10.61.20.2}",
         "{id: dmz_fw, zone: nowhere, type: firewall}", "zone: nowhere", "unknown zone"),
    ],
    ids=["unknown-zone", "asset-outside", "bad-id", "collision", "vlan", "asset-type",
         "asset-zone"],
)  # fmt: skip
def test_bad_project_exits_2_and_writes_nothing(
    sample: Path, plantctl, tmp_path, old, new, needle, message
):
    text = _plant_with(old, new)
    source = _bad(tmp_path, text)
    run = _import(plantctl, source, sample)
    assert run.code == 2
    assert f"{source}:{_line_of(text, needle)}:" in run.err
    assert message in run.err
    assert "Traceback" not in run.err
    assert not (sample / "sites" / SITE).exists()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("zones: [a, b\n", 2, "invalid YAML"),
        ("- just\n- a list\n", 1, "not an InduForm project"),
        ("project: {name: x}\n", 1, "needs a list of zones"),
    ],
    ids=["not-yaml", "not-a-project", "no-zones"],
)
def test_not_a_project_exits_2(sample: Path, plantctl, tmp_path, text, line, message):
    run = _import(plantctl, _bad(tmp_path, text), sample)
    assert run.code == 2
    assert f"project.yaml:{line}:" in run.err
    assert message in run.err
    assert "Traceback" not in run.err
    assert not (sample / "sites" / SITE).exists()


def test_missing_file_exits_2(sample: Path, plantctl, tmp_path):
    run = _import(plantctl, tmp_path / "absent.yaml", sample)
    assert run.code == 2
    assert "absent.yaml:1:1: no such file" in run.err
    assert not (sample / "sites" / SITE).exists()


def test_existing_site_is_not_overwritten(imported: Path, plantctl):
    before = {n: (imported / "sites" / SITE / n).read_text() for n in FILES}
    run = _import(plantctl, PLANT, imported)
    assert run.code == 2
    assert "already exists" in run.err
    assert {n: (imported / "sites" / SITE / n).read_text() for n in FILES} == before


def test_import_into_defaults_to_inventory(tmp_path: Path, plantctl, monkeypatch):
    shutil.copytree(ROOT / "inventory", tmp_path / "inventory")
    monkeypatch.delenv("PLANTCTL_INVENTORY", raising=False)
    run = plantctl(
        "import", "--from", str(PLANT), "--format", "induform", "--site", SITE,
        "--supernet", "10.61.0.0/16", cwd=tmp_path,
    )  # fmt: skip
    assert run.code == 0, run.err
    assert (tmp_path / "inventory" / "sites" / SITE / "zones.yaml").exists()
    assert "192.168.1.50" in run.err  # the reallocated address is reported


def test_flows_without_a_catalogue_app_and_both_directions(sample: Path, plantctl, tmp_path):
    project = {
        "project": {"name": "Two zones"},
        "zones": [
            {"id": "ops", "name": "Ops", "type": "site_operations", "security_level_target": 2},
            {"id": "area_1", "name": "Area", "type": "area", "security_level_target": 2},
        ],
        "conduits": [
            {
                "id": "ops_area",
                "from_zone": "ops",
                "to_zone": "area_1",
                "flows": [
                    {"protocol": "mqtt", "port": 1883, "direction": "outbound"},
                    {"protocol": "vendor_sync", "port": 7000, "direction": "bidirectional"},
                    {"protocol": "cip", "port": 2222, "direction": "inbound"},
                ],
            }
        ],
    }
    source = tmp_path / "two.yaml"
    source.write_text(yaml.safe_dump(project))
    run = plantctl(
        "import", "--from", str(source), "--format", "induform", "--site", SITE,
        "--into", str(sample),
    )  # fmt: skip
    assert run.code == 0, run.err
    assert plantctl("validate", "--inventory", str(sample)).code == 0
    conduits = {c["id"]: c for c in _read(sample, "conduits.yaml")[1]["conduits"]}
    assert conduits["ops-area"]["services"] == [
        {"protocol": "tcp", "port": 1883, "name": "mqtt"},
        {"protocol": "tcp", "port": 7000, "name": "vendor-sync"},
    ]
    assert conduits["ops-area-return"]["from"] == "area-1"
    assert conduits["ops-area-return"]["services"] == [
        {"protocol": "tcp", "port": 7000, "name": "vendor-sync"},
        {"app": "cip-io"},
    ]
    zones = _read(sample, "zones.yaml")[1]["zones"]
    assert [z["cidr"] for z in zones] == ["10.60.1.0/24", "10.60.2.0/24"]  # default supernet


def test_clashes_with_the_rest_of_the_inventory(sample: Path, plantctl, tmp_path):
    text = _plant_with("{id: erp_srv,", "{id: rw_ews_01,")  # Ridgeway's engineering workstation
    source = _bad(tmp_path, text)
    run = _import(plantctl, source, sample)
    assert run.code == 2
    assert f"{source}:{_line_of(text, 'rw_ews_01')}:" in run.err
    assert "'rw-ews-01' is already used in" in run.err
    run = plantctl(
        "import", "--from", str(PLANT), "--format", "induform", "--site", SITE,
        "--into", str(sample), "--supernet", "10.0.0.0/8",
    )  # fmt: skip
    assert run.code == 2
    assert "10.0.0.0/8 overlaps 10.20.0.0/16" in run.err
    assert not (sample / "sites" / SITE).exists()


def test_overlapping_zone_subnets_are_refused(sample: Path, plantctl, tmp_path):
    text = _plant_with("subnet: 10.61.60.0/24", "subnet: 10.61.50.0/25")
    run = _import(plantctl, _bad(tmp_path, text), sample)
    assert run.code == 2
    assert f"project.yaml:{_line_of(text, '- id: capper_cell')}:" in run.err
    assert "overlaps the subnet of zone filler-cell" in run.err
    assert not (sample / "sites" / SITE).exists()


def test_supernet_from_the_projects_subnets_and_a_bad_timezone(sample: Path, plantctl):
    args = ("import", "--from", str(PLANT), "--format", "induform", "--site", SITE,
            "--into", str(sample))  # fmt: skip
    run = plantctl(*args, "--timezone", "Mars Base")
    assert run.code == 2
    assert "--timezone 'Mars Base'" in run.err
    assert not (sample / "sites" / SITE).exists()
    run = plantctl(*args, "--timezone", "Europe/Berlin")
    assert run.code == 0, run.err
    site = _read(sample, "site.yaml")[1]["site"]
    assert (site["supernet"], site["timezone"]) == ("10.61.0.0/16", "Europe/Berlin")
    assert plantctl("validate", "--inventory", str(sample)).code == 0
