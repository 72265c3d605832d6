"""`plantctl plan-check`: a stack's preview judged by the plan policy; exit codes 0-3."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def firewall_step(rule: dict) -> dict:
    return {
        "op": "create",
        "urn": "urn:pulumi:lab-ridgeway::plant::pulumi-python:dynamic:Resource::ridgeway-fw",
        "newState": {
            "type": "pulumi-python:dynamic:Resource",
            "inputs": {"declares": {"kind": "firewall", "default_policy": "drop", "rules": [rule]}},
        },
    }


DECLARED = {
    "conduit": "mes-subscribe",
    "name": "mes-subscribe/mqtts",
    "from": "site-ops",
    "to": "dmz",
    "sources": ["10.20.30.0/24"],
    "destinations": ["10.20.35.10"],
    "protocol": "tcp",
    "ports": "8883",
}


def write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def run(plantctl, plan: Path, *extra: str):
    return plantctl(
        "plan-check",
        "--inventory",
        str(ROOT / "inventory"),
        "--site",
        "ridgeway",
        "--plan",
        str(plan),
        "--policies",
        str(ROOT / "policies"),
        *extra,
    )


def test_a_plan_of_declared_conduits_passes(plantctl, tmp_path):
    result = run(plantctl, write(tmp_path, {"steps": [firewall_step(DECLARED)]}))
    assert result.code == 0, result.err
    assert result.out == "plan of site ridgeway passes: 0 violation(s) in 1 resource(s)\n"


def test_a_rule_wider_than_its_conduit_fails(plantctl, tmp_path):
    wide = {**DECLARED, "sources": ["10.20.0.0/16"]}
    result = run(plantctl, write(tmp_path, {"steps": [firewall_step(wide)]}), "--format", "json")
    assert result.code == 1
    [violation] = json.loads(result.out)["violations"]
    assert violation["rule"] == "PLAN-001"
    assert violation["title"] == "Every firewall rule is a declared conduit"
    assert violation["msg"] == (
        "firewall rule mes-subscribe/mqtts (site-ops -> dmz, tcp 8883) is not a declared conduit "
        "of site ridgeway; declare it in conduits.yaml or remove it"
    )


def test_a_file_that_is_not_a_preview_is_invalid_input(plantctl, tmp_path):
    assert run(plantctl, write(tmp_path, "not json")).code == 2
    result = run(plantctl, write(tmp_path, {"config": {}}))
    assert result.code == 2
    assert "no 'steps' list" in result.err


def test_no_policy_engine_fails_closed(plantctl, tmp_path):
    plan = write(tmp_path, {"steps": []})
    result = plantctl(
        "plan-check",
        "--inventory",
        str(ROOT / "inventory"),
        "--site",
        "ridgeway",
        "--plan",
        str(plan),
        "--policies",
        str(tmp_path / "missing"),
    )
    assert result.code == 3
    assert "failing closed" in result.err
