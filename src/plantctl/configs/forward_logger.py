"""The bastion's forward audit: one JSON event per TCP connection a grant forwards.

Shipped as text to the bastion (plantctl.configs.forward_audit) and run there by the system's
python3 as a service: standard library only, no plantctl import. sshd's post-authentication child
runs as the grant's account and opens each forwarded connection itself, so the bastion's nftables
output chain marks a new connection with the account's mark (`meta skuid`); conntrack counts its
bytes (nf_conntrack_acct, set in the bastion's network namespace only) and reports its creation,
its state changes and its removal. This program reads those events (`conntrack -E`) and writes
one line per finished connection to its stdout, which the unit hands to the journal:

    {"event": "forward", "grant": ..., "person": ..., "account": ...,
     "source": "203.0.113.10:40112", "target": "10.20.20.10:443", "start": ..., "end": ...,
     "bytes_to_target": ..., "bytes_from_target": ..., "connection": ...}

Bytes are conntrack's: IP packets as they left and reached the bastion, headers included.
`source` is the client address of the grant's SSH session at the bastion when the connection was
opened (from /proc: the sockets of the account's sshd processes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime

FIELD = re.compile(r"(\w+)=(\S+)")
STAMP = re.compile(r"^\[(\d+\.\d+)\]\s+\[(NEW|UPDATE|DESTROY)\]\s+(.*)$")
STATE = re.compile(r"\btcp\s+6\s+\d+\s+([A-Z_]+)\s")
CLOSED = ("TIME_WAIT", "CLOSE")  # both ends closed (FIN each way), or reset
DELTA = re.compile(r"delta-time=(\d+)")


def parse(line: str) -> dict | None:
    """One `conntrack -E -o timestamp,extended,id` line: event, time, the original and reply
    tuples with their byte counts, mark and id (None for anything else)."""
    match = STAMP.match(line.strip())
    if not match:
        return None
    when, kind, rest = float(match[1]), match[2], match[3]
    if " tcp " not in f" {rest} ":
        return None
    pairs = FIELD.findall(rest)
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    extra: dict[str, str] = {}
    for key, value in pairs:
        if key in ("src", "dst", "sport", "dport", "packets", "bytes"):
            (first if key not in first else second)[key] = value
        else:
            extra[key] = value
    if not {"src", "dst", "sport", "dport"} <= first.keys() or "mark" not in extra:
        return None
    delta = DELTA.search(rest)
    state = STATE.search(rest)
    return {
        "state": state[1] if state else None,
        "event": kind,
        "at": when,
        "id": extra.get("id", ""),
        "mark": int(extra["mark"], 0),
        "src": first["src"],
        "sport": int(first["sport"]),
        "dst": first["dst"],
        "dport": int(first["dport"]),
        "bytes_out": int(first.get("bytes", 0)),
        "bytes_in": int(second.get("bytes", 0)),
        "delta": int(delta[1]) if delta else None,
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hex_address(text: str) -> str:
    """An address of /proc/net/tcp ("0A14240A:0016") as "10.20.36.10:22" (IPv4 only)."""
    host, port = text.split(":")
    octets = bytes.fromhex(host)[::-1]
    return f"{'.'.join(str(o) for o in octets)}:{int(port, 16)}"


def session_sources(uid: int, port: int, proc: str = "/proc") -> list[str]:
    """Client addresses of the SSH sessions that processes of `uid` hold at the bastion port."""
    inodes: set[str] = set()
    for pid in (p for p in os.listdir(proc) if p.isdigit()):
        try:
            with open(f"{proc}/{pid}/status") as fh:
                status = fh.read()
            if not re.search(rf"^Uid:\s+{uid}\s", status, re.M):
                continue
            for fd in os.listdir(f"{proc}/{pid}/fd"):
                target = os.readlink(f"{proc}/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # gone meanwhile, or not ours to read
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{proc}/net/{table}") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) < 10 or cols[9] not in inodes or cols[3] != "01":  # ESTABLISHED
                continue
            if table == "tcp" and int(cols[1].split(":")[1], 16) == port:
                found.append(_hex_address(cols[2]))
    return sorted(set(found))


def counters(event: dict) -> tuple[int, int] | None:
    """Bytes each way of a connection conntrack still holds (`conntrack -G` by its tuple)."""
    done = subprocess.run(
        ["conntrack", "-G", "-p", "tcp", "--src", event["src"], "--dst", event["dst"],
         "--sport", str(event["sport"]), "--dport", str(event["dport"]), "-o", "extended,id"],
        capture_output=True, text=True, timeout=5, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        sizes = [int(v) for k, v in FIELD.findall(line) if k == "bytes"]
        if f"id={event['id']}" in line and len(sizes) == 2:
            return sizes[0], sizes[1]
    return None


class Audit:
    """Turns conntrack's events of marked connections into forward events: one when the
    connection has closed both ways (TIME_WAIT) or was reset (CLOSE), with the bytes conntrack
    counted; conntrack's DESTROY, which comes only when its table is swept (seconds to minutes
    later), is the fallback for connections that ended otherwise (a timeout)."""

    def __init__(self, config: dict, uids: dict[int, int] | None = None, count=counters):
        self.port = int(config["port"])
        self.marks = {int(k): v for k, v in config["marks"].items()}
        self.uids = uids if uids is not None else {}
        self.count = count
        self.open: dict[str, dict] = {}

    def feed(self, event: dict) -> dict | None:
        grant = self.marks.get(event["mark"])
        if grant is None:
            return None
        if event["event"] == "NEW":
            uid = self.uids.get(event["mark"])
            sources = session_sources(uid, self.port) if uid is not None else []
            self.open[event["id"]] = {"start": event["at"], "sources": sources, "done": False}
            return None
        opened = self.open.get(event["id"])
        if event["event"] == "UPDATE":
            if opened is None or opened["done"] or event["state"] not in CLOSED:
                return None
            sizes = self.count(event)
            if sizes is None:
                return None  # swept already: its DESTROY carries the counts
            opened["done"] = True
            return self._event(grant, opened, event, *sizes)
        self.open.pop(event["id"], None)
        if opened is not None and opened["done"]:
            return None
        if opened is None:  # opened before this logger started: conntrack's own start
            opened = {"start": event["at"] - (event["delta"] or 0), "sources": []}
        return self._event(grant, opened, event, event["bytes_out"], event["bytes_in"])

    @staticmethod
    def _event(grant: dict, opened: dict, event: dict, out: int, back: int) -> dict:
        return {
            "event": "forward",
            "grant": grant["grant"],
            "person": grant["person"],
            "account": grant["account"],
            "source": ",".join(opened["sources"]) or None,
            "target": f"{event['dst']}:{event['dport']}",
            "start": _iso(opened["start"]),
            "end": _iso(event["at"]),
            "bytes_to_target": out,
            "bytes_from_target": back,
            "connection": event["id"],
        }


def _uids(marks: dict[int, dict]) -> dict[int, int]:
    import pwd

    found = {}
    for mark, grant in marks.items():
        try:
            found[mark] = pwd.getpwnam(grant["account"]).pw_uid
        except KeyError:
            continue
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    args = ap.parse_args(argv)

    def load(*_: object) -> None:
        """The grants as the config file has them now (SIGHUP: the stack changed them)."""
        with open(args.config) as fh:
            config = json.load(fh)
        audit.port = int(config["port"])
        audit.marks = {int(k): v for k, v in config["marks"].items()}
        audit.uids = _uids(audit.marks)

    audit = Audit({"port": 22, "marks": {}})
    load()
    signal.signal(signal.SIGHUP, load)
    # stdbuf: conntrack writes to a pipe in blocks otherwise, and events would wait for others.
    events = ["conntrack", "-E", "-e", "NEW,UPDATE,DESTROY", "-o", "timestamp,extended,id"]
    proc = subprocess.Popen(
        ["stdbuf", "-oL", *events],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    print(json.dumps({"event": "started", "grants": len(audit.marks)}), flush=True)
    for line in proc.stdout:
        event = parse(line)
        if event is None:
            continue
        out = audit.feed(event)
        if out is not None:
            print(json.dumps(out, sort_keys=True), flush=True)
    return proc.wait() or 1  # conntrack never ends by itself: the unit restarts us


if __name__ == "__main__":
    sys.exit(main())
