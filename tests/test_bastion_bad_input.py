"""Bad remote-access input (issue 14, acceptance): each refused with its file and line and
nothing deployed for it, by the real commands (`plantctl validate`, `plantctl check` with the
real OPA and policies, `plantctl access otp-uri`) and by the stack program under Pulumi's mock
runtime (a grant for a person without a key).

| input | refused by | deployed |
| --- | --- | --- |
| end before start | check: RA-003 | never (grants.build skips it, also in the lab) |
| window longer than the policy | check: RA-004 (vendor), RA-005 (internal) | not merged |
| unknown target | validate (and every command that loads): INV-REF | nothing loads |
| person without a key | the stack: GrantRefused, before the bastion | nothing of the bastion |
| TOTP for a service account | access otp-uri: exit 2, what the name is, where | no seed exists |
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from meraki_mocks import KEY, NOW, ROOT, meraki_program

from plantctl.model.loader import load
from plantctl.plant import grants

VENDOR_END = "end: 2026-12-03T14:00:00-05:00"  # g-rw-0008, rkessler (external)
INTERNAL_END = "end: 2026-12-11T17:00:00-05:00"  # g-rw-0007, dokafor (internal)


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    inv = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inv)
    path = inv / "access" / "grants.yaml"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    return inv


def _line(inv: Path, text: str) -> int:
    lines = (inv / "access" / "grants.yaml").read_text().splitlines()
    [hit] = [i + 1 for i, line in enumerate(lines) if text in line]
    return hit


def _check(plantctl, inv: Path):
    return plantctl(
        "check", "--inventory", "inventory", "--policies", str(ROOT / "policies"),
        "--now", NOW, "--format", "json", cwd=inv.parent,
    )  # fmt: skip


def _violations(run) -> list[tuple[str, str]]:
    return [(v["rule"], f"{v['file']}:{v['line']}") for v in json.loads(run.out)["violations"]]


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (VENDOR_END, "end: 2026-12-03T07:00:00-05:00", "RA-003"),  # ends before it starts
        (VENDOR_END, "end: 2026-12-03T20:00:00-05:00", "RA-004"),  # a vendor's 12 hours
        (INTERNAL_END, "end: 2027-02-11T17:00:00-05:00", "RA-005"),  # an internal 3 months
    ],
)
def test_a_bad_window_is_refused_by_check_at_its_line(tmp_path, plantctl, old, new, rule):
    inv = _edited(tmp_path, old, new)
    run = _check(plantctl, inv)
    assert run.code == 1, run.out + run.err
    where = f"inventory/access/grants.yaml:{_line(inv, new)}"
    assert (rule, where) in _violations(run), run.out


def test_a_grant_that_ends_before_it_starts_is_never_deployed(tmp_path):
    inv = load(_edited(tmp_path, VENDOR_END, "end: 2026-12-03T07:00:00-05:00"))
    keys = {"dokafor": KEY, "rkessler": KEY}
    plan = grants.build(inv, "ridgeway", keys, include_ended=True)  # as the lab keeps ended ones
    deployed = {e.grant for e in plan.entries + plan.pending}
    assert "g-rw-0008" not in deployed
    [reason] = [s for s in plan.skipped if s.grant == "g-rw-0008"]
    assert reason.reason.startswith("it ends (2026-12-03T07:00:00-05:00) before it starts")
    assert reason.where.endswith("inventory/access/grants.yaml:19")


def test_an_unknown_target_is_refused_by_validate_at_its_line(tmp_path, plantctl):
    inv = _edited(tmp_path, "target: rw-hmi-01", "target: rw-hmi-09")
    run = plantctl("validate", "--inventory", "inventory", cwd=inv.parent)
    assert run.code == 2, run.out + run.err
    shown = f"inventory/access/grants.yaml:{_line(inv, 'target: rw-hmi-09')}:"
    assert any(row.startswith(shown) and "rw-hmi-09" in row and row.endswith("[INV-REF]")
               for row in run.err.splitlines()), run.err  # fmt: skip


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("gateway.gw-rw-01", "'gateway.gw-rw-01' is a service account (the broker account of "
         "gateway 'gw-rw-01' (inventory/sites/ridgeway/gateways.yaml:3))"),
        ("role.operator", "'role.operator' is a service account (the broker account of role "
         "'operator' (inventory/org/roles.yaml:"),
        ("dokafor", "'dokafor' is a person (inventory/org/people.yaml:3), not a grant: give the "
         "grant id (their MFA grants at ridgeway: g-rw-0007)"),
        ("gw-rw-01", "'gw-rw-01' is a gateway (inventory/sites/ridgeway/gateways.yaml:3)"),
        ("g-rw-0099", "no grant 'g-rw-0099' at site 'ridgeway'; the MFA grants at ridgeway: "
         "g-rw-0007, g-rw-0008"),
    ],
)  # fmt: skip
def test_a_totp_request_for_anything_but_an_mfa_grant_is_refused(tmp_path, plantctl, name, says):
    run = plantctl("access", "otp-uri", name, "--site", "ridgeway", "--state-dir", str(tmp_path))
    assert run.code == 2, run.out + run.err
    assert run.err.startswith("plantctl access otp-uri: ") and says in run.err
    assert run.out == "" and "Traceback" not in run.err
    assert list(tmp_path.iterdir()) == []


def test_a_totp_request_for_a_grant_without_mfa_names_its_line(tmp_path, plantctl):
    inv = _edited(tmp_path, "    mfa: true\n    session_recording: false", "    mfa: false\n"
                  "    session_recording: false")  # fmt: skip
    run = plantctl("access", "otp-uri", "g-rw-0007", "--site", "ridgeway",
                   "--inventory", str(inv), "--state-dir", str(tmp_path / "state"))  # fmt: skip
    assert run.code == 2
    assert "grant 'g-rw-0007' (" in run.err and "grants.yaml:4) has mfa: false" in run.err


# -- a grant for a person without a key: the stack program refuses it -------------------------


@pytest.fixture
def production_without_a_key(tmp_path):
    # none for rkessler (g-rw-0008)
    with meraki_program(tmp_path / "out", preview=True, ssh_keys={"dokafor": KEY}) as (
        program,
        mocks,
    ):
        yield program, mocks, tmp_path / "out"


# the program stops half-way on purpose: the engine's pending registrations are never awaited
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_grant_for_a_person_without_a_key_is_refused_and_the_bastion_untouched(
    production_without_a_key,
):
    program, mocks, out = production_without_a_key
    with pytest.raises(grants.GrantRefused) as refused:
        program.main()
    assert str(refused.value).startswith(
        "inventory/access/grants.yaml:19: grant g-rw-0008: no public key for 'rkessler': give "
        "the person's SSH public key (plantctl:sshKeys on the production target)"
    )
    assert not any("bastion" in r.name for r in mocks.resources)
    assert not out.exists()
