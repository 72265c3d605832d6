"""`plantctl access revoke GRANT --site S`: IT's emergency stop of one grant on the lab bastion.

At once, in this order:
1. the revocation is recorded in the lab state directory (`revocations.json`, beside the CA and
   the seeds: the bastion's side), which the stack reads: its next run leaves the grant out of
   the bastion (plantctl.plant.grants.revoke) until the grant is removed from the inventory or
   re-approved (a new approval dated on or after the revocation's day);
2. the grant can no longer log in: its certificate's key id goes into the bastion CA's KRL
   (sshd's RevokedKeys, read on every login), and the account's key and principals files are
   removed (the plain key line of an active grant is the person's key, which other grants of
   theirs may share, so it is not revoked by key);
3. its open sessions and forwards are closed: the account's end in the grant reaper's file is
   set to now (plantctl.configs.grant_reaper) and its processes are killed straight away; the
   command waits (5 s at most) until none is left and says how long it took.

It prints the pull-request edit that makes the revocation permanent: the grant's `end` set to
the moment of revocation (a diff of the grants file), or remove the grant.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plantctl.configs import grant_reaper, ssh_certs
from plantctl.core import atomic
from plantctl.lab import process
from plantctl.lab.machine import INSIDE_ENV
from plantctl.lab.netns import Namespace
from plantctl.model import tokens
from plantctl.model.inventory import Inventory
from plantctl.plant import grants
from plantctl.providers import lab_sshca
from plantctl.providers.lab import RUN_ROOT

STATE_FILE = "revocations.json"
CLOSE_WITHIN = 5.0  # seconds: the bound from revocation to closed sessions


class RevokeError(ValueError):
    """Bad input or no lab to act on: exit 2, nothing changed."""


@dataclass
class Result:
    grant: str
    site: str
    bastion: str
    at: datetime
    key_id: str
    processes: int  # the account's processes (its sessions) when it was revoked
    closed_s: float  # from the start of the revocation to no process of the account left
    state_file: Path
    edit: str  # the pull-request edit (unified diff of the grants file)


def load(state_dir: Path) -> list[grants.Revocation]:
    path = Path(state_dir) / STATE_FILE
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text())
        return [
            grants.Revocation(
                grant=str(r["grant"]),
                site=str(r["site"]),
                at=grants.parse_time(str(r["at"])),
                approvals=tuple((str(p), str(t), str(d)) for p, t, d in r["approvals"]),
            )
            for r in doc["revocations"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # fail closed: a stack must not deploy revoked grants because this file is damaged
        raise RevokeError(f"{path}: unreadable revocations ({exc}); fix or restore it") from exc


def save(state_dir: Path, revocations: list[grants.Revocation]) -> Path:
    doc = {
        "revocations": [
            {
                "grant": r.grant,
                "site": r.site,
                "at": r.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "approvals": [list(a) for a in r.approvals],
            }
            for r in revocations
        ]
    }
    return atomic.write_text(Path(state_dir) / STATE_FILE, json.dumps(doc, indent=1) + "\n")


def in_force(inv: Inventory, revocations: list[grants.Revocation]) -> list[grants.Revocation]:
    """Revocations of grants still in the inventory at their site and not re-approved."""
    kept = []
    for rev in revocations:
        rec = inv.get("grant", rev.grant)
        if (
            rec is not None
            and rec.data["site"] == rev.site
            and not grants.reapproved(rev, grants.approvals_of(rec.data))
        ):
            kept.append(rev)
    return kept


def pr_edit(inv: Inventory, grant: str, at: datetime) -> str:
    """A unified diff that ends the grant at `at` in its inventory file."""
    rec = inv.get("grant", grant)
    assert rec is not None
    path, line, col = rec.locate("end")
    if Path(path).is_absolute():  # an inventory outside the repository: <root>/access/grants.yaml
        path = "/".join(Path(path).parts[-3:])
    lines = rec.doc.text.splitlines()
    old = lines[line - 1]
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head, tail = old[: col - 1], old[col - 1 :]
    new_tail, n = re.subn(r"^end:(\s*)[^,}\s#]+", rf"end:\g<1>{stamp}", tail, count=1)
    if not n:  # no end to move (RA-002 refuses such a grant): remove it instead
        return f"# remove grant {grant} from {path} (line {rec.line})\n"
    return f"--- a/{path}\n+++ b/{path}\n@@ -{line} +{line} @@\n-{old}\n+{head}{new_tail}\n"


def _bastion_leader(prefix: str, bastion: str) -> int | None:
    marker = f"--machine={prefix}-{bastion}"
    for pid in process.all_pids():
        args = process.cmdline(pid)
        if args and os.path.basename(args[0]) == "systemd-nspawn" and marker in args:
            for child in process.children(pid):
                if process.comm(child) == "systemd":
                    return child
    return None


def _inside(leader: int, args: list[str]):
    return process.run(["nsenter", "-t", str(leader), "-a", *INSIDE_ENV, *args], check=False)


def _count(leader: int, account: str) -> int:
    done = _inside(leader, ["pgrep", "-c", "-u", account])
    return int(done.stdout.strip() or 0) if done.returncode in (0, 1) else 0


def _replace(path: Path, text: str | bytes, mode: int) -> None:
    """Write a file in the machine's root by rename, so sshd never reads half of it."""
    data = text.encode() if isinstance(text, str) else text
    atomic.write_bytes(path, data, mode)


def revoke(
    inv: Inventory, site: str, grant: str, prefix: str, state_dir: Path, now: datetime | None = None
) -> Result:
    site_rec = inv.get("site", site)
    if site_rec is None:
        raise RevokeError(f"no site {site!r} in the inventory; sites: {', '.join(inv.sites())}")
    rec = inv.get("grant", grant)
    at_site = sorted(r.key for r in inv.of("grant").values() if r.data["site"] == site)
    if rec is None or rec.data["site"] != site:
        raise RevokeError(
            f"no grant {grant!r} at site {site!r}; its grants: {', '.join(at_site) or 'none'}"
        )
    svc = site_rec.data.get("services", {}).get("bastion")
    if svc is None:
        raise RevokeError(f"site {site!r} has no bastion (site.yaml services)")
    bastion = tokens.ident(svc["id"], "bastion id")
    account = tokens.unix_user(grant, "grant account")
    if os.geteuid() != 0:
        raise RevokeError("the lab's bastion needs root")
    leader = _bastion_leader(prefix, bastion)
    if not Namespace(f"{prefix}-{site}-rt").exists() or leader is None:
        raise RevokeError(
            f"no lab bastion {bastion!r} of site {site!r} is up under prefix {prefix!r}: bring "
            f"the lab up first (make lab-up SITE={site}), or give its --stack or --prefix"
        )
    ca_dir = Path(state_dir) / "ssh-ca"
    if not (ca_dir / "ca.pub").exists():
        raise RevokeError(f"no bastion CA in {ca_dir}: give the lab stack's --state-dir")
    root = RUN_ROOT / prefix / "machines" / bastion / "root"
    earlier = load(state_dir)  # before anything changes: a damaged file is bad input

    started = time.monotonic()
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    rev = grants.Revocation(grant, site, at, grants.approvals_of(rec.data))
    revocations = [r for r in earlier if (r.grant, r.site) != (grant, site)] + [rev]
    state_file = save(state_dir, revocations)
    # 2. no new login: KRL (certificates) and the account's key and principals files
    person = str(rec.data["person"])
    key_ids = sorted(
        {ssh_certs.key_id(r.grant, inv.get("grant", r.grant).data["person"])  # type: ignore[union-attr]
         for r in in_force(inv, revocations)}
    )  # fmt: skip
    krl = lab_sshca.write_krl(ca_dir, key_ids)
    _replace(root / ssh_certs.KRL_FILE.lstrip("/"), krl.read_bytes(), 0o644)
    for inside in (f"/etc/ssh/authorized_keys/{account}", f"{ssh_certs.PRINCIPALS_DIR}/{account}"):
        (root / inside.lstrip("/")).unlink(missing_ok=True)
    # 3. close what is open: the reaper's end now, and the processes killed at once
    ends = root / grant_reaper.ENDS_FILE.lstrip("/")
    text = ends.read_text() if ends.exists() else ""
    _replace(ends, grant_reaper.with_end(text, account, grant_reaper.epoch(at)), 0o644)
    processes = _count(leader, account)
    deadline = started + CLOSE_WITHIN
    while True:
        _inside(leader, ["pkill", "-KILL", "-u", account])
        if _count(leader, account) == 0:
            break
        if time.monotonic() > deadline:
            raise RevokeError(
                f"grant {grant} is revoked (no new login) but {account} still has processes "
                f"after {CLOSE_WITHIN:.0f} s on {bastion}"
            )
        time.sleep(0.05)
    closed_s = round(time.monotonic() - started, 2)
    return Result(
        grant=grant,
        site=site,
        bastion=bastion,
        at=at,
        key_id=ssh_certs.key_id(grant, person),
        processes=processes,
        closed_s=closed_s,
        state_file=state_file,
        edit=pr_edit(inv, grant, at),
    )


def render(result: Result) -> str:
    day = result.at.astimezone(UTC).date().isoformat()
    stamp = result.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"# revoked {result.grant} on {result.bastion} at {stamp}: certificate "
        f"{result.key_id} in the bastion's KRL, its keys removed, {result.processes} session "
        f"process(es) closed ({result.closed_s} s to none left)\n"
        f"# the stack keeps it revoked ({result.state_file}) until the grant is removed or "
        f"re-approved (a new approval dated {day} or later)\n"
        "# make it permanent with this pull-request edit (or remove the grant):\n"
        f"{result.edit}"
    )
