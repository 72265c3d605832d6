"""plantctl's command line. Exit codes: docs/architecture.md, defined in core/problems.py."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plantctl import __version__
from plantctl.core.problems import (
    EXIT_ENGINE,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_VIOLATIONS,
    InvalidInput,
    bounded,
    exits,
)
from plantctl.model.tokens import UnsafeToken


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
        help=f"the policy gate ({exits(EXIT_OK, EXIT_VIOLATIONS, EXIT_INVALID, EXIT_ENGINE)})",
    )
    _inventory_arg(p)
    p.add_argument(
        "--policies",
        type=Path,
        default=None,
        help="policies folder (default: ./policies); ignored when OPA_URL is set",
    )
    p.add_argument("--now", help="evaluate as of this RFC 3339 time (default: now)")
    p.add_argument("--base", help="pull-request mode: the base revision (its policies judge)")
    p.add_argument(
        "--head",
        help="the head revision (default: HEAD); read from git, the work tree is never used",
    )
    p.add_argument("--approvals", type=Path, help="the code host's list-reviews JSON")
    p.add_argument(
        "--reviews-format",
        choices=("auto", "github", "gitlab", "gitea"),
        default="auto",
        help="whose answer --approvals holds: GitHub or Gitea/Forgejo reviews, GitLab "
        "approvals (default: told apart by its shape)",
    )
    p.add_argument("--author", help="the pull request author's login (their review never counts)")
    p.add_argument("--format", choices=("text", "markdown", "json", "sarif"), default="text")
    p.add_argument("--output", type=Path, help="write the report here instead of stdout")
    p.add_argument(
        "--output-dir",
        type=Path,
        help="also write every format of this one evaluation here: gate.txt, gate.md, "
        "gate.json, gate.sarif and, with --base, decision.json (the decision record)",
    )
    p.add_argument(
        "--bundle",
        type=Path,
        help="judge with this policy bundle (plantctl bundle build) instead of the policies "
        "folder (default: $PLANTCTL_BUNDLE)",
    )
    p.add_argument(
        "--verification-key",
        type=Path,
        help="verify the bundle's signature with this public key before evaluating; a bundle "
        "that does not verify exits 4 (default: $PLANTCTL_VERIFICATION_KEY)",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("bundle", help="build or verify the signed policy bundle")
    bundle_sub = p.add_subparsers(dest="bundle_command", required=True, parser_class=_Parser)
    b = bundle_sub.add_parser("build", help="opa build of the policies, signed (exit 0, 2)")
    b.add_argument("--policies", type=Path, default=Path("policies"))
    b.add_argument("--signing-key", type=Path, required=True, help="private key (PEM)")
    b.add_argument("--signing-alg", default="RS256", help="JWT algorithm (default RS256)")
    b.add_argument("--output", type=Path, default=Path("build/policies.tar.gz"))
    b.set_defaults(func=cmd_bundle_build)
    b = bundle_sub.add_parser("verify", help="verify a bundle's signature (exit 0, 4 refused)")
    b.add_argument("bundle", type=Path)
    b.add_argument("--verification-key", type=Path, required=True, help="public key (PEM)")
    b.set_defaults(func=cmd_bundle_verify)

    p = sub.add_parser("codeowners", help="write or check .github/CODEOWNERS from ownership")
    _inventory_arg(p)
    p.add_argument("--root", default=".", help="repository root (default: .)")
    p.add_argument("--check", action="store_true", help="fail (exit 1) when the file drifted")
    p.set_defaults(func=cmd_codeowners)

    p = sub.add_parser("facts", help="print the policy input document (JSON) for the inventory")
    _inventory_arg(p)
    p.add_argument("--now", help="evaluate as of this RFC 3339 time (default: now)")
    p.set_defaults(func=cmd_facts)

    p = sub.add_parser("summary", help="a readable summary of the plant")
    _inventory_arg(p)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser(
        "audit",
        help="the auditors' evidence pack: control matrix, policy tests, coverage, waivers "
        "(exit 0, 1 rules without tests or controls, 2 invalid input, 3 no policy engine)",
    )
    _inventory_arg(p)
    p.add_argument("--policies", type=Path, default=Path("policies"))
    p.add_argument("--now", help="check the inventory as of this RFC 3339 time (default: now)")
    p.add_argument("--output", type=Path, default=Path("build/audit"), help="default: build/audit")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser(
        "review",
        help="the governance review since a revision or date (Markdown, HTML, PNG charts)",
    )
    p.add_argument("--since", required=True, help="a revision, or a date (YYYY-MM-DD)")
    p.add_argument("--until", default="HEAD", help="the last revision (default: HEAD)")
    p.add_argument("--now", help="as of this RFC 3339 time (default: now)")
    p.add_argument(
        "--output", type=Path, default=Path("build/review"), help="default: build/review"
    )
    p.add_argument(
        "--drift-export",
        type=Path,
        help="add a drift section: the head's inventory against this monitoring export",
    )
    p.add_argument(
        "--plant",
        type=Path,
        help="add device health, data accuracy and goal progress from this snapshot "
        "(plantctl plant snapshot)",
    )
    p.add_argument(
        "--access-log",
        type=Path,
        help="add remote access used (sessions, time, refusals per grant) from this access log "
        "(plantctl access log --format json)",
    )
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("plan-check", help="check a stack's `pulumi preview --json` (exit 0-3)")
    _inventory_arg(p)
    p.add_argument("--site", required=True)
    p.add_argument("--plan", type=Path, required=True, help="the preview JSON")
    p.add_argument("--policies", type=Path, default=Path("policies"))
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_plan_check)

    p = sub.add_parser("paths", help="attack paths of a site over allowed conduits (exit 0, 2)")
    _inventory_arg(p)
    p.add_argument("--site", required=True)
    p.add_argument(
        "--from",
        dest="origin",
        help="internet, enterprise, remote-access (zones of that kind) or a zone "
        "(default: internet, enterprise and remote-access)",
    )
    p.add_argument("--to", help="a zone, or a device (id or address)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_paths)

    p = sub.add_parser("access", help="remote access through a site's bastion")
    access_sub = p.add_subparsers(dest="access_command", required=True, parser_class=_Parser)
    a = access_sub.add_parser(
        "otp-uri",
        help="the otpauth:// URI of an MFA grant's TOTP seed, for its approver to hand to the "
        "grantee out of band (exit 0, 2 no such MFA grant or no seed)",
    )
    _inventory_arg(a)
    a.add_argument("grant")
    a.add_argument("--site", required=True)
    a.add_argument("--stack", help="the lab stack (default lab-SITE)")
    a.add_argument("--state-dir", type=Path, help="the stack's state (default .state/lab/STACK)")
    a.set_defaults(func=cmd_access_otp_uri)
    a = access_sub.add_parser(
        "log",
        help="every session, forward and recorded shell of the site's grants since a date, and "
        "the attempts refused, from the lab's bastion and gateways (exit 0, 2 bad date or no lab)",
    )
    _inventory_arg(a)
    a.add_argument("--site", required=True)
    a.add_argument("--since", required=True, help="YYYY-MM-DD or an RFC 3339 time (UTC if bare)")
    a.add_argument("--format", choices=("text", "json"), default="text")
    a.add_argument("--stack", help="the lab stack (default lab-SITE)")
    a.add_argument("--prefix", help="the lab's name prefix (default: the stack's)")
    a.add_argument("--output", type=Path, help="write the log here instead of stdout")
    a.set_defaults(func=cmd_access_log)
    a = access_sub.add_parser(
        "revoke",
        help="IT's emergency stop of a grant on the lab bastion: no new login (KRL), its open "
        "sessions closed, kept revoked by the stack until the grant is removed or re-approved; "
        "prints the pull-request edit that makes it permanent (exit 0, 2 no such grant or lab)",
    )
    _inventory_arg(a)
    a.add_argument("grant")
    a.add_argument("--site", required=True)
    a.add_argument("--stack", help="the lab stack (default lab-SITE)")
    a.add_argument("--prefix", help="the lab's name prefix (default: the stack's)")
    a.add_argument("--state-dir", type=Path, help="the stack's state (default .state/lab/STACK)")
    a.set_defaults(func=cmd_access_revoke)

    p = sub.add_parser(
        "drift",
        help="the inventory against a passive OT monitoring export (exit 0 no drift, 1 drift, "
        "2 invalid input)",
    )
    _inventory_arg(p)
    p.add_argument("--from", dest="source", type=Path, required=True, help="the export file")
    p.add_argument(
        "--format",
        choices=("auto", "nozomi", "claroty", "defender", "csv"),
        default="auto",
        help="the export's shape (default: told from the file)",
    )
    p.add_argument("--links", type=Path, help="the connections seen: a Nozomi query=links export")
    p.add_argument("--site", help="compare this site only (default: every site the export saw)")
    p.add_argument(
        "--seen-within", type=int, default=30, help="missing if not seen for DAYS (default 30)"
    )
    p.add_argument("--now", help="as of this RFC 3339 time (default: now)")
    p.add_argument("--output", type=Path, help="write the report here instead of stdout")
    p.add_argument("--format-out", choices=("text", "markdown", "json", "sarif"), default="text")
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser(
        "import",
        help="inventory files for a site from another tool's project (--format induform), or "
        "the undocumented devices of a monitoring export as entries to review (survey)",
    )
    p.add_argument(
        "--from", dest="source", type=Path, required=True, help="the project or export file"
    )
    p.add_argument(
        "--format",
        choices=("induform", "auto", "nozomi", "claroty", "defender", "csv"),
        default=None,
        help="induform: a new site from an InduForm project; otherwise (default auto) a "
        "monitoring export whose undocumented devices go to the existing site's devices.yaml",
    )
    p.add_argument("--site", required=True, help="the new site's id (induform), or the site")
    p.add_argument("--into", type=Path, default=None, help="inventory folder (default: inventory/)")
    p.add_argument(
        "--supernet",
        help="the site's address supernet (default: the /16 of the project's own subnets, "
        "else 10.60.0.0/16)",
    )
    p.add_argument("--timezone", default=None, help="induform: the site's time zone (default UTC)")
    p.set_defaults(func=cmd_import)

    from plantctl.reports import decision_record

    decision_record.add_parser(sub)

    p = sub.add_parser("lab", help="the running lab of a site")
    lab_sub = p.add_subparsers(dest="lab_command", required=True, parser_class=_Parser)
    v = lab_sub.add_parser(
        "verify",
        help="try every zone pair, the broker ACL and the grants on a running lab (root; exit "
        "0 as declared, 1 mismatches, 2 no such site or no lab up)",
    )
    _inventory_arg(v)
    v.add_argument("--site", required=True)
    v.add_argument("--stack", help="the lab stack (default lab-SITE)")
    v.add_argument("--prefix", help="the lab's name prefix (default: the stack's own)")
    v.add_argument(
        "--state-dir", type=Path, help="keys and certificates (default .state/lab/STACK)"
    )
    v.add_argument("--timeout", type=float, default=1.0, help="seconds per probe (default 1)")
    v.add_argument("--format", choices=("text", "json"), default="text")
    v.set_defaults(func=cmd_lab_verify)

    p = sub.add_parser("diagram", help="a site's zones and conduits as a picture (exit 0, 2)")
    _inventory_arg(p)
    p.add_argument("--site", required=True)
    p.add_argument("--format", choices=("svg", "dot", "mermaid"), default="svg")
    p.add_argument("--output", type=Path, help="file to write (default: standard output)")
    p.set_defaults(func=cmd_diagram)

    p = sub.add_parser("sites", help="the sites, or those whose stack a change touches (exit 0, 2)")
    _inventory_arg(p)
    p.add_argument("--changed", metavar="BASE", help="only the sites a change BASE..HEAD touches")
    p.add_argument("--head", default="HEAD")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser(
        "demo",
        help="the whole story of the sample plant, a headed section per step (make demo; the "
        "lab's steps need root; exit 0 every proof held, 1 a step failed, 2 no such site)",
    )
    p.add_argument("--site", default="ridgeway")
    p.add_argument("--output", type=Path, default=Path("build/demo"), help="its files")
    p.add_argument("--keep", action="store_true", help="leave the lab up (KEEP=1)")
    p.add_argument("--no-lab", action="store_true", help="only the steps that need no lab")
    p.add_argument("--down", action="store_true", help="take a lab left up by --keep down")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("plant", help="the running plant: health snapshots")
    plant_sub = p.add_subparsers(dest="plant_command", required=True, parser_class=_Parser)
    snap = plant_sub.add_parser(
        "snapshot",
        help="gateways online/offline, failing sources, last good read per signal, backlog and "
        "goal data of a site, as JSON (exit 0 healthy, 1 needs attention, 2 bad input)",
    )
    _inventory_arg(snap)
    snap.add_argument("--site", required=True)
    where = snap.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--from-file", type=Path, help="health messages: {topic: payload} or mosquitto_sub -v lines"
    )
    where.add_argument("--broker", help="HOST:PORT of the site broker (TLS, a role certificate)")
    snap.add_argument("--ca", type=Path, help="--broker: the CA certificate")
    snap.add_argument("--cert", type=Path, help="--broker: a role's client certificate")
    snap.add_argument("--key", type=Path, help="--broker: its key")
    snap.add_argument("--wait", type=float, default=3.0, help="--broker: seconds to listen")
    snap.add_argument(
        "--record",
        type=float,
        metavar="SECONDS",
        help="--broker: listen this long to the signals too (data accuracy, events, goals "
        "measured from the samples)",
    )
    snap.add_argument(
        "--shifts",
        help="shift start times, HH:MM in the site's time zone, comma-separated (e.g. "
        "06:00,14:00,22:00): goals measured from samples per shift too",
    )
    snap.add_argument("--now", help="as of this RFC 3339 time (default: now)")
    snap.add_argument("--output", type=Path, help="file to write (default: standard output)")
    snap.add_argument(
        "--format",
        choices=("json", "markdown"),
        default="json",
        help="json (for review --plant) or a short Markdown digest for the IT/OT meeting",
    )
    snap.set_defaults(func=cmd_plant_snapshot)
    return parser


def _load(args):
    from plantctl.model.inventory import default_root
    from plantctl.model.loader import load

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
    from plantctl.model import addressing

    if args.count < 1:
        print("plantctl allocate: --count must be 1 or more", file=sys.stderr)
        return EXIT_INVALID
    inv = _load(args)
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
    from plantctl.core import atomic

    atomic.write_text(output, text)


def cmd_check(args) -> int:
    from plantctl.core.problems import EXIT_BUNDLE, EXIT_ENGINE, EXIT_VIOLATIONS
    from plantctl.gate import check
    from plantctl.gate.engine import BundleRefused, EngineUnavailable

    now = parse_now(args.now)
    if args.base is None and (args.head or args.approvals or args.author):
        print("plantctl check: --head, --approvals and --author need --base", file=sys.stderr)
        return EXIT_INVALID
    try:
        if args.base is None:
            inv = _load(args)
            with check.engine(
                args.policies or Path("policies"), args.bundle, args.verification_key
            ) as endpoint:
                report = check.evaluate(inv, endpoint, now)
        else:
            report = _check_pull_request(args, now)
    except InvalidInput as exc:
        return _report_invalid(exc, "json" if args.format == "json" else "text")
    except BundleRefused as exc:
        print(f"plantctl check: {exc}; nothing was evaluated", file=sys.stderr)
        return EXIT_BUNDLE
    except EngineUnavailable as exc:
        print(f"plantctl check: policy engine unavailable, failing closed: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    code = EXIT_OK if report.passed else EXIT_VIOLATIONS
    if args.output_dir is not None:
        from plantctl.reports import decision_record

        decision_record.write_outputs(report, code, args)
    write_output(_render(report, args), args.output)
    return code


def _render(report, args) -> str:
    from plantctl.reports.formats import jsondoc, markdown, sarif, text

    if args.format == "json":
        return jsondoc.render(report)
    if args.format == "markdown":
        return markdown.render(report)
    if args.format == "sarif":
        return sarif.render(report)
    colour = None if args.output is None and sys.stdout.isatty() else False
    return text.render(report, colour=colour)


def _check_pull_request(args, now):
    from plantctl.gate import pull_request

    request = pull_request.Request(
        base=args.base,
        head=args.head,
        approvals=args.approvals,
        reviews_format=args.reviews_format,
        author=args.author,
        bundle=args.bundle,
        verification_key=args.verification_key,
    )
    return pull_request.judge(
        request, now, lambda text: print(f"plantctl check: {text}", file=sys.stderr)
    )


def cmd_codeowners(args) -> int:
    from plantctl.gate import codeowners

    inv = _load(args)
    expected = codeowners.render(inv)
    target = Path(args.root) / codeowners.PATH
    if args.check:
        actual = target.read_text(encoding="utf-8") if target.exists() else None
        problem = codeowners.drift(expected, actual)
        if problem:
            print(f"{codeowners.PATH}:1:1: {problem} [GATE-001]", file=sys.stderr)
            return EXIT_VIOLATIONS
        print(f"{codeowners.PATH} matches ownership")
        return EXIT_OK
    write_output(expected, target)
    print(f"wrote {target}")
    return EXIT_OK


def cmd_facts(args) -> int:
    from plantctl.gate import facts

    inv = _load(args)
    json.dump(facts.build(inv, parse_now(args.now)), sys.stdout, indent=2, sort_keys=True)
    print()
    return EXIT_OK


def cmd_summary(args) -> int:
    from plantctl.reports.summary import render

    inv = _load(args)
    render(inv)
    return EXIT_OK


def cmd_review(args) -> int:
    import subprocess

    from plantctl.model.sources import GitError
    from plantctl.reports import governance

    now = parse_now(args.now)
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    if top.returncode != 0:
        print("plantctl review: not inside a git repository", file=sys.stderr)
        return EXIT_INVALID
    from plantctl.reports import plant_health
    from plantctl.reports.governance import remote_access

    try:
        snapshot = plant_health.load(args.plant) if args.plant else None
        access = remote_access.load(args.access_log) if args.access_log else None
    except (plant_health.SnapshotError, remote_access.AccessLogError) as exc:
        print(f"plantctl review: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        result = governance.build(
            Path(top.stdout.strip()),
            args.since,
            now,
            args.until,
            args.drift_export,
            snapshot,
            access,
        )
    except GitError as exc:
        print(f"plantctl review: {exc}", file=sys.stderr)
        return EXIT_INVALID
    written = governance.write(result, args.output, repo=Path(top.stdout.strip()))
    print(f"governance review {governance._period(result)}")
    for path in written:
        print(f"  {path}")
    return EXIT_OK


def cmd_bundle_build(args) -> int:
    from plantctl.gate import bundle

    try:
        digest = bundle.build(args.policies, args.signing_key, args.output, args.signing_alg)
    except bundle.BuildFailed as exc:
        print(f"plantctl bundle build: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{args.output}: signed policy bundle of {args.policies} (sha256 {digest})")
    return EXIT_OK


def cmd_bundle_verify(args) -> int:
    from plantctl.core.problems import EXIT_BUNDLE, EXIT_ENGINE
    from plantctl.gate.engine import BundleRefused, EngineUnavailable, OpaServer

    try:
        with OpaServer(Path("."), bundle=args.bundle, verification_key=args.verification_key):
            pass
    except BundleRefused as exc:
        print(f"plantctl bundle verify: {exc}", file=sys.stderr)
        return EXIT_BUNDLE
    except EngineUnavailable as exc:
        print(f"plantctl bundle verify: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    print(f"{args.bundle}: signature and digests verified with {args.verification_key}")
    return EXIT_OK


def cmd_audit(args) -> int:
    from plantctl.core.problems import EXIT_ENGINE, EXIT_VIOLATIONS
    from plantctl.gate import check
    from plantctl.gate.engine import EngineUnavailable
    from plantctl.reports import audit

    now = parse_now(args.now)
    try:
        inv = _load(args)
        with check.engine(args.policies) as endpoint:
            report = check.evaluate(inv, endpoint, now)
        waivers = [
            {**{k: str(v) for k, v in rec.data.items()}, "file": rec.file, "line": rec.line}
            for rec in inv.of("waiver").values()
        ]
        pack, results = audit.build(args.policies, Path.cwd(), report, waivers=waivers)
    except (EngineUnavailable, audit.OpaFailed) as exc:
        print(f"plantctl audit: policy engine unavailable: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    written = audit.write(pack, audit.junit(results), args.output, inventory=inv)
    tests = pack["tests"]
    print(
        f"evidence pack for {pack['revision']['commit'] or 'an uncommitted tree'}: "
        f"{len(pack['rules'])} rules, {len(pack['controls'])} IEC 62443-3-3 requirements, "
        f"{tests['passed']}/{tests['total']} policy tests passed, {tests['coverage']}% of "
        f"policy lines covered, {len(pack['inventory']['violations'])} violation(s), "
        f"{len(pack['inventory']['waived'])} waived"
    )
    for path in written:
        print(f"  {path}")
    for gap in pack["gaps"]:
        print(f"plantctl audit: {gap}", file=sys.stderr)
    if pack["gaps"]:
        print(
            f"plantctl audit: {len(pack['gaps'])} gap(s): every rule needs a test, an IEC "
            "62443-3-3 requirement and a principle, and every policy test must pass",
            file=sys.stderr,
        )
        return EXIT_VIOLATIONS
    return EXIT_OK


def cmd_plan_check(args) -> int:
    from plantctl.core.problems import EXIT_ENGINE, EXIT_VIOLATIONS
    from plantctl.gate import plan_check
    from plantctl.gate.engine import EngineUnavailable

    try:
        inv = _load(args)
        plan = plan_check.load_plan(args.plan)
    except ValueError as exc:
        print(f"plantctl plan-check: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        decision = plan_check.evaluate(inv, args.site, plan, args.policies)
    except EngineUnavailable as exc:
        print(
            f"plantctl plan-check: policy engine unavailable, failing closed: {exc}",
            file=sys.stderr,
        )
        return EXIT_ENGINE
    if args.format == "json":
        print(json.dumps(decision, indent=2, sort_keys=True))
    else:
        sys.stdout.write(plan_check.render_text(args.site, decision))
    return EXIT_VIOLATIONS if decision["violations"] else EXIT_OK


def cmd_paths(args) -> int:
    from plantctl.plant import attack_paths

    inv = _load(args)
    try:
        result = attack_paths.find(inv, args.site, args.origin, args.to)
    except attack_paths.PathInputError as exc:
        print(f"plantctl paths: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "json":
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        sys.stdout.write(attack_paths.render_text(result))
    return EXIT_OK


def cmd_drift(args) -> int:
    from plantctl.core.problems import EXIT_VIOLATIONS
    from plantctl.reports import drift

    now = parse_now(args.now)
    inv = _load(args)
    result = drift.run(
        inv,
        args.source,
        args.format,
        site=args.site,
        seen_within=args.seen_within,
        now=now,
        links_path=args.links,
    )
    write_output(drift.render(result, args.format_out), args.output)
    if args.output is not None:
        print(drift.summary(result), file=sys.stderr)
    return EXIT_VIOLATIONS if result.drift else EXIT_OK


def cmd_access_otp_uri(args) -> int:
    from plantctl.configs import pam_oath
    from plantctl.plant import grants

    inv = _load(args)
    stack = args.stack or f"lab-{args.site}"
    state = args.state_dir or Path(__file__).resolve().parents[2] / ".state" / "lab" / stack
    users = state / "oath" / "users.oath"
    try:
        grant = grants.totp_subject(inv, args.site, args.grant)
        text = users.read_text() if users.exists() else None
        print(pam_oath.grant_uri(args.site, grant.data, args.grant, text))
    except (ValueError, OSError, UnsafeToken) as exc:
        print(f"plantctl access otp-uri: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def cmd_access_log(args) -> int:
    from datetime import UTC, datetime

    from plantctl.lab.journals import JournalError, access_log
    from plantctl.providers.lab import LabError, stack_prefix
    from plantctl.reports import access_log as report

    inv = _load(args)
    try:
        since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
    except ValueError:
        print(f"plantctl access log: --since {args.since!r} is not YYYY-MM-DD or an RFC 3339 "
              "time", file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    try:
        prefix = args.prefix or stack_prefix(args.stack or f"lab-{args.site}")
        log = access_log(inv, args.site, prefix, since)
    except (LabError, JournalError) as exc:
        print(f"plantctl access log: {exc}", file=sys.stderr)
        return EXIT_INVALID
    render = report.render_json if args.format == "json" else report.render_text
    write_output(render(log), args.output)
    return EXIT_OK


def cmd_access_revoke(args) -> int:
    from plantctl.providers.lab import LabError, check_prefix, stack_prefix
    from plantctl.providers.lab_revoke import RevokeError, render, revoke

    inv = _load(args)
    stack = args.stack or f"lab-{args.site}"
    state = args.state_dir or Path(__file__).resolve().parents[2] / ".state" / "lab" / stack
    try:
        prefix = check_prefix(args.prefix) if args.prefix else stack_prefix(stack)
        result = revoke(inv, args.site, args.grant, prefix, state)
    except (LabError, RevokeError, UnsafeToken) as exc:
        print(f"plantctl access revoke: {exc}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(render(result))
    return EXIT_OK


def cmd_import(args) -> int:
    from plantctl.importers import induform
    from plantctl.model.inventory import default_root

    into = args.into or default_root()
    notes: list[str] = []
    if args.format != "induform":
        from plantctl.importers import survey

        if args.supernet or args.timezone:
            print("plantctl import: --supernet and --timezone are for --format induform; a "
                  "survey import adds to an existing site", file=sys.stderr)  # fmt: skip
            return EXIT_INVALID
        written = survey.run(args.source, args.format or "auto", args.site, into, notes)
        for note in notes:
            print(note, file=sys.stderr)
        for path in written:
            print(f"wrote {path}")
        return EXIT_OK
    timezone = args.timezone or "UTC"
    written = induform.run(args.source, args.site, into, args.supernet, timezone, notes)
    for note in notes:
        print(note, file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_lab_verify(args) -> int:
    import os

    from plantctl.lab import verify
    from plantctl.providers.lab import LabError, check_prefix, stack_prefix

    inv = _load(args)
    stack = args.stack or f"lab-{args.site}"
    try:
        prefix = check_prefix(args.prefix) if args.prefix else stack_prefix(stack)
    except LabError as exc:
        print(f"plantctl lab verify: {exc}", file=sys.stderr)
        return EXIT_INVALID
    state = args.state_dir or Path(__file__).resolve().parents[2] / ".state" / "lab" / stack
    if os.geteuid() != 0:
        print("plantctl lab verify: the lab's namespaces need root", file=sys.stderr)
        return EXIT_INVALID
    try:
        report = verify.verify(inv, args.site, prefix, state, timeout=args.timeout)
    except verify.VerifyError as exc:
        print(f"plantctl lab verify: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2))
    else:
        sys.stdout.write(verify.render_text(report))
    return EXIT_VIOLATIONS if report.mismatches else EXIT_OK


def cmd_demo(args) -> int:
    from plantctl.demo import story

    if args.down:
        return story.down(args.site)
    options = story.Options(args.site, args.output, keep=args.keep, lab=not args.no_lab)
    return story.tell(options, lambda text: print(text, flush=True))


def cmd_sites(args) -> int:
    """One per line (text) or a JSON list (a workflow's matrix of previews)."""
    from plantctl.gate import changes, pull_request, site_stacks
    from plantctl.model.sources import GitError

    sites = sorted(_load(args).sites())
    if args.changed:
        repo = pull_request.repository()
        try:
            base = changes.resolve(repo, args.changed)
            head = changes.resolve(repo, args.head)
        except GitError:
            print(
                f"plantctl sites: unknown revision {args.changed!r} or {args.head!r}; "
                "fetch it or fix the name",
                file=sys.stderr,
            )
            return EXIT_INVALID
        sites = site_stacks.affected(changes.changed_files(repo, base, head), sites)
    if args.format == "json":
        print(json.dumps(sites))
    else:
        print("\n".join(sites))
    return 0


def cmd_diagram(args) -> int:
    from plantctl.reports import diagrams

    inv = _load(args)
    if inv.get("site", args.site) is None:
        sites = ", ".join(diagrams.site_ids(inv))
        print(f"plantctl diagram: no site {args.site!r}; sites: {sites}", file=sys.stderr)
        return EXIT_INVALID
    try:
        if args.format == "mermaid":
            text = diagrams.mermaid(inv, args.site)
        else:
            text = diagrams.dot(inv, args.site)
            if args.format == "svg":
                text = diagrams.svg(text)
    except diagrams.DotMissing as exc:
        print(f"plantctl diagram: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.output and args.output.exists() and not args.output.is_file():
        args.output.write_text(text)  # a device or a pipe: never renamed over
    elif args.output:
        from plantctl.core import atomic

        print(f"wrote {atomic.write_text(args.output, text)}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_plant_snapshot(args) -> int:
    import time

    from plantctl.reports import plant_health

    inv = _load(args)
    now = parse_now(args.now)
    try:
        if args.from_file:
            observed = plant_health.read_observed(args.from_file)
        else:
            host, _, port = args.broker.rpartition(":")
            if not (host and port.isdigit() and args.ca and args.cert and args.key):
                raise plant_health.SnapshotError("--broker HOST:PORT needs --ca, --cert and --key")
            topics = plant_health.signal_topics(inv, args.site) if args.record else []
            with plant_health.Listener(
                host, int(port), args.site, ca=args.ca, cert=args.cert, key=args.key,
                topics=topics,
            ) as listener:  # fmt: skip
                time.sleep(args.record or args.wait)
            observed = listener.observed()
        shifts = [s.strip() for s in args.shifts.split(",")] if args.shifts else None
        snap = plant_health.snapshot(
            inv, args.site, observed.messages, now, observed.measured, observed, shifts=shifts
        )
    except plant_health.SnapshotError as exc:
        print(f"plantctl plant snapshot: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "markdown":
        from plantctl.reports.governance import plant

        text = plant.digest(snap)
    else:
        text = json.dumps(snap, indent=2, sort_keys=True) + "\n"
    write_output(text, args.output)
    return EXIT_OK if plant_health.healthy(snap) else EXIT_VIOLATIONS


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InvalidInput as exc:  # invalid inventory or input, found by any command
        return _report_invalid(exc)
    except UnsafeToken as exc:  # the renderers' second lock: a value no config may hold
        print(f"plantctl: {bounded(str(exc))} [RENDER]; nothing was written", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
