"""The remote-access grants a site bastion carries, from the validated inventory.

Each grant that is active now (started, not ended) becomes one bastion account named after the
grant (`g-rw-0007`), holding one key: the grantee's, restricted to the grant's target address and
TCP ports, usable only from the zones that a conduit lets reach the bastion (internal people from
internal zones, external people from the internet), and expiring at the grant's end. sshd itself
enforces the expiry, so access stops at the end even if nobody redeploys. A grant without an end,
without a key for its person, on a protocol other than TCP, or with no conduit to the bastion for
its person is not deployed; `skipped` says why. A grant with `mfa: true` needs its key and then
a TOTP code at the bastion (`mfa`, `totp_window`: plantctl.configs.pam_oath); one with `mfa: false`
its key only.

A grant revoked in an emergency (`plantctl access revoke`, a `Revocation` the lab keeps in its
state directory) stays out of the bastion (`revoke`) until it is removed from the inventory or
re-approved: re-approved means its `approvals` gain an entry, dated on or after the day of the
revocation, that it did not have when it was revoked (a pull request the gate judges again).

One account per grant (not per person) because sshd applies the options of the first key line
that matches: two grants of one person in one file would share the first one's restrictions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from plantctl.model import protocols, tokens
from plantctl.model.inventory import Inventory
from plantctl.plant.segmentation import INTERNET
from plantctl.plant.segmentation import build as segmentation

MAX_PORTS_PER_GRANT = 16
TOTP_WINDOW = 1  # one 30 s step either side: clock skew of a phone, no more


@dataclass(frozen=True)
class Entry:
    grant: str
    person: str
    account: str  # Unix account on the bastion: the grant id
    target: str  # machine or gateway id
    permits: tuple[tuple[str, int], ...]  # (address, port) the grantee may open
    start: datetime
    end: datetime
    sources: tuple[str, ...]  # from= patterns
    external: bool
    mfa: bool = False  # key, then a TOTP code (pam_oath) at the bastion
    totp_window: int = 0  # TOTP codes accepted either side of the current one (mfa only)
    approvals: tuple[tuple[str, str, str], ...] = ()  # (person, team, date) as in the inventory

    @property
    def expiry(self) -> str:
        """sshd's expiry-time: YYYYMMDDHHMM in UTC (Z), rounded down to the minute."""
        return self.end.astimezone(UTC).strftime("%Y%m%d%H%MZ")


@dataclass(frozen=True)
class Skipped:
    grant: str
    reason: str
    cause: str = ""  # NO_KEY: a stack refuses the plan (plantstack.remote_access)
    where: str = ""  # file:line of the grant


NO_KEY = "no-key"


class GrantRefused(ValueError):
    """A plan a stack must not apply (a grant that could never work), with file:line."""


@dataclass(frozen=True)
class RemoteAccess:
    site: str
    bastion_id: str
    zone: str
    address: str
    port: int
    entries: tuple[Entry, ...]
    skipped: tuple[Skipped, ...]
    # grants that start later (also in `skipped`): deployable where sshd checks the start itself
    pending: tuple[Entry, ...] = ()
    revoked: tuple[Entry, ...] = ()  # revoked in an emergency and still in force (`revoke`)


@dataclass(frozen=True)
class Revocation:
    grant: str
    site: str
    at: datetime
    approvals: tuple[tuple[str, str, str], ...]  # the grant's approvals when it was revoked


def approvals_of(grant: Mapping) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (str(a["person"]), str(a["team"]), str(a["date"])) for a in grant.get("approvals") or ()
    )


def reapproved(rev: Revocation, approvals: Iterable[tuple[str, str, str]]) -> bool:
    """A new approval, dated on or after the revocation's day, that it did not have then."""
    day = rev.at.astimezone(UTC).date().isoformat()
    return any(a not in rev.approvals and a[2] >= day for a in approvals)


def revoke(plan: RemoteAccess, revocations: Iterable[Revocation]) -> RemoteAccess:
    """The plan without the grants whose revocation is in force (moved to `revoked`)."""
    by_grant = {r.grant: r for r in revocations if r.site == plan.site}

    def in_force(e: Entry) -> Revocation | None:
        rev = by_grant.get(e.grant)
        return rev if rev is not None and not reapproved(rev, e.approvals) else None

    gone = [e for e in plan.entries + plan.pending if in_force(e)]
    if not gone:
        return plan
    skipped = [s for s in plan.skipped if s.grant not in {e.grant for e in gone}]
    for e in gone:
        rev = by_grant[e.grant]
        day = rev.at.astimezone(UTC).date().isoformat()
        skipped.append(
            Skipped(
                e.grant,
                f"revoked at {rev.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} (plantctl access revoke): "
                f"remove the grant, or re-approve it (a new approval dated {day} or later)",
            )
        )
    return replace(
        plan,
        entries=tuple(e for e in plan.entries if e not in gone),
        pending=tuple(e for e in plan.pending if e not in gone),
        skipped=tuple(skipped),
        revoked=tuple(gone),
    )


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset")
    return moment


def target_address(inv: Inventory, target: str) -> str | None:
    machine = inv.get("machine", target)
    if machine is not None:
        return tokens.ipv4(machine.data["controller"]["address"])
    gateway = inv.get("gateway", target)
    if gateway is not None:
        return tokens.ipv4(gateway.data["address"])
    return None


def bastion_sources(inv: Inventory, site: str, address: str, port: int) -> dict[bool, list[str]]:
    """from= patterns by 'external': where conduits let people reach the bastion from."""
    seg = segmentation(inv, site)
    internal: list[str] = []
    external: list[str] = []
    for flow in seg.flows:
        svc = flow.service
        if svc.protocol not in ("tcp", "any"):
            continue
        if svc.port is not None and not svc.port <= port <= (svc.port_end or svc.port):
            continue
        if flow.destinations and not any(
            d == address or (d.count("/") and _contains(d, address)) for d in flow.destinations
        ):
            continue
        if not flow.destinations and flow.destination_zone != _zone_of(seg, address):
            continue
        if flow.source_zone == INTERNET:
            pattern = [f"!{seg.supernet}", "*"] if not flow.sources else list(flow.sources)
            external += [p for p in pattern if p not in external]
        else:
            internal += [s for s in flow.sources if s not in internal]
    return {False: internal, True: external}


def _contains(net: str, address: str) -> bool:
    from netaddr import IPAddress, IPNetwork

    return IPAddress(address) in IPNetwork(net)


def _zone_of(seg, address: str) -> str | None:
    for zone in seg.zones:
        if _contains(zone.cidr, address):
            return zone.id
    return None


def build(
    inv: Inventory,
    site: str,
    keys: Mapping[str, str],
    now: datetime | None = None,
    include_ended: bool = False,
) -> RemoteAccess:
    """The bastion of one site and its entries. `keys` maps a person's login to a public key.

    `include_ended` keeps grants whose end has passed (their keys are then refused by sshd's
    expiry-time): only the lab uses it, to prove that sshd, not a redeploy, ends access.
    """
    now = now or datetime.now(UTC)
    site_rec = inv.get("site", site)
    if site_rec is None:
        raise KeyError(site)
    svc = site_rec.data.get("services", {}).get("bastion")
    if svc is None:
        raise KeyError(f"{site}: no bastion in site.yaml services")
    address = tokens.ipv4(svc["address"], "bastion address")
    port = tokens.port(svc["port"], "bastion port")  # site.schema requires it
    sources = bastion_sources(inv, site, address, port)
    entries: list[Entry] = []
    pending: list[Entry] = []
    skipped: list[Skipped] = []
    for rec in sorted(inv.of("grant").values(), key=lambda r: r.key):
        g = rec.data
        if g["site"] != site:
            continue
        gid = tokens.ident(rec.key, "grant id")

        def skip(reason: str, gid: str = gid, cause: str = "", rec=rec) -> None:
            skipped.append(Skipped(gid, reason, cause, f"{rec.file}:{rec.line}"))

        if g.get("via") != svc["id"]:
            skip(f"it goes via {g.get('via')!r}, not this site's bastion {svc['id']!r}")
            continue
        if not g.get("end"):
            skip("it has no end: no open-ended access is deployed")
            continue
        start, end = parse_time(g["start"]), parse_time(g["end"])
        if end <= start:
            skip(f"it ends ({g['end']}) before it starts ({g['start']}): RA-003")
            continue
        if end <= now and not include_ended:
            skip(f"it ended at {g['end']}")
            continue
        # Not started yet: skipped for targets that can only deploy active grants; kept in
        # `pending` for a target whose sshd checks the start itself (user certificates).
        waiting = f"it starts at {g['start']}; deploy again then" if start > now else None
        try:
            account = tokens.unix_user(gid, "grant id as a bastion account")
        except tokens.UnsafeToken as exc:
            skip(waiting or str(exc))
            continue
        person = inv.get("person", g["person"])
        login = g["person"]
        external = bool(person and person.data.get("external"))
        if login not in keys:  # also for a grant that starts later: it could never work
            skip(f"no public key for {login!r}", cause=NO_KEY)
            continue
        address_of_target = target_address(inv, g["target"])
        if address_of_target is None:
            skip(waiting or f"target {g['target']!r} is not a machine or gateway")
            continue
        permits: list[tuple[str, int]] = []
        bad = None
        for s in (protocols.resolve(inv, s) for s in g["services"]):
            if s["protocol"] != "tcp" or s.get("port") is None:
                bad = f"service {s} is not a TCP port (the bastion forwards TCP only)"
                break
            last = s.get("port_end") or s["port"]
            if last - s["port"] + 1 > MAX_PORTS_PER_GRANT:
                bad = f"service {s} spans more than {MAX_PORTS_PER_GRANT} ports"
                break
            permits += [(address_of_target, tokens.port(p)) for p in range(s["port"], last + 1)]
        if bad:
            skip(waiting or bad)
            continue
        if not sources[external]:
            side = "the internet" if external else "an internal zone"
            skip(waiting or f"no conduit lets {side} reach the bastion on port {port}")
            continue
        (pending if waiting else entries).append(
            Entry(
                grant=gid,
                person=login,
                account=account,
                target=tokens.ident(g["target"], "grant target"),
                permits=tuple(dict.fromkeys(permits)),
                start=start,
                end=end,
                sources=tuple(sources[external]),
                external=external,
                mfa=bool(g.get("mfa")),
                totp_window=TOTP_WINDOW if g.get("mfa") else 0,
                approvals=approvals_of(g),
            )
        )
        if waiting:
            skip(waiting)
    return RemoteAccess(
        site=tokens.ident(site, "site id"),
        bastion_id=tokens.ident(svc["id"], "bastion id"),
        zone=tokens.ident(svc["zone"], "bastion zone"),
        address=address,
        port=port,
        entries=tuple(entries),
        skipped=tuple(skipped),
        pending=tuple(pending),
    )


def totp_subject(inv: Inventory, site: str, name: str):
    """The grant record whose TOTP seed `name` asks for (`plantctl access otp-uri`), or
    ValueError saying what `name` is instead: TOTP seeds exist only for grants with `mfa: true`;
    service accounts (the broker's gateway and role accounts) authenticate with certificates."""
    from plantctl.plant import broker_access

    def where(rec) -> str:
        return f"{rec.file}:{rec.line}"

    rec = inv.get("grant", name)
    if rec is not None and rec.data["site"] == site:
        if not rec.data.get("mfa"):
            raise ValueError(
                f"grant {name!r} ({where(rec)}) has mfa: false (its key is its only factor)"
            )
        return rec
    mfa = sorted(
        r.key for r in inv.of("grant").values() if r.data["site"] == site and r.data.get("mfa")
    )
    hint = f"the MFA grants at {site}: {', '.join(mfa) or 'none'}"
    try:
        accounts = {a.username: a for a in broker_access.build(inv, site).accounts}
    except KeyError:
        accounts = {}
    account = accounts.get(name)
    if account is not None:
        owner = inv.get(account.kind, account.subject)
        at = f" ({where(owner)})" if owner is not None else ""
        raise ValueError(
            f"{name!r} is a service account (the broker account of {account.kind} "
            f"{account.subject!r}{at}): service accounts authenticate with certificates and get "
            f"no TOTP seed; TOTP is for people's grants with mfa: true ({hint})"
        )
    person = inv.get("person", name)
    if person is not None:
        theirs = [g for g in mfa if inv.get("grant", g).data["person"] == name]  # type: ignore[union-attr]
        raise ValueError(
            f"{name!r} is a person ({where(person)}), not a grant: give the grant id "
            f"(their MFA grants at {site}: {', '.join(theirs) or 'none'})"
        )
    for kind in ("gateway", "machine"):
        other = inv.get(kind, name)
        if other is not None:
            raise ValueError(f"{name!r} is a {kind} ({where(other)}), not a grant ({hint})")
    where_else = f" (it is at site {rec.data['site']!r})" if rec is not None else ""
    raise ValueError(f"no grant {name!r} at site {site!r}{where_else}; {hint}")
