"""The grant accounts a gateway carries: one per remote-access grant that reaches its SSH.

A grant whose target is the gateway and whose services include TCP port 22 lets its person log
in to the gateway through the bastion (the bastion forwards to the gateway's sshd). The gateway
role gives each such grant an account named after the grant (as on the bastion), the person's
key usable from the bastion only until the grant's end (`expiry-time`, enforced by sshd), and,
for grants with `session_recording: true`, tlog-rec-session as login shell: the session is
recorded to the gateway's journal. Grants that have ended are left out (their accounts removed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plantctl.model import protocols, tokens
from plantctl.model.inventory import Inventory
from plantctl.plant.grants import parse_time

SSH_PORT = 22


def _reaches_ssh(inv: Inventory, services: list[dict]) -> bool:
    for raw in services:
        s = protocols.resolve(inv, raw)
        if s.get("protocol") != "tcp" or s.get("port") is None:
            continue
        first, last = s["port"], s.get("port_end") or s["port"]
        if first <= SSH_PORT <= last:
            return True
    return False


def for_gateway(inv: Inventory, gateway: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The gateway's grant accounts, by account: account, grant, login, ssh_public_key (None:
    no key, no login), expiry (sshd's expiry-time, UTC) and recorded."""
    now = now or datetime.now(UTC)
    found = []
    for rec in sorted(inv.of("grant").values(), key=lambda r: r.key):
        g = rec.data
        if g.get("target") != gateway or not g.get("end"):
            continue
        end = parse_time(g["end"])
        if end <= now or not _reaches_ssh(inv, g.get("services") or []):
            continue
        person = inv.get("person", g["person"])
        found.append(
            {
                "account": tokens.unix_user(rec.key, "grant id as a gateway account"),
                "grant": rec.key,
                "login": g["person"],
                "ssh_public_key": person.data.get("ssh_public_key") if person else None,
                "expiry": end.astimezone(UTC).strftime("%Y%m%d%H%MZ"),
                "recorded": bool(g.get("session_recording")),
            }
        )
    return found
