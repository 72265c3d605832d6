"""Fail closed: whenever the policy engine gives no trustworthy answer, `plantctl check` exits 3,
never 0. Every case runs a real OPA server (or a real closed port)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from plantctl.gate.engine import OpaServer, opa_binary

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"


def _policies(tmp_path: Path, rego: str) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "decision.rego").write_text(rego)
    return folder


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


def test_opa_url_pointing_at_a_closed_port_exits_3(plantctl, monkeypatch):
    monkeypatch.setenv("OPA_URL", f"http://127.0.0.1:{_closed_port()}")
    run = plantctl("check", "--inventory", str(ROOT / "inventory"), "--now", NOW)
    assert run.code == 3
    assert "failing closed" in run.err


def test_undefined_decision_exits_3(plantctl, tmp_path):
    policies = _policies(tmp_path, "package plant.other\n\nx := 1\n")
    run = plantctl(
        "check", "--inventory", str(ROOT / "inventory"), "--policies", str(policies), "--now", NOW
    )
    assert run.code == 3
    assert "undefined" in run.err


def test_malformed_decision_exits_3(plantctl, tmp_path):
    policies = _policies(tmp_path, 'package plant.gate\n\nresult := {"violations": "none"}\n')
    run = plantctl(
        "check", "--inventory", str(ROOT / "inventory"), "--policies", str(policies), "--now", NOW
    )
    assert run.code == 3
    assert "no list of violations" in run.err


def test_policies_that_do_not_compile_exit_3(plantctl, tmp_path):
    policies = _policies(tmp_path, "package plant.gate\n\nresult := [\n")
    run = plantctl(
        "check", "--inventory", str(ROOT / "inventory"), "--policies", str(policies), "--now", NOW
    )
    assert run.code == 3
    assert "exited at start" in run.err


def test_missing_policies_folder_exits_3(plantctl, tmp_path):
    run = plantctl(
        "check",
        "--inventory",
        str(ROOT / "inventory"),
        "--policies",
        str(tmp_path / "nowhere"),
        "--now",
        NOW,
    )
    assert run.code == 3


def test_engine_killed_mid_query_exits_3(plantctl, tmp_path, monkeypatch):
    # A decision that takes seconds to compute, so the server can be killed while answering.
    slow = (
        "package plant.gate\n\n"
        'result := {"violations": []} if {\n'
        "\tcount([x | some x in numbers.range(1, 30000000)]) > 0\n}\n"
    )
    policies = _policies(tmp_path, slow)
    server = OpaServer(policies)
    server.__enter__()
    try:
        monkeypatch.setenv("OPA_URL", f"http://127.0.0.1:{server.port}")
        killer = threading.Timer(0.5, server.process.kill)
        killer.start()
        started = time.monotonic()
        run = plantctl("check", "--inventory", str(ROOT / "inventory"), "--now", NOW)
        killer.join()
        assert run.code == 3, run.out + run.err
        assert time.monotonic() - started < 30
    finally:
        server.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("person", "code", "word"), [("nobody", 0, "PASS"), ("rkessler", 1, "FAIL")]
)
def test_a_well_formed_answer_is_read_as_it_is(plantctl, tmp_path, person, code, word):
    """The near misses of the cases above: a real, well-formed decision passes or fails."""
    rego = (
        'package plant.gate\n\nresult := {"violations": [v |\n\tsome id, g in input.grants\n'
        f'\tg.person == "{person}"\n\tv := {{"rule": "T-1", "msg": "m", "kind": "grant", '
        '"id": id}\n]}\n'
    )
    policies = _policies(tmp_path, rego)
    run = plantctl(
        "check", "--inventory", str(ROOT / "inventory"), "--policies", str(policies), "--now", NOW
    )
    assert run.code == code, run.err
    assert word in run.out


@pytest.fixture(autouse=True)
def _opa_available():
    # The engine is part of set-up (make setup); its absence is a set-up failure, not a skip.
    assert Path(opa_binary()).exists()
    assert subprocess.run([opa_binary(), "version"], capture_output=True).returncode == 0
