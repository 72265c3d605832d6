"""`python -m plantctl.lab cleanup [--prefix P]`: remove a lab run's leftovers (default: every
run whose owner process is gone)."""

from __future__ import annotations

import argparse
import sys

from plantctl.lab import cleanup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantctl.lab")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cleanup", help="remove leftovers of lab runs")
    p.add_argument("--prefix", help="one run's prefix (plab + 6 hex); default: stale runs")
    args = parser.parse_args(argv)
    found = {args.prefix: cleanup.remove(args.prefix)} if args.prefix else cleanup.remove_stale()
    for prefix, items in sorted(found.items()):
        for item in items:
            print(f"{prefix}: removed {item}")
    if not found:
        print("no lab leftovers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
