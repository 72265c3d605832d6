"""Lab stand-in TCP services and the probe that tests flows through the lab firewall.

python -m plantctl.providers.lab_tcp listen --name gw-rw-01 --port 22 --port 443
    accepts on every address of its namespace, answers each connection with one line
    `plantctl-lab <name> <port>` and closes; prints READY once listening.
python -m plantctl.providers.lab_tcp probe 10.20.35.10:8883 10.20.11.21:502 ...
    connects to each target (in parallel, bounded by --timeout) and prints one JSON object:
    target -> "open" | "refused" | "timeout" | "unreachable". Run it inside a lab namespace
    (`ip netns exec NS python -m ...`): targets are lab addresses only.
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import cast


def listen(name: str, ports: list[int]) -> None:
    sel = selectors.DefaultSelector()
    for port in ports:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port))  # noqa: S104 (a lab namespace: its only addresses are lab ones)
        srv.listen(64)
        srv.setblocking(False)
        sel.register(srv, selectors.EVENT_READ, port)
    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            try:
                conn, _addr = cast(socket.socket, key.fileobj).accept()  # registered above
            except OSError:
                continue
            try:
                conn.settimeout(1)
                conn.sendall(f"plantctl-lab {name} {key.data}\n".encode())
            except OSError:
                pass
            finally:
                conn.close()


def probe_one(target: str, timeout: float) -> str:
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "unreachable"
        return f"error:{exc.errno}"


def probe(targets: list[str], timeout: float) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=min(32, max(1, len(targets)))) as pool:
        results = pool.map(lambda t: probe_one(t, timeout), targets)
        return dict(zip(targets, results, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantctl.providers.lab_tcp")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("listen")
    p.add_argument("--name", required=True)
    p.add_argument("--tag", help="who started it (the lab host's namespace), for cleanup")
    p.add_argument("--port", type=int, action="append", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--timeout", type=float, default=1.5)
    p.add_argument("targets", nargs="+")
    args = parser.parse_args(argv)
    if args.cmd == "listen":
        listen(args.name, args.port)
        return 0
    json.dump(probe(args.targets, args.timeout), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
