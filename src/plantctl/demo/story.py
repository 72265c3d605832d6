"""The story `plantctl demo` tells: one headed section per step, each saying what it proves and
ending in `ok:` with the proof, `skipped:` (what it needs) or `FAILED:` (the story stops there,
the lab goes down unless --keep).

Steps that need no lab (the inventory, the gate, the diagram, the pull request, the evidence
pack and the review) run as any user; the pull request and the reports are computed in the
background from the start, so the lab's steps are not kept waiting. The lab's steps need root.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from plantctl.lab import verify
from plantctl.lab.netns import list_names
from plantctl.model.inventory import Inventory
from plantctl.model.loader import load
from plantctl.providers.lab import teardown

from . import data_path, plant_review, pull_request, vendor
from .gateways import GatewayError, Gateways, build_wheelhouse
from .stack import REPO, DemoStack, StackFailed

NEEDS_ROOT = "needs root (network namespaces, booted machines): run sudo make demo"
INOTIFY_HINT = (
    "hint: every booted machine's systemd takes inotify instances of root's, and the host's "
    "fs.inotify.max_user_instances is used up (other labs running?): try again when fewer "
    "run, or raise it (sysctl fs.inotify.max_user_instances=512); the demo changes no sysctl"
)
CONSUME_S = 8  # how long each role's consumer listens
READ_WAIT_S = 60  # how long the collectors get to read every PLC after the converge


class StepFailed(RuntimeError):
    """A step's proof did not hold; the message says what was seen and where to look."""


@dataclass
class Options:
    site: str = "ridgeway"
    output: Path = Path("build/demo")
    keep: bool = False
    lab: bool = True  # False: only the steps that need no lab (tests, a quick look)
    work: Path | None = None  # the lab's files (default .state/demo/SITE)
    prefix: str | None = None  # the lab's name prefix (default demoSITE)


@dataclass
class Step:
    title: str
    proves: str
    run: Callable[[Demo], str]
    lab: bool = False  # needs the lab (root)


@dataclass
class Demo:
    options: Options
    inv: Inventory
    out: Callable[[str], None]
    root: bool = field(default_factory=lambda: os.geteuid() == 0)
    stack: DemoStack | None = None
    inv_lab: Inventory | None = None  # the lab's copy of the sample (stack.py)
    gateway_names: list[str] = field(default_factory=list)  # those the demo boots
    gateways: Gateways | None = None
    background: dict[str, Future] = field(default_factory=dict)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=3))
    # the reviews' period: the last 30 days
    since: str = field(
        default_factory=lambda: (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%d")
    )

    @property
    def site(self) -> str:
        return self.options.site

    def lab(self) -> tuple[DemoStack, Inventory]:
        """The lab's stack and its inventory copy (only once the lab is up)."""
        if self.stack is None or self.inv_lab is None:
            raise StepFailed("the lab is not up")
        return self.stack, self.inv_lab

    @property
    def lab_runs(self) -> bool:
        return self.options.lab and self.root

    def say(self, text: str = "") -> None:
        for line in text.rstrip("\n").splitlines() or [""]:
            self.out(f"  {line}")

    def plantctl(self, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "plantctl", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


# -- the steps that need no lab ---------------------------------------------------------------


def validate(d: Demo) -> str:
    done = d.plantctl("validate")
    d.say(done.stdout + done.stderr)
    if done.returncode != 0:
        raise StepFailed(f"plantctl validate exited {done.returncode}")
    return "schema, references and address plan hold (plantctl validate: exit 0)"


def summary(d: Demo) -> str:
    done = d.plantctl("summary")
    d.say(done.stdout)
    if done.returncode != 0:
        raise StepFailed(f"plantctl summary exited {done.returncode}: {done.stderr.strip()}")
    return (
        f"{len(d.inv.sites())} sites, {len(d.inv.of('gateway'))} gateways, "
        f"{len(d.inv.of('collector'))} collectors, {len(d.inv.of('grant'))} grants"
    )


def check(d: Demo) -> str:
    done = d.plantctl("check")
    d.say(done.stdout + done.stderr)
    if done.returncode not in (0, 1):
        raise StepFailed(f"plantctl check exited {done.returncode}: no answer from the policies")
    verdict = "no violation" if done.returncode == 0 else "violations listed above (exit 1)"
    return f"every rule of policies/ evaluated by OPA on the whole plant: {verdict}"


def diagram(d: Demo) -> str:
    target = d.options.output / f"zones-{d.site}.svg"
    target.parent.mkdir(parents=True, exist_ok=True)
    done = d.plantctl("diagram", "--site", d.site, "--output", str(target.resolve()))
    if done.returncode != 0:
        raise StepFailed(f"plantctl diagram exited {done.returncode}: {done.stderr.strip()}")
    zones = len(d.inv.site_objects("zone", d.site))
    conduits = len(d.inv.site_objects("conduit", d.site))
    return f"{zones} zones and {conduits} conduits of {d.site} drawn: {target}"


def start_background(d: Demo) -> None:
    """The pull request and the reports, computed from the start (they need no lab)."""
    out = d.options.output.resolve()
    d.background["pr"] = d.pool.submit(pull_request.run, out / "pull-request", d.site)
    since = d.since
    d.background["audit"] = d.pool.submit(d.plantctl, "audit", "--output", str(out / "audit"))
    d.background["review"] = d.pool.submit(
        d.plantctl, "review", "--since", since, "--output", str(out / "review")
    )


def judge_pull_request(d: Demo) -> str:
    run = d.background["pr"].result()
    d.say(
        f"maintenance (author {pull_request.AUTHOR}) adds {run.gateway} at {run.address} "
        f"(the zone's next free address) on a branch; head {run.head[:12]}"
    )
    d.say("without approvals:")
    d.say("  " + run.without.text.strip().replace("\n", "\n  "))
    if run.without.code != 1 or not run.without.missing:
        raise StepFailed(f"the gate did not fail for missing approvals: {run.without.decision}")
    d.say(f"with the approvals of {', '.join(run.approvers)} on that commit:")
    d.say("  " + run.with_approvals.text.strip().replace("\n", "\n  "))
    if run.with_approvals.code != 0:
        raise StepFailed(f"the gate did not pass with the approvals: {run.with_approvals.decision}")
    return (
        f"FAIL without approvals ({', '.join(run.without.missing)} missing), "
        f"PASS once {', '.join(run.approvers)} approved"
    )


def reports(d: Demo) -> str:
    paths = []
    for name, main in (("audit", "evidence.html"), ("review", "review.html")):
        done = d.background[name].result()
        if done.returncode not in (0, 1):
            raise StepFailed(f"plantctl {name} exited {done.returncode}: {done.stderr.strip()}")
        folder = d.options.output / name
        files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        d.say(f"{folder}/: {', '.join(files)}")
        if main not in files:
            raise StepFailed(f"plantctl {name} wrote no {main} in {folder}")
        paths.append(str(folder / main))
    return "written: " + ", ".join(paths)


# -- the lab's steps --------------------------------------------------------------------------


def lab_up(d: Demo) -> str:
    stack = DemoStack.of(d.site, d.options.work, d.options.prefix)
    why = stack.available()
    if why:
        raise StepFailed(f"the lab cannot run here: {why}")
    if stack.is_up():
        d.say(f"a demo lab of {d.site} is still up (KEEP=1 earlier): taking it down first")
        lab_down_quietly(stack)
    d.gateway_names = [
        gw.key
        for gw in sorted(d.inv.site_objects("gateway", d.site), key=lambda r: r.key)
        if any(c.data["gateway"] == gw.key for c in d.inv.site_objects("collector", d.site))
    ]
    stack.write_inventory(d.inv, d.gateway_names, datetime.now(UTC))
    d.stack, d.inv_lab = stack, load(stack.inventory)
    vg = stack.vendor_grant
    assert vg is not None
    d.say(
        f"stack {stack.stack} on a copy of the sample ({stack.inventory}): the sample plus "
        f"{stack.admin}'s key and grants to {', '.join(stack.admin_grants)} and vendor grant "
        f"{vg.id} ending {vg.end:%H:%M} UTC"
    )
    try:
        result = stack.run("up")
    except StackFailed as exc:
        raise StepFailed(str(exc)) from None
    for made in stack.plug_missing_hosts(d.inv):
        d.say(f"not in the lab stack yet, an empty host in its place: {made}")
    names = list_names(stack.prefix)
    hosts = result.get("outputs", {}).get("hosts", {})
    d.say(
        f"{sum(result.get('changes', {}).values())} resources in {result.get('seconds')} s; "
        f"{len(names)} namespaces {stack.prefix}-*, {len(hosts)} stand-in hosts, "
        f"router/firewall {stack.prefix}-{d.site}-rt"
    )
    d.background["vendor"] = d.pool.submit(vendor.walk, stack, d.lab()[1], stack.run_dir / "vendor")
    return f"zones, zone firewall, booted broker and bastion of {d.site} up under {stack.prefix}"


def lab_verify(d: Demo) -> str:
    assert d.stack is not None
    report = verify.verify(d.inv, d.site, d.stack.prefix, d.stack.state)
    d.say(verify.render_text(report))
    if report.mismatches:
        raise StepFailed(f"{len(report.mismatches)} mismatch(es) between the lab and the inventory")
    seg, broker, bastion = (report.counts(a) for a in ("segmentation", "broker", "bastion"))
    return (
        f"{seg['tried']} flows, {broker['tried']} role x class deliveries, "
        f"{bastion['tried']} grant connections as the inventory says: 0 mismatches"
    )


def converge(d: Demo) -> str:
    stack, inv = d.lab()
    names = d.gateway_names
    gws = d.gateways = Gateways(stack, inv, names)
    try:
        d.say(build_wheelhouse())
        booted = gws.boot()
        d.say(
            f"booted {', '.join(f'{g} ({s} s)' for g, s in booted.items())} in place of "
            "their stand-ins"
        )
        gws.open_sessions()
        gws.ssh_config()
    except GatewayError as exc:
        raise StepFailed(str(exc)) from None
    d.say(
        f"through the bastion: {stack.admin}'s grants "
        f"{', '.join(g.id for g in stack.admin_grants.values())} (key, then TOTP), "
        "each a channel to its gateway's SSH"
    )
    first = gws.converge("root", "converge-1")
    d.say(f"converge 1 as root (provisioning key), {first.seconds:.0f} s:")
    for gw in names:
        d.say("  " + first.line(gw))
    if first.code != 0 or any(first.recap.get(g, {}).get("failed", 1) for g in names):
        raise StepFailed(f"the first converge failed (exit {first.code}); see {first.log}")
    second = gws.converge(stack.admin, "converge-2")
    d.say(
        f"converge 2 as {stack.admin} (sudo; root logins are closed now), {second.seconds:.0f} s:"
    )
    for gw in names:
        d.say("  " + second.line(gw))
    if second.code != 0 or any(second.recap.get(g, {}).get("changed", 1) for g in names):
        raise StepFailed(f"the second converge changed something or failed; see {second.log}")
    changed = sum(first.recap[g]["changed"] for g in names)
    return f"{len(names)} gateways provisioned ({changed} changes), then converged again: changed=0"


def collectors(d: Demo) -> str:
    stack, inv = d.lab()
    names = d.gateway_names
    deadline = time.monotonic() + READ_WAIT_S
    while True:
        reads = data_path.plc_reads(stack, inv, names)
        if all(r.requests for r in reads) or time.monotonic() > deadline:
            break
        time.sleep(2)
    for r in reads:
        d.say(
            f"{r.machine} ({r.protocol}, read by {r.gateway}): {r.requests} requests "
            f"({', '.join(r.kinds) or 'none'}), {r.writes} writes"
        )
    idle = [r.machine for r in reads if not r.requests]
    if idle:
        raise StepFailed(f"no collector read {', '.join(idle)} within {READ_WAIT_S} s")
    writes = [r.machine for r in reads if r.writes]
    if writes:
        raise StepFailed(f"a collector wrote to {', '.join(writes)}: collectors must only read")
    return (
        f"{len(reads)} PLC simulators read by the collectors, "
        f"{sum(r.requests for r in reads)} requests, not one write"
    )


def broker_roles(d: Demo) -> str:
    stack, inv = d.lab()
    wide, narrow, withheld = data_path.pick_roles(inv, d.site, d.gateway_names)
    seen = {c.role: c for c in data_path.consume(stack, inv, [wide, narrow], CONSUME_S)}
    for role in (wide, narrow):
        c = seen[role]
        counts = ", ".join(f"{k} {n}" for k, n in sorted(c.classes.items())) or "nothing"
        d.say(f"role {role} ({CONSUME_S} s, its own certificate): {counts}")
        for line in c.samples[:3]:
            d.say(f"    {line[:110]}")
        if c.error:
            raise StepFailed(f"the consumer of role {role} failed: {c.error}")
    if not seen[wide].classes.get(withheld):
        raise StepFailed(f"role {wide} views {withheld} but received none of it")
    if seen[narrow].classes.get(withheld):
        raise StepFailed(f"role {narrow} is not a viewer of {withheld} but received it")
    return (
        f"live values delivered to role {wide}; role {narrow} (not a viewer of "
        f"{withheld}) received no {withheld}"
    )


def plant_health(d: Demo) -> str:
    stack, inv = d.lab()
    out = d.options.output.resolve()
    try:
        seen = plant_review.snapshot(stack, inv, out)
        d.say(
            f"snapshot at the broker, {plant_review.RECORD_S} s with role {seen.role}'s "
            f"certificate (exit {seen.code}: {'healthy' if seen.code == 0 else 'needs attention'}):"
        )
        for line in seen.lines:
            d.say("  " + line)
        written, md = plant_review.review(d.plantctl, seen, d.since, out / "plant-review")
    except plant_review.ReviewFailed as exc:
        raise StepFailed(str(exc)) from None
    d.say(f"written: {seen.snapshot}")
    for path in written:
        d.say(f"written: {path}")
    doc = seen.doc
    gateways = doc["gateways"]
    online = doc["summary"]["gateways_online"]
    if online == 0:
        raise StepFailed(f"no gateway published its health ({seen.snapshot})")
    judged = plant_review.judged(doc)
    if judged == 0:
        raise StepFailed(f"the snapshot heard no signal's samples ({seen.snapshot})")
    missing = [t for t in ("Device health of", "Goal progress of") if t not in md]
    if missing:
        raise StepFailed(
            f"the review has no {' or '.join(missing)} section: {out / 'plant-review'}"
        )
    goals = "; ".join(f"{k} {plant_review.goal_figure(g)}" for k, g in sorted(doc["goals"].items()))
    return (
        f"{online}/{len(gateways)} gateways online, {judged}/{len(doc['signals'])} signals "
        f"judged, goals: {goals or 'none'}; review: {out / 'plant-review' / 'review.html'}"
    )


def vendor_window(d: Demo) -> str:
    seen: vendor.WindowSeen = d.background["vendor"].result()
    for line in seen.lines:
        d.say(line)
    if seen.error:
        raise StepFailed(seen.error)
    if not seen.inside:
        raise StepFailed("the vendor did not reach the granted port inside the window")
    if not seen.other_refused:
        raise StepFailed("the vendor reached a port the grant does not name")
    if not seen.after_refused:
        raise StepFailed("the bastion still let the vendor in after the window's end")
    g = d.lab()[0].vendor_grant
    assert g is not None
    return (
        f"{g.id}: {g.target}:{g.port} reached inside the window, another port refused, "
        f"login refused after {g.end:%H:%M} UTC (no stack run in between)"
    )


def lab_down_quietly(stack: DemoStack) -> list[str]:
    """Destroy the stack; sweep anything left with its prefix (booted gateways included)."""
    problems = []
    try:
        stack.run("destroy")
    except StackFailed as exc:
        problems.append(str(exc))
    teardown(stack.prefix)
    return problems


def lab_down(d: Demo) -> str:
    assert d.stack is not None
    stack = d.stack
    if d.options.keep:
        d.say(explore(d))
        return f"left up (KEEP=1); take it down with: {stack.destroy_command()}"
    close_lab(d)
    problems = lab_down_quietly(stack)
    left = list_names(stack.prefix)
    d.stack = None
    if left or problems:
        raise StepFailed(f"left behind: {', '.join(left)} {' '.join(problems)}")
    return f"no namespace, machine or mount of {stack.prefix} left"


def close_lab(d: Demo) -> None:
    if d.gateways is not None:
        d.gateways.close_sessions()
        d.gateways.stop()
        d.gateways = None


def explore(d: Demo) -> str:
    s, inv = d.lab()
    gw = inv.get("gateway", d.gateway_names[0]) if d.gateway_names else None
    gw_address = gw.data["address"] if gw else "GATEWAY"
    return "\n".join(
        [
            f"namespaces:      ip netns list | grep ^{s.prefix}-",
            f"zone firewall:   ip netns exec {s.prefix}-{d.site}-rt nft list ruleset",
            f"a gateway:       ssh -F {s.work / 'converge' / 'ssh_config'} {s.admin}@{gw_address}",
            f"verify again:    plantctl lab verify --site {d.site} --prefix {s.prefix} "
            f"--state-dir {s.state}",
            f"keys, PKI:       {s.state}/",
            f"down:            {s.destroy_command()}",
        ]
    )


STEPS = [
    Step(
        "The inventory is valid",
        "the sample plant's YAML passes its schemas, references and address plan",
        validate,
    ),
    Step(
        "The plant at a glance",
        "one loader reads the whole plant: sites, zones, devices, people and grants",
        summary,
    ),
    Step(
        "The policies judge the plant",
        "the gate's rules (OPA) evaluate the whole inventory and answer, failing closed",
        check,
    ),
    Step(
        "Zones and conduits, drawn",
        "the segmentation is a picture anyone can check (Graphviz)",
        diagram,
    ),
    Step(
        "The lab up",
        "the site's zones, zone firewall, broker and bastion exist for real on "
        "this machine (Pulumi, network namespaces, booted machines)",
        lab_up,
        lab=True,
    ),
    Step(
        "The lab does what the inventory says",
        "every conduit passes, undeclared traffic is "
        "dropped, the broker's ACL and the bastion's grants hold (plantctl lab verify)",
        lab_verify,
        lab=True,
    ),
    Step(
        "Gateways converged through the bastion",
        "Ansible provisions the gateways only "
        "through the bastion, and a second converge changes nothing",
        converge,
        lab=True,
    ),
    Step(
        "Collectors read the PLC simulators",
        "the collectors read their machines over the declared conduits and never write to a PLC",
        collectors,
        lab=True,
    ),
    Step(
        "Live values at the broker, by data-class role",
        "the broker delivers a data class only to the roles its viewers list",
        broker_roles,
        lab=True,
    ),
    Step(
        "Plant health and goals",
        "the governance review's device health, data accuracy and goal progress come from "
        "the running plant (a listening snapshot at the broker, plantctl review --plant)",
        plant_health,
        lab=True,
    ),
    Step(
        "A maintenance pull request judged",
        "the gate fails a change that lacks its "
        "approvals and passes it once the right teams approved the commit",
        judge_pull_request,
    ),
    Step(
        "A vendor grant inside and after its window",
        "remote access works in its window and stops by itself after it",
        vendor_window,
        lab=True,
    ),
    Step(
        "The evidence pack and the governance review",
        "auditors and the governance meeting get their reports from the same inventory",
        reports,
    ),
    Step("The lab down", "nothing of the lab stays behind", lab_down, lab=True),
]


def tell(options: Options, out: Callable[[str], None] = print) -> int:
    """The whole story; 0 when every step's proof held, 1 when one did not."""
    inv = load(REPO / "inventory")
    if inv.get("site", options.site) is None:
        out(f"plantctl demo: no site {options.site!r}; sites: {', '.join(inv.sites())}")
        return 2
    d = Demo(options, inv, lambda text: out(text))
    started = time.monotonic()
    start_background(d)
    failed = None
    try:
        for n, step in enumerate(STEPS, 1):
            out(f"\n== {n}/{len(STEPS)} {step.title} ==")
            out(f"proves: {step.proves}")
            if step.lab and not d.lab_runs:
                out("skipped: " + (NEEDS_ROOT if options.lab else "the lab's steps are off"))
                continue
            t0 = time.monotonic()
            try:
                proof = step.run(d)
            except StepFailed as exc:
                failed = f"{n}/{len(STEPS)} {step.title}: {exc}"
                out(f"FAILED: {exc}")
                break
            except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as exc:
                # a lab command or machine that failed (MachineError, CommandError, ...): the
                # story stops with what it said, never a traceback
                failed = f"{n}/{len(STEPS)} {step.title}: {type(exc).__name__}"
                out(f"FAILED: {type(exc).__name__}: {str(exc)[:1500]}")
                if "Too many open files" in str(exc):
                    out(INOTIFY_HINT)
                break
            out(f"ok: {proof} ({time.monotonic() - t0:.1f} s)")
    finally:
        if d.stack is not None and not options.keep:
            close_lab(d)
            out(f"\ntaking the lab down: {' '.join(lab_down_quietly(d.stack)) or 'done'}")
        elif d.stack is not None and failed:
            out("\nthe lab is left up (--keep):\n" + explore(d))
        d.pool.shutdown(wait=True, cancel_futures=True)
    took = time.monotonic() - started
    if failed:
        out(f"\nthe story stopped at {failed}")
        return 1
    skipped = (
        ""
        if d.lab_runs
        else " (the lab's steps skipped: " + (NEEDS_ROOT if options.lab else "--no-lab") + ")"
    )
    out(
        f"\nthe story of {options.site} told in {took:.0f} s{skipped}; outputs in {options.output}/"
    )
    return 0


def down(site: str, out: Callable[[str], None] = print) -> int:
    """Take a demo lab left up by --keep down."""
    stack = DemoStack.of(site)
    if not stack.is_up() and not list_names(stack.prefix):
        out(f"no demo lab of {site} is up")
        return 0
    problems = lab_down_quietly(stack)
    left = list_names(stack.prefix)
    out(f"demo lab {stack.prefix} down" if not left else f"left behind: {', '.join(left)}")
    for p in problems:
        out(p)
    return 1 if left else 0
