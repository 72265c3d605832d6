"""Unit tests of the revocation record that `plantctl access revoke` keeps and the stack reads
(plantctl.providers.lab_revoke: load, save, in_force) and of the pull-request edit it prints."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest

from plantctl.plant import grants
from plantctl.providers import lab_revoke

AT = datetime(2026, 11, 22, 11, 30, 5, tzinfo=UTC)


def test_revocations_round_trip_and_a_damaged_file_fails_closed(tmp_path):
    rev = grants.Revocation(
        "g-rw-0007", "ridgeway", AT, (("mlopez", "ops-ridgeway", "2026-11-13"),)
    )
    lab_revoke.save(tmp_path, [rev])
    assert lab_revoke.load(tmp_path) == [rev]
    assert lab_revoke.load(tmp_path / "none") == []
    (tmp_path / lab_revoke.STATE_FILE).write_text('{"revocations": [{"grant": 1}]}')
    with pytest.raises(lab_revoke.RevokeError, match="unreadable revocations"):
        lab_revoke.load(tmp_path)


def test_in_force_until_removed_or_re_approved(plant):
    then = grants.approvals_of(plant.get("grant", "g-rw-0007").data)
    kept = grants.Revocation("g-rw-0007", "ridgeway", AT, then)
    gone = grants.Revocation("g-rw-0999", "ridgeway", AT, ())  # removed from the inventory
    elsewhere = grants.Revocation("g-rw-0008", "lakeside", AT, ())
    assert lab_revoke.in_force(plant, [kept, gone, elsewhere]) == [kept]
    early = grants.Revocation("g-rw-0007", "ridgeway", datetime(2026, 11, 1, tzinfo=UTC), ())
    assert lab_revoke.in_force(plant, [early]) == []  # its approvals are newer: re-approved


def test_the_pull_request_edit_ends_the_grant_at_the_revocation(plant, tmp_path):
    edit = lab_revoke.pr_edit(plant, "g-rw-0008", AT)
    rec = plant.get("grant", "g-rw-0008")
    _path, line, _col = rec.locate("end")
    assert edit.splitlines() == [
        f"--- a/{rec.file}",
        f"+++ b/{rec.file}",
        f"@@ -{line} +{line} @@",
        "-    end: 2026-12-03T14:00:00-05:00",
        "+    end: 2026-11-22T11:30:05Z",
    ]
    # and it applies: git apply to a copy of the file
    copy = tmp_path / rec.file
    copy.parent.mkdir(parents=True)
    copy.write_text(rec.doc.text)
    (tmp_path / "edit.patch").write_text(edit)
    done = subprocess.run(["git", "apply", "--unidiff-zero", "edit.patch"], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "    end: 2026-11-22T11:30:05Z\n" in copy.read_text()
