"""Waivers (inventory/waivers.yaml) through the real gate: a waiver in force moves its violation
to the waived list of every output format; an expired or unmatched waiver fails the gate with
WAI-001 / WAI-002 at the waiver's line; an unknown approver is refused by the loader."""

from __future__ import annotations

import json
from pathlib import Path

NOW = "2026-11-22T12:00:00Z"
CONDUITS = "sites/lakeside/conduits.yaml"
OPEN = "services: [{protocol: tcp, port: 22, name: ssh}]"


def _break(sample: Path) -> None:
    path = sample / CONDUITS
    text = path.read_text()
    path.write_text(text.replace("services: [{protocol: tcp, port: 443, name: https}]", OPEN, 1))


def _waive(
    sample: Path,
    *,
    expires: str = "2026-12-15",
    obj: str = "lakeside/enterprise-egress",
    approver: str = "tberg",
) -> None:
    (sample / "waivers.yaml").write_text(
        "waivers:\n"
        "  - id: w-ls-0001\n"
        "    rule: SEG-020\n"
        "    kind: conduit\n"
        f"    object: {obj}\n"
        "    reason: Legacy terminal needs ssh out until CHG-2301\n"
        f"    approver: {approver}\n"
        "    ticket: CHG-2301\n"
        f"    expires: {expires}\n"
    )


def _check(plantctl, sample: Path, fmt: str = "json"):
    return plantctl("check", "--inventory", str(sample), "--now", NOW, "--format", fmt)


def test_a_waiver_in_force_passes_the_gate_and_is_listed(plantctl, sample):
    _break(sample)
    assert _check(plantctl, sample).code == 1  # without the waiver: SEG-020
    _waive(sample)
    run = _check(plantctl, sample)
    assert run.code == 0, run.out + run.err
    doc = json.loads(run.out)
    assert doc["violations"] == []
    assert doc["counts"]["waived"] == 1
    [waived] = doc["waived"]
    assert (waived["rule"], waived["kind"], waived["id"]) == (
        "SEG-020",
        "conduit",
        "lakeside/enterprise-egress",
    )
    assert waived["file"].endswith(CONDUITS)
    assert waived["waiver"]["id"] == "w-ls-0001"
    assert waived["waiver"]["approver"] == "tberg"
    assert waived["waiver"]["expires"] == "2026-12-15"
    assert waived["waiver"]["file"].endswith("waivers.yaml") and waived["waiver"]["line"] == 2

    text = _check(plantctl, sample, "text").out
    assert "waived SEG-020" in text and "waiver w-ls-0001 approved by tberg" in text
    assert "PASS" in text and "1 waived" in text
    markdown = _check(plantctl, sample, "markdown").out
    assert "### Waived violations" in markdown and "| w-ls-0001 | tberg | 2026-12-15 |" in markdown
    sarif = json.loads(_check(plantctl, sample, "sarif").out)
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "SEG-020"
    [suppression] = result["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert suppression["justification"].startswith("Legacy terminal")
    assert suppression["properties"]["id"] == "w-ls-0001"


def test_an_expired_waiver_is_a_violation_and_waives_nothing(plantctl, sample):
    _break(sample)
    _waive(sample, expires="2026-11-22")
    run = _check(plantctl, sample)
    assert run.code == 1
    doc = json.loads(run.out)
    assert sorted(v["rule"] for v in doc["violations"]) == ["SEG-020", "WAI-001"]
    wai = next(v for v in doc["violations"] if v["rule"] == "WAI-001")
    assert wai["file"].endswith("waivers.yaml") and wai["line"] == 9  # the expires line
    assert "expired on 2026-11-22" in wai["message"]
    assert doc["waived"] == []


def test_a_waiver_that_matches_nothing_is_a_violation(plantctl, sample):
    _waive(sample)  # the conduit is fine: nothing to waive
    run = _check(plantctl, sample)
    assert run.code == 1
    [wai] = json.loads(run.out)["violations"]
    assert wai["rule"] == "WAI-002" and wai["line"] == 2
    assert "there is no such violation" in wai["message"]


def test_an_unknown_approver_is_refused_by_the_loader(plantctl, sample):
    _break(sample)
    _waive(sample, approver="nobody")
    run = plantctl("validate", "--inventory", str(sample))
    assert run.code == 2
    assert "waivers.yaml:7:" in run.err and "approver 'nobody' does not exist" in run.err


def test_a_waiver_needs_an_expiry_date(plantctl, sample):
    (sample / "waivers.yaml").write_text(
        "waivers:\n  - {id: w-1, rule: SEG-020, kind: conduit, object: a/b, reason: r,"
        " approver: tberg}\n"
    )
    run = plantctl("validate", "--inventory", str(sample))
    assert run.code == 2 and "expires" in run.err


def test_waivers_appear_in_the_evidence_pack(plantctl, sample, tmp_path):
    _break(sample)
    _waive(sample)
    out = tmp_path / "audit"
    root = Path(__file__).resolve().parents[1]
    run = plantctl(
        "audit", "--inventory", str(sample), "--policies", str(root / "policies"),
        "--now", NOW, "--output", str(out), cwd=root,
    )  # fmt: skip
    assert run.code == 0, run.err
    doc = json.loads((out / "evidence.json").read_text())
    assert [w["waiver"]["id"] for w in doc["inventory"]["waived"]] == ["w-ls-0001"]
    assert [w["id"] for w in doc["inventory"]["waivers"]] == ["w-ls-0001"]
    seg = next(r for r in doc["rules"] if r["id"] == "SEG-020")
    assert seg["result"]["text"] == "holds, 1 waived"
    page = (out / "evidence.html").read_text()
    assert "w-ls-0001" in page and "Legacy terminal" in page
