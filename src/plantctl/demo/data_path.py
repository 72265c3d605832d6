"""The demo's data path: what the PLC simulators saw of the collectors (reads only), and what
the broker delivers to consumers of two data-class roles (the broker's ACL from the inventory's
data-class viewers: one role sees a class live, another that is not a viewer gets none of it).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from plantctl.collector import config
from plantctl.lab import verify
from plantctl.lab.netns import Namespace
from plantctl.lab.plc import PlcSimulator
from plantctl.model.inventory import Inventory
from plantctl.plant import broker_access, collector_config, segmentation
from plantctl.plant.segmentation import INTERNET

from .stack import DemoStack


@dataclass
class PlcReads:
    machine: str
    protocol: str
    gateway: str
    requests: int
    writes: int
    kinds: list[str]


def plc_reads(stack: DemoStack, inv: Inventory, gateways: list[str]) -> list[PlcReads]:
    """Each machine the gateways read: the requests its simulator recorded (the stack's
    stand-ins record to <run dir>/hosts/<machine>.requests.jsonl) and how many were not reads."""
    found = []
    for gw in gateways:
        for src in config.parse(collector_config.render(inv, gw)).sources:
            sim = PlcSimulator(src, stack.run_dir / "hosts")
            seen = sim.requests()
            kinds = Counter(
                str(r.get("service") or r.get("function") or r.get("command") or "?") for r in seen
            )
            found.append(
                PlcReads(
                    src.machine,
                    src.protocol,
                    gw,
                    len(seen),
                    len(sim.writes()),
                    [f"{k} x{n}" for k, n in kinds.most_common(3)],
                )
            )
    return found


@dataclass
class Consumer:
    role: str
    classes: Counter  # data class -> messages received
    samples: list[str]  # a few "topic payload" lines
    error: str = ""


def pick_roles(inv: Inventory, site: str, gateways: list[str]) -> tuple[str, str, str]:
    """(a role that views the class, a role that does not, the class): the class the gateways
    publish most often (so a few seconds show it arriving), the second role one that views
    another published class if there is one (its consumer is seen to receive, just not that)."""
    rate: dict[str, float] = {}
    for c in inv.site_objects("collector", site):
        if c.data["gateway"] in gateways:
            for sig in c.data["signals"]:
                per_s = 1 / max(float(sig.get("interval_s") or 1), 0.1)
                rate[sig["data_class"]] = rate.get(sig["data_class"], 0.0) + per_s
    access = broker_access.build(inv, site)
    roles = sorted(a.subject for a in access.accounts if a.kind == "role")
    views = {r: set(broker_access.viewable_classes(inv, r)) & set(rate) for r in roles}
    for cls in sorted(rate, key=lambda c: (-rate[c], c)):
        viewers = [r for r in roles if cls in views[r]]
        others = sorted((r for r in roles if cls not in views[r]), key=lambda r: -len(views[r]))
        if viewers and others:
            return max(viewers, key=lambda r: len(views[r])), others[0], cls
    raise ValueError(f"no published class of {site} is withheld from any role: nothing to show")


def consumer_host(stack: DemoStack, inv: Inventory) -> tuple[verify.Host, broker_access.Listener]:
    """A lab host that may reach the site broker (a client first), and the broker's listener."""
    access = broker_access.build(inv, stack.site)
    [listener] = access.listeners[:1]
    seg = segmentation.build(inv, stack.site)
    where = next(
        h
        for h in sorted(
            verify.hosts(inv, stack.site, seg), key=lambda h: (h.kind != "client", h.name)
        )
        if h.zone != INTERNET
        and h.name != access.broker_id
        and Namespace(f"{stack.prefix}-{h.name}").exists()
        and verify.permitted(
            seg, h.zone, h.address, access.zone, listener.address, "tcp", listener.port
        )
    )
    return where, listener


def consume(stack: DemoStack, inv: Inventory, roles: list[str], seconds: int) -> list[Consumer]:
    """Each role's consumer subscribes to the whole site for `seconds`, with its own client
    certificate, from a lab host that may reach the broker."""
    site = stack.site
    where, listener = consumer_host(stack, inv)
    pki = stack.state / "pki"

    def one(role: str) -> Consumer:
        base = pki / "clients" / f"role.{role}"
        args = [
            "ip",
            "netns",
            "exec",
            f"{stack.prefix}-{where.name}",
            "mosquitto_sub",
            "-h",
            listener.address,
            "-p",
            str(listener.port),
            "--cafile",
            str(pki / "ca.crt"),
            "--cert",
            f"{base}.crt",
            "--key",
            f"{base}.key",
            "-i",
            f"demo-{role}",
            "-t",
            f"{site}/#",
            "-v",
            "-q",
            "1",
            "-W",
            str(seconds),
        ]
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=seconds + 30, check=False
            )
        except subprocess.TimeoutExpired:
            return Consumer(role, Counter(), [], "mosquitto_sub did not finish")
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith(f"{site}/")]
        classes = Counter(ln.split(" ", 1)[0].split("/")[-2] for ln in lines if ln.count("/") >= 4)
        err = "" if lines or done.returncode in (0, 27) else done.stderr.strip()[-200:]
        return Consumer(role, classes, lines[:4], err)

    with ThreadPoolExecutor(max_workers=len(roles)) as pool:
        return list(pool.map(one, roles))
