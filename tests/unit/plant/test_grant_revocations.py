"""Unit tests of emergency revocations in plantctl.plant.grants (revoke, reapproved): a revoked
grant is left out of the bastion until it is removed or re-approved (a new approval dated on or
after the revocation's day), and the plan says why."""

from __future__ import annotations

from datetime import UTC, datetime

from plantctl.plant import grants

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForGrantUnitTests00000000000000000000"
KEYS = {"dokafor": KEY, "rkessler": KEY}
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # inside g-rw-0007's window
AT = datetime(2026, 11, 22, 11, 30, 5, tzinfo=UTC)


def _revocation(plan, grant="g-rw-0007", site="ridgeway"):
    entry = next(e for e in plan.entries + plan.pending if e.grant == grant)
    return grants.Revocation(grant, site, AT, entry.approvals)


def test_a_revoked_grant_is_left_out_and_says_how_to_bring_it_back(plant):
    plan = grants.build(plant, "ridgeway", KEYS, now=NOW)
    assert [e.grant for e in plan.entries] == ["g-rw-0007"]
    revoked = grants.revoke(plan, [_revocation(plan)])
    assert revoked.entries == () and [e.grant for e in revoked.revoked] == ["g-rw-0007"]
    reason = {s.grant: s.reason for s in revoked.skipped}["g-rw-0007"]
    assert reason == (
        "revoked at 2026-11-22T11:30:05Z (plantctl access revoke): remove the grant, or "
        "re-approve it (a new approval dated 2026-11-22 or later)"
    )
    assert [e.grant for e in revoked.pending] == ["g-rw-0008"]  # the other grant untouched


def test_a_revocation_of_another_site_or_grant_changes_nothing(plant):
    plan = grants.build(plant, "ridgeway", KEYS, now=NOW)
    other = grants.Revocation("g-rw-0007", "lakeside", AT, ())
    assert grants.revoke(plan, [other]) == plan
    assert grants.revoke(plan, []) == plan


def test_a_pending_grant_can_be_revoked_before_its_start(plant):
    plan = grants.build(plant, "ridgeway", KEYS, now=NOW)
    revoked = grants.revoke(plan, [_revocation(plan, "g-rw-0008")])
    assert revoked.pending == () and [e.grant for e in revoked.revoked] == ["g-rw-0008"]


def test_only_a_new_approval_dated_on_or_after_the_revocation_re_approves():
    then = (("mlopez", "ops-ridgeway", "2026-11-13"), ("tberg", "it-security", "2026-11-13"))
    rev = grants.Revocation("g-rw-0007", "ridgeway", AT, then)
    assert not grants.reapproved(rev, then)  # unchanged
    assert not grants.reapproved(rev, then[:1])  # an approval removed is no re-approval
    # a new approval, but dated before the revocation: an old one copied in
    assert not grants.reapproved(rev, (*then, ("praman", "it-security", "2026-11-21")))
    assert grants.reapproved(rev, (*then, ("praman", "it-security", "2026-11-22")))
    assert grants.reapproved(rev, (("tberg", "it-security", "2026-11-23"),))


def test_entries_carry_their_approvals(plant):
    plan = grants.build(plant, "ridgeway", KEYS, now=NOW)
    [entry] = plan.entries
    assert entry.approvals == (
        ("mlopez", "ops-ridgeway", "2026-11-13"),
        ("tberg", "it-security", "2026-11-13"),
    )
