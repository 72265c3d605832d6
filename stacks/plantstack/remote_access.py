"""RemoteAccess: the site bastion and its active grants, each a key that expires by itself, and
for grants with `mfa: true` a TOTP code after the key (the target installs PAM and the seeds).
A target that keeps emergency revocations (`revocations()`: the lab, `plantctl access revoke`)
gets the plan without the grants whose revocation is in force (plantctl.plant.grants.revoke)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi

from plantctl.configs import authorized_keys, sshd_config
from plantctl.plant import grants
from plantctl.plant.grants import Entry
from plantctl.plant.grants import RemoteAccess as Plan


class BastionTarget(Protocol):
    def bastion(
        self,
        parent: pulumi.ComponentResource,
        plan: Plan,
        files: pulumi.Output,
        sshd: str,
    ) -> dict: ...


@dataclass
class RemoteAccessArgs:
    plan: Plan
    public_keys: dict[str, pulumi.Input[str]]  # login -> public key
    target: BastionTarget


def entry_record(entry: Entry) -> dict:
    """An entry as plain data: what the plan policy reads (target, ports, expiry, sources)."""
    return {
        "grant": entry.grant,
        "account": entry.account,
        "person": entry.person,
        "target": entry.target,
        "permits": [f"{host}:{port}" for host, port in entry.permits],
        "expiry": entry.expiry,
        "from": list(entry.sources),
        "mfa": entry.mfa,
    }


class RemoteAccess(pulumi.ComponentResource):
    """The bastion: sshd with keys only and one account per active grant."""

    def __init__(
        self, name: str, args: RemoteAccessArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("plantctl:access:RemoteAccess", name, None, opts)
        plan = args.plan
        # A grant whose person has no key is refused before the bastion is touched: it could
        # never be used, and a silent skip would leave its approver believing it works.
        unkeyed = [s for s in plan.skipped if s.cause == grants.NO_KEY]
        if unkeyed:
            raise grants.GrantRefused(
                "; ".join(f"{s.where}: grant {s.grant}: {s.reason}" for s in unkeyed)
                + ": give the person's SSH public key (plantctl:sshKeys on the production "
                "target) or remove the grant; the bastion is not changed"
            )
        revocations = getattr(args.target, "revocations", None)
        if revocations is not None:
            plan = grants.revoke(plan, revocations())
        self.plan = plan
        keys = {e.account: args.public_keys[e.person] for e in plan.entries}
        by_account = {e.account: e for e in plan.entries}
        # account -> authorized_keys text, once the keys are known
        files = (
            pulumi.Output.all(**keys).apply(
                lambda known: {
                    acc: authorized_keys.render(by_account[acc], key) for acc, key in known.items()
                }
            )
            if keys
            else pulumi.Output.from_input({})
        )
        # A target whose sshd checks the window itself (user certificates valid from the start
        # to the end) gets the grants that start later too: they work from their start on.
        certs = bool(getattr(args.target, "user_certificates", False))
        deployed = plan.entries + (plan.pending if certs else ())
        mfa = tuple(e.account for e in deployed if e.mfa)
        sshd = sshd_config.render(
            plan.address, plan.port, tuple(e.account for e in deployed), mfa, certs
        )
        self.children = args.target.bastion(self, plan, files, sshd)
        self.register_outputs(
            {
                "bastion": plan.bastion_id,
                "entries": [entry_record(e) for e in plan.entries],
                "pending": [entry_record(e) for e in deployed if e not in plan.entries],
                "skipped": [
                    {"grant": s.grant, "reason": s.reason}
                    for s in plan.skipped
                    if not any(s.grant == e.grant for e in deployed)
                ],
            }
        )
