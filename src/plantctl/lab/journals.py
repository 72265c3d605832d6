"""The journals of a lab's booted machines, read from outside (for `plantctl access log`).

A lab machine is found by its nspawn process (`--machine=<prefix>-<name>`, as every lab run and
stack names them) and read with `journalctl -o json` run inside it (nsenter into its init):
the machine's own journal, with nothing copied out but the entries asked for. A host of the lab
that is not a booted machine (a stand-in) has no journal: `read` answers None.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from plantctl.lab import process
from plantctl.lab.machine import INSIDE_ENV

PREFIX_RE = re.compile(r"[a-z][a-z0-9]{1,15}")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
MATCH_RE = re.compile(r"[A-Z_]+=[A-Za-z0-9_.@-]+|\+")
MAX_ENTRIES = 200_000  # bounded: a machine's journal is read once per log, never in full


class JournalError(RuntimeError):
    pass


def leader(prefix: str, name: str) -> int | None:
    """The init process of the booted lab machine `<prefix>-<name>`, or None."""
    if not PREFIX_RE.fullmatch(prefix) or not NAME_RE.fullmatch(name):
        raise JournalError(f"lab prefix {prefix!r} or machine {name!r} is not a lab name")
    wanted = f"--machine={prefix}-{name}"
    for pid in process.all_pids():
        args = process.cmdline(pid)
        if args and args[0].endswith("systemd-nspawn") and wanted in args:
            for child in process.children(pid):
                if process.comm(child) == "systemd":
                    return child
    return None


def read(prefix: str, name: str, matches: list[str], since: datetime) -> list[dict] | None:
    """Journal entries of machine `name` since `since` that fit `matches` (journalctl's FIELD=value
    terms, `+` between alternatives); None when no such machine is booted."""
    pid = leader(prefix, name)
    if pid is None:
        return None
    for term in matches:
        if not MATCH_RE.fullmatch(term):
            raise JournalError(f"journal match {term!r} is not FIELD=value")
    args = [
        "nsenter", "-t", str(pid), "-a", *INSIDE_ENV,
        "journalctl", "--no-pager", "-o", "json", "-n", str(MAX_ENTRIES),
        "--since", f"@{int(since.timestamp())}", *matches,
    ]  # fmt: skip
    done = process.run(args, check=False, timeout=120)
    if done.returncode not in (0, 1):  # 1: no entries at all
        raise JournalError(f"journalctl on {name}: {done.stderr.strip()[-300:]}")
    entries = []
    for line in done.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def access_log(inv, site: str, prefix: str, since: datetime):
    """The access log of a lab site: the bastion's journal (sshd, forward audit) and each
    gateway's (tlog), from the machines booted under `prefix`."""
    from plantctl.reports import access_log as report

    site_rec = inv.get("site", site)
    if site_rec is None:
        raise JournalError(f"no site {site!r} in the inventory")
    bastion = (site_rec.data.get("services") or {}).get("bastion")
    if bastion is None:
        raise JournalError(f"site {site!r} has no bastion (services.bastion in its site.yaml)")
    entries = read(prefix, bastion["id"], report.BASTION_MATCHES, since)
    gateways = {
        gw.key: read(prefix, gw.key, report.GATEWAY_MATCHES, since)
        for gw in inv.site_objects("gateway", site)
    }
    if entries is None and all(v is None for v in gateways.values()):
        raise JournalError(
            f"no booted machine of site {site!r} under lab prefix {prefix!r} (neither its "
            f"bastion {bastion['id']} nor a gateway): bring the lab up first (make lab-up "
            f"SITE={site}) or name its --prefix"
        )
    return report.build(inv, site, since, (bastion["id"], entries), gateways)
