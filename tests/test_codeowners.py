"""`.github/CODEOWNERS` is generated from ownership; the committed file must match, and drift is
reported with exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_committed_codeowners_matches_ownership(plantctl):
    run = plantctl(
        "codeowners", "--check", "--inventory", str(ROOT / "inventory"), "--root", str(ROOT)
    )
    assert run.code == 0, run.err


def test_zone_override_and_security_owners_appear(tmp_path, plantctl):
    run = plantctl("codeowners", "--inventory", str(ROOT / "inventory"), "--root", str(tmp_path))
    assert run.code == 0
    text = (tmp_path / ".github" / "CODEOWNERS").read_text()
    rows = dict(line.split(None, 1) for line in text.splitlines() if line[:1] in ("/", "*"))
    # Everything governs the gate unless it is inventory data or prose (APR-008).
    assert rows["*"].split() == ["@harrow-mfg/it-security", "@harrow-mfg/audit"]
    assert rows["/inventory/schema/"].split() == ["@harrow-mfg/it-security", "@harrow-mfg/audit"]
    assert rows["/docs/"].split() == ["@harrow-mfg/it-network", "@harrow-mfg/ops-ridgeway"]
    assert rows["/inventory/sites/lakeside/"].split() == [
        "@harrow-mfg/it-network",
        "@harrow-mfg/ops-lakeside",
    ]
    assert "@harrow-mfg/maint-ridgeway" in rows["/inventory/sites/ridgeway/gateways.yaml"]


def test_drift_is_reported(tmp_path, plantctl):
    (tmp_path / ".github").mkdir()
    shutil.copy(ROOT / ".github" / "CODEOWNERS", tmp_path / ".github" / "CODEOWNERS")
    with (tmp_path / ".github" / "CODEOWNERS").open("a") as handle:
        handle.write("/inventory/ @someone/else\n")
    run = plantctl(
        "codeowners", "--check", "--inventory", str(ROOT / "inventory"), "--root", str(tmp_path)
    )
    assert run.code == 1
    assert ".github/CODEOWNERS:1:1: .github/CODEOWNERS differs from what ownership generates" in (
        run.err
    )


def test_missing_file_is_drift(tmp_path, plantctl):
    run = plantctl(
        "codeowners", "--check", "--inventory", str(ROOT / "inventory"), "--root", str(tmp_path)
    )
    assert run.code == 1
    assert "is missing; run `plantctl codeowners`" in run.err
