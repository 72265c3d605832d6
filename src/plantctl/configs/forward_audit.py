"""The bastion's forward audit (issue 14, item 3): what it installs, rendered from the grants.

Why conntrack: sshd's forwarding child runs as the grant's account, so the bastion's own
nftables can tell a grant's connections apart (`meta skuid`) and mark them, and conntrack
already counts bytes both ways and reports each connection's start and end; nothing sits in the
data path and no proxy has to be trusted. sshd itself logs forwards only at DEBUG and with no
byte counts. The logger (plantctl.configs.forward_logger, shipped as text) turns conntrack's
events into one JSON event per forwarded connection in the bastion's journal.

Every deployed grant is marked, with or without `session_recording`: the access log (item 5)
lists every forward with its grant. Byte accounting and timestamps are switched on in the bastion's
network namespace only, never on the host: a booted machine cannot write its /proc/sys, so the
target sets SYSCTLS in the machine's namespace before boot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from plantctl.model import tokens
from plantctl.plant.grants import Entry

UNIT = "plantctl-forward-audit.service"
UNIT_FILE = f"/etc/systemd/system/{UNIT}"
SSH_DROP_IN = "/etc/systemd/system/ssh.service.d/plantctl-forward-audit.conf"
NFT_FILE = "/etc/plantctl/forward-audit.nft"
CONFIG_FILE = "/etc/plantctl/forward-audit.json"
LOGGER_FILE = "/usr/local/lib/plantctl/forward_logger.py"
IDENTIFIER = "plantctl-forward-audit"  # SYSLOG_IDENTIFIER of the events in the journal
TABLE = "plantctl_forward_audit"
MARK_BASE = 0x7A000000  # conntrack marks of grant connections: base + 1, 2, ...
SYSCTLS = {
    "net.netfilter.nf_conntrack_acct": "1",
    "net.netfilter.nf_conntrack_timestamp": "1",
}


def marks(entries: Iterable[Entry]) -> dict[int, Entry]:
    """One mark per grant account, in account order (stable across runs for the same grants)."""
    ordered = sorted({e.account: e for e in entries}.values(), key=lambda e: e.account)
    return {MARK_BASE + i: e for i, e in enumerate(ordered, start=1)}


def render_nft(entries: Iterable[Entry]) -> str:
    """The bastion's output chain: a grant account's new connections get the grant's mark."""
    lines = [
        "# Managed by plantctl (forward audit): marks the connections sshd opens for a grant.",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "\tchain output {",
        "\t\ttype filter hook output priority filter; policy accept;",
    ]
    for mark, entry in marks(entries).items():
        account = tokens.unix_user(entry.account, "grant account")
        lines.append(f'\t\tct state new meta skuid "{account}" ct mark set {mark:#x}')
    lines += ["\t}", "}", ""]
    return "\n".join(lines)


def render_config(entries: Iterable[Entry], port: int) -> str:
    """What the logger knows: the bastion's SSH port and mark -> grant, person, account."""
    table = {
        str(mark): {
            "grant": e.grant,
            "person": e.person,
            "account": e.account,
            "target": e.target,
            "external": e.external,
        }
        for mark, e in marks(entries).items()
    }
    return json.dumps({"port": tokens.port(port), "marks": table}, indent=1, sort_keys=True) + "\n"


def render_unit() -> str:
    # The sysctls are set by the lab target from outside (the machine's /proc/sys is read-only):
    # without byte accounting the audit refuses to start, and sshd with it.
    return f"""\
# Managed by plantctl (forward audit). sshd requires it: no forward goes unrecorded.
# Reloading sshd (the stack does, when grants change) reloads it too: new marks, new accounts.
[Unit]
Description=plantctl forward audit: one journal event per connection a grant forwards
Before=ssh.service
ReloadPropagatedFrom=ssh.service

[Service]
Type=exec
ExecStartPre=/usr/bin/grep -qx 1 /proc/sys/net/netfilter/nf_conntrack_acct
ExecStartPre=/usr/sbin/nft -f {NFT_FILE}
ExecStart=/usr/bin/python3 {LOGGER_FILE} --config {CONFIG_FILE}
ExecReload=/usr/sbin/nft -f {NFT_FILE}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1
SyslogIdentifier={IDENTIFIER}
"""


def render_ssh_drop_in() -> str:
    return f"""\
# Managed by plantctl (forward audit): sshd runs only with the forward audit.
[Unit]
Requires={UNIT}
After={UNIT}
"""


def logger_source() -> str:
    return (Path(__file__).with_name("forward_logger.py")).read_text(encoding="utf-8")


def files(entries: Iterable[Entry], port: int) -> dict[str, dict]:
    """inside path -> {content, mode}: everything the bastion machine gets for the audit."""
    deployed = list(entries)
    return {
        NFT_FILE: {"content": render_nft(deployed), "mode": 0o644},
        CONFIG_FILE: {"content": render_config(deployed, port), "mode": 0o644},
        LOGGER_FILE: {"content": logger_source(), "mode": 0o755},
        UNIT_FILE: {"content": render_unit(), "mode": 0o644},
        SSH_DROP_IN: {"content": render_ssh_drop_in(), "mode": 0o644},
    }
