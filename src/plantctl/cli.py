"""plantctl's command line. Exit codes follow DESIGN.md's contract (see problems.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plantctl import __version__
from plantctl.problems import EXIT_INVALID, EXIT_OK, InvalidInput


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 (argparse's own code), with the message on stderr."""


def _inventory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--inventory",
        type=Path,
        default=None,
        help="inventory folder (default: $PLANTCTL_INVENTORY or ./inventory)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="plantctl", description="Factory IoT as code: check and use the shared inventory."
    )
    parser.add_argument("--version", action="version", version=f"plantctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("validate", help="schema, reference and address-plan checks")
    _inventory_arg(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("allocate", help="the next free addresses in a zone")
    _inventory_arg(p)
    p.add_argument("--site", required=True)
    p.add_argument("--zone", required=True)
    p.add_argument("--count", type=int, default=1)
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser(
        "check",
        help="the policy gate (exit 0 pass, 1 violations, 2 invalid "
        "input, 3 policy engine unavailable)",
    )
    _inventory_arg(p)
    p.add_argument(
        "--policies",
        type=Path,
        default=None,
        help="policies folder (default: ./policies); ignored when OPA_URL is set",
    )
    p.add_argument("--now", help="evaluate as of this RFC 3339 time (default: now)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--output", type=Path, help="write the report here instead of stdout")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("facts", help="print the policy input document (JSON) for the inventory")
    _inventory_arg(p)
    p.add_argument("--now", help="evaluate as of this RFC 3339 time (default: now)")
    p.set_defaults(func=cmd_facts)

    p = sub.add_parser("summary", help="a readable summary of the plant")
    _inventory_arg(p)
    p.set_defaults(func=cmd_summary)
    return parser


def _load(args):
    from plantctl.inventory import default_root, load

    return load(args.inventory or default_root())


def _report_invalid(exc: InvalidInput, fmt: str = "text") -> int:
    if fmt == "json":
        print(
            json.dumps({"valid": False, "problems": [p.as_dict() for p in exc.problems]}, indent=2)
        )
    else:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was changed.", file=sys.stderr)
    return EXIT_INVALID


def cmd_validate(args) -> int:
    try:
        inv = _load(args)
    except InvalidInput as exc:
        return _report_invalid(exc, args.format)
    counts = {kind: len(recs) for kind, recs in inv.records.items() if kind != "ownership"}
    if args.format == "json":
        print(json.dumps({"valid": True, "problems": [], "counts": counts}, indent=2))
    else:
        parts = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        print(f"inventory valid: {parts}")
    return EXIT_OK


def cmd_allocate(args) -> int:
    from plantctl import addressing

    if args.count < 1:
        print("plantctl allocate: --count must be 1 or more", file=sys.stderr)
        return EXIT_INVALID
    try:
        inv = _load(args)
    except InvalidInput as exc:
        return _report_invalid(exc)
    try:
        free = addressing.allocate(inv, args.site, args.zone, args.count)
    except KeyError:
        zones = sorted(k for k in inv.of("zone") if k.startswith(f"{args.site}/"))
        hint = (
            ", ".join(z.split("/")[1] for z in zones)
            if zones
            else "none (sites: " + ", ".join(inv.sites()) + ")"
        )
        print(
            f"plantctl allocate: no zone {args.zone!r} at site {args.site!r}; zones there: {hint}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if len(free) < args.count:
        print(
            f"plantctl allocate: zone {args.site}/{args.zone} has only {len(free)} free "
            f"address(es), {args.count} asked; widen the zone or use another",
            file=sys.stderr,
        )
        return EXIT_INVALID
    for addr in free:
        print(addr)
    return EXIT_OK


def parse_now(text: str | None):
    from datetime import datetime

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(
            f"plantctl: --now {text!r} is not an RFC 3339 time; write it like 2026-11-22T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise SystemExit(f"plantctl: --now {text!r} has no offset; add Z or +HH:MM")
    return moment


def write_output(text: str, output: Path | None) -> None:
    """stdout, or a file replaced whole (never left half-written)."""
    if output is None:
        sys.stdout.write(text)
        return
    import os
    import tempfile

    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_check(args) -> int:
    from plantctl import check
    from plantctl.engine import EngineUnavailable
    from plantctl.problems import EXIT_ENGINE, EXIT_VIOLATIONS
    from plantctl.render import jsondoc, text

    now = parse_now(args.now)
    try:
        inv = _load(args)
    except InvalidInput as exc:
        return _report_invalid(exc, args.format)
    try:
        with check.engine(args.policies or Path("policies")) as endpoint:
            report = check.evaluate(inv, endpoint, now)
    except EngineUnavailable as exc:
        print(f"plantctl check: policy engine unavailable, failing closed: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    if args.format == "json":
        rendered = jsondoc.render(report)
    else:
        colour = None if args.output is None and sys.stdout.isatty() else False
        rendered = text.render(report, colour=colour)
    write_output(rendered, args.output)
    return EXIT_OK if report.passed else EXIT_VIOLATIONS


def cmd_facts(args) -> int:
    from plantctl import facts

    try:
        inv = _load(args)
    except InvalidInput as exc:
        return _report_invalid(exc)
    json.dump(facts.build(inv, parse_now(args.now)), sys.stdout, indent=2, sort_keys=True)
    print()
    return EXIT_OK


def cmd_summary(args) -> int:
    from plantctl.summary import render

    try:
        inv = _load(args)
    except InvalidInput as exc:
        return _report_invalid(exc)
    render(inv)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InvalidInput as exc:  # a consumer found a problem after loading
        return _report_invalid(exc)
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
