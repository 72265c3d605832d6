"""`plantctl paths`: attack paths of the sample plant over its allowed conduits, pivoting only
on services that give a foothold; bad input exits 2 with a message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from plant_repo import git, sample_repo

from plantctl.gate import facts
from plantctl.model.loader import load
from plantctl.plant import attack_paths

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = str(ROOT / "inventory")
NOW = "2026-11-22T12:00:00Z"

BASTION = ("remote-access/rw-bastion",)
GW1, GW2, GW3 = (f"supervisory/gw-rw-0{i}" for i in (1, 2, 3))
HMI = "supervisory/rw-hmi-01"
MOLDING = ("cell-molding/rw-comp-01", "cell-molding/rw-press-01", "cell-molding/rw-press-02")


def _behind_the_bastion(before: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Every chain the sample opens once a path holds the bastion (or the whole remote-access
    zone): the gateways and the HMI server over ssh/https, then what each of them reads."""
    chains = {(*before, node) for node in (GW1, GW2, GW3, HMI)}
    chains |= {
        (*before, GW1, node) for node in ("cell-machining/rw-cnc-01", "cell-machining/rw-cnc-02")
    }
    for gw in (GW1, GW2, GW3):
        chains.add((*before, gw, "dmz/rw-broker"))
    for gw in (GW2, GW3):
        chains |= {(*before, gw, node) for node in MOLDING}
    chains.add((*before, HMI, "cell-machining"))
    return chains


def _chains(run) -> set[tuple[str, ...]]:
    assert run.code == 0, run.err
    return {tuple(h["node"] for h in p["hops"]) for p in json.loads(run.out)["paths"]}


def _paths(plantctl, *args: str):
    return plantctl("paths", "--inventory", INVENTORY, "--site", "ridgeway", *args)


def test_from_the_internet_every_path_goes_through_the_bastion(plantctl):
    found = _chains(_paths(plantctl, "--from", "internet", "--format", "json"))
    assert found == {BASTION} | _behind_the_bastion(BASTION)
    assert len(found) == 17


def test_from_the_enterprise_the_broker_is_a_dead_end_and_the_bastion_a_pivot(plantctl):
    found = _chains(_paths(plantctl, "--from", "enterprise", "--format", "json"))
    # mqtts gives no foothold: the broker is reached and nothing goes on from it.
    assert found == {("dmz/rw-broker",), BASTION} | _behind_the_bastion(BASTION)


def test_from_remote_access_the_whole_zone_is_the_origin(plantctl):
    found = _chains(_paths(plantctl, "--from", "remote-access", "--format", "json"))
    assert found == _behind_the_bastion(())


def test_to_a_device_includes_paths_reaching_its_whole_zone(plantctl):
    found = _chains(_paths(plantctl, "--from", "internet", "--to", "rw-cnc-01", "--format", "json"))
    assert found == {
        (*BASTION, GW1, "cell-machining/rw-cnc-01"),
        (*BASTION, HMI, "cell-machining"),
    }


def test_to_a_zone_nothing_reaches_the_safety_system(plantctl):
    run = _paths(plantctl, "--to", "sis-molding")
    assert run.code == 0, run.err
    assert run.out == "ridgeway: 0 path(s)\n"


def test_each_path_names_its_hops_and_weakest_countermeasure(plantctl):
    run = _paths(plantctl, "--from", "internet", "--to", "cell-machining", "--format", "json")
    via_hmi = next(p for p in json.loads(run.out)["paths"] if p["device"] is None)
    assert [(h["conduit"], h["services"], h["inspection"]) for h in via_hmi["hops"]] == [
        ("vendors-to-bastion", ["ssh"], "stateful"),
        ("bastion-to-supervisory", ["ssh", "https"], "stateful"),
        ("hmi-machining", ["opcua", "modbus"], "stateful"),
    ]
    assert via_hmi["hops"][1]["pivot_on"] == ["ssh", "https"]
    assert via_hmi["weakest"] == {
        "conduit": "hmi-machining",
        "inspection": "stateful",
        "security_level_capability": 2,
    }
    assert via_hmi["inspected_hops"] == 3
    text = _paths(plantctl, "--from", "internet", "--to", "cell-machining").out
    assert (
        "  internet -> remote-access/rw-bastion (vendors-to-bastion: ssh) -> "
        "supervisory/rw-hmi-01 (bastion-to-supervisory: ssh, https) -> cell-machining "
        "(hmi-machining: opcua, modbus); weakest hmi-machining (inspection stateful, SL-C 2); "
        "inspected hops 3\n" in text
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--site", "nowhere"), "no site 'nowhere'; sites: lakeside, ridgeway"),
        (("--site", "ridgeway", "--from", "mars"), "--from 'mars' is neither internet"),
        (("--site", "ridgeway", "--to", "rw-nothing"), "--to 'rw-nothing' is neither a zone"),
        (("--site", "lakeside", "--from", "sis-molding"), "zones there: cell-stamping"),
    ],
)
def test_bad_input_exits_2_with_a_message(plantctl, args, message):
    run = plantctl("paths", "--inventory", INVENTORY, *args)
    assert run.code == 2
    assert message in run.err
    assert run.out == ""


def test_no_path_is_exit_0(plantctl):
    run = plantctl("paths", "--inventory", INVENTORY, "--site", "lakeside")
    assert (run.code, run.out) == (0, "lakeside: 0 path(s)\n")


def test_a_foothold_service_makes_a_pivot(tmp_path):
    """s7comm is an engineering protocol: a cell device reached on it becomes a pivot, so a
    conduit from that cell onwards opens longer paths; opc-ua and modbus do not."""
    inv_dir = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inv_dir)
    conduits = inv_dir / "sites" / "ridgeway" / "conduits.yaml"
    text = conduits.read_text()
    text = text.replace(
        "    services: [{protocol: tcp, port: 4840, name: opcua}]\n"
        "    purpose: Gateway gw-rw-01 reads",
        "    services: [{app: s7comm}]\n    purpose: Gateway gw-rw-01 reads",
    )
    text += (
        "  - {id: cnc-to-molding, from: cell-machining, to: cell-molding, sources: [10.20.11.21],"
        " services: [{app: opc-ua}], purpose: test, justification: test}\n"
    )
    conduits.write_text(text)
    found = {
        tuple(h["node"] for h in p["hops"])
        for p in attack_paths.find(load(inv_dir), "ridgeway", "internet", "cell-molding")["paths"]
    }
    assert (*BASTION, GW1, "cell-machining/rw-cnc-01", "cell-molding") in found
    assert not any("cell-machining/rw-cnc-02" in chain[:-1] for chain in found)


def test_the_facts_carry_the_paths_the_policy_reads():
    document = facts.build(load(INVENTORY))
    found = document["attack_paths"]
    assert {p["from_kind"] for p in found} == {"internet", "enterprise", "remote-access"}
    into_cells = [p for p in found if p["to_kind"] in ("cell", "safety")]
    assert into_cells and all(
        sum(h["inspection"] != "none" for h in p["hops"]) >= 2 for p in into_cells
    )
    assert found[0]["hops"][0].keys() == {"conduit", "conduit_key", "zone", "inspection"}


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    inv_dir = tmp_path / name
    shutil.copytree(ROOT / "inventory", inv_dir)
    conduits = inv_dir / "sites" / "ridgeway" / "conduits.yaml"
    text = conduits.read_text()
    assert text.count(old) == 1
    conduits.write_text(text.replace(old, new))
    return inv_dir


EWS_TOO = (
    "destinations: [10.20.20.10, 10.20.20.21, 10.20.20.22, 10.20.20.23]",
    "destinations: [10.20.20.10, 10.20.20.21, 10.20.20.22, 10.20.20.23, 10.20.20.30]",
)


def test_a_change_opens_and_closes_paths(tmp_path):
    base = load(INVENTORY)
    head = load(_edited(tmp_path, "head", *EWS_TOO))
    opened, closed = attack_paths.diff(base, head)
    assert opened == [
        "ridgeway: enterprise -> remote-access/rw-bastion (staff-to-bastion) -> "
        "supervisory/rw-ews-01 (bastion-to-supervisory)",
        "ridgeway: internet -> remote-access/rw-bastion (vendors-to-bastion) -> "
        "supervisory/rw-ews-01 (bastion-to-supervisory)",
        "ridgeway: remote-access -> supervisory/rw-ews-01 (bastion-to-supervisory)",
    ]
    assert closed == []
    assert attack_paths.diff(head, base) == (closed, opened)


def test_the_pull_request_comment_lists_the_paths_it_opens(tmp_path, plantctl):
    repo = sample_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD")
    conduits = repo / "inventory" / "sites" / "ridgeway" / "conduits.yaml"
    conduits.write_text(conduits.read_text().replace(*EWS_TOO))
    git(repo, "commit", "-qam", "head")
    run = plantctl(
        "check", "--base", base, "--head", "HEAD", "--now", NOW, "--format", "markdown", cwd=repo
    )
    assert run.code in (0, 1), run.err
    assert (
        "**Attack paths opened** (plantctl paths; from the internet, enterprise or remote "
        "access):\n\n"
        "- ridgeway: enterprise -&gt; remote-access/rw-bastion (staff-to-bastion) -&gt; "
        "supervisory/rw-ews-01 (bastion-to-supervisory)\n" in run.out
    )
    assert "Attack paths closed" not in run.out
