"""The probe `plantctl lab verify` runs inside one lab namespace (lab only, root).

    ip netns exec <prefix>-<host> python -m plantctl.lab.verify_probe --timeout 1 \\
        tcp:10.20.35.10:8883 udp:10.20.35.10:8883 icmp:10.20.35.10

prints one JSON object, target -> result, trying every target in parallel within the timeout:

- tcp: "open" (connected), "refused" (a reset: the firewall let the SYN through and nothing
  listens there), "timeout" (dropped), "unreachable";
- udp: "refused" (the destination answered port unreachable: the datagram got through),
  "open" (an answer), "timeout" (dropped, or a silent listener);
- icmp: "reply" (an echo reply), "timeout".

Only addresses of the lab's own namespaces are ever targets (the caller builds them from the
inventory).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

PASSED = {"tcp": ("open", "refused"), "udp": ("open", "refused"), "icmp": ("reply",)}


def _tcp(host: str, port: int, timeout: float) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "unreachable"
        return f"error:{exc.errno}"


def _udp(host: str, port: int, timeout: float) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout / 2)
        try:
            s.connect((host, port))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:  # twice: a first datagram may wait for ARP
                s.send(b"plantctl-lab-verify\n")
                try:
                    s.recv(512)
                    return "open"
                except TimeoutError:
                    continue
            return "timeout"
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                return "unreachable"
            return f"error:{exc.errno}"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp(host: str, timeout: float) -> str:
    ident = random.randrange(1, 0xFFFF)  # noqa: S311 (an echo id, not a secret)
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    payload = b"plantctl-lab-verify"
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        deadline = time.monotonic() + timeout
        s.sendto(packet, (host, 0))
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                data, (addr, _) = s.recvfrom(1024)
            except TimeoutError:
                break
            ihl = (data[0] & 0x0F) * 4
            kind, _code, _sum, got_id, _seq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if addr == host and kind == 0 and got_id == ident:
                return "reply"
    return "timeout"


def probe_one(target: str, timeout: float) -> str:
    proto, _, rest = target.partition(":")
    if proto == "icmp":
        return _icmp(rest, timeout)
    host, _, port = rest.rpartition(":")
    if proto == "udp":
        return _udp(host, int(port), timeout)
    return _tcp(host, int(port), timeout)


def probe(targets: list[str], timeout: float) -> dict[str, str]:
    workers = min(64, max(1, len(targets)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(targets, pool.map(lambda t: probe_one(t, timeout), targets), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantctl.lab.verify_probe")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args(argv)
    targets = args.targets or json.loads(sys.stdin.read() or "[]")
    json.dump(probe(targets, args.timeout), sys.stdout)
    print()
    sys.stdout.flush()
    os._exit(0)  # no waiting for stray threads


if __name__ == "__main__":
    sys.exit(main())
