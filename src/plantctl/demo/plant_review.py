"""The review with the running plant in it: a listening snapshot taken at the demo lab's broker
(`plantctl plant snapshot --record`, the gateways' retained health and the signals' samples, with
the certificate of a role that views gateway health and every goal's metric), then
`plantctl review --plant` on it: device health, data accuracy, events and goal progress.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plantctl.collector.config import HEALTH_CLASS
from plantctl.model.inventory import Inventory
from plantctl.plant import broker_access

from .data_path import consumer_host
from .stack import REPO, DemoStack

RECORD_S = 20  # how long the snapshot listens: several samples of every 1-5 s signal


class ReviewFailed(RuntimeError):
    pass


@dataclass
class PlantSeen:
    role: str
    snapshot: Path
    doc: dict[str, Any]
    code: int  # the snapshot's exit: 0 healthy, 1 needs attention
    lines: list[str] = field(default_factory=list)


def reader_role(inv: Inventory, site: str) -> str:
    """The role that views gateway health and the most of the site's goals' data classes (the
    one that views them all, when there is one; fewest other classes on a tie)."""
    needed = {
        c for g in inv.of("goal").values() if g.data["site"] == site for c in g.data["data_classes"]
    }
    health_viewers = (
        inv.get("data_class", HEALTH_CLASS).data["viewers"]  # type: ignore[union-attr]
        if inv.get("data_class", HEALTH_CLASS) is not None
        else []
    )
    if not health_viewers:
        raise ReviewFailed(f"the lab's inventory has no {HEALTH_CLASS} data class: no health")
    views = {r: set(broker_access.viewable_classes(inv, r)) for r in health_viewers}
    return max(sorted(views), key=lambda r: (len(views[r] & needed), -len(views[r])))


def snapshot(stack: DemoStack, inv: Inventory, folder: Path, seconds: int = RECORD_S) -> PlantSeen:
    """Listen at the lab's broker for `seconds` from a lab host that may reach it."""
    role = reader_role(inv, stack.site)
    where, listener = consumer_host(stack, inv)
    pki = stack.state / "pki"
    base = pki / "clients" / broker_access.role_account(role)
    target = folder / f"plant-snapshot-{stack.site}.json"
    folder.mkdir(parents=True, exist_ok=True)
    args = [
        "ip", "netns", "exec", f"{stack.prefix}-{where.name}",
        sys.executable, "-m", "plantctl", "plant", "snapshot",
        "--inventory", str(stack.inventory), "--site", stack.site,
        "--broker", f"{listener.address}:{listener.port}", "--ca", str(pki / "ca.crt"),
        "--cert", f"{base}.crt", "--key", f"{base}.key",
        "--record", str(seconds), "--output", str(target),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            args, cwd=REPO, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
    except subprocess.TimeoutExpired:
        raise ReviewFailed(f"plantctl plant snapshot did not finish in {seconds + 120} s") from None
    if done.returncode not in (0, 1) or not target.is_file():
        raise ReviewFailed(
            f"plantctl plant snapshot exited {done.returncode}: {done.stderr.strip()[-400:]}"
        )
    doc = json.loads(target.read_text())
    return PlantSeen(role, target, doc, done.returncode, describe(doc))


def describe(doc: dict[str, Any]) -> list[str]:
    """What the snapshot saw, a line per gateway and per goal."""
    lines = []
    for gw, g in sorted(doc["gateways"].items()):
        extra = (
            f", backlog {g.get('backlog', 0)}, failing sources: "
            f"{', '.join(g.get('sources_failing') or []) or 'none'}"
            if g["state"] == "online"
            else f" ({g.get('reason', '')})"
        )
        lines.append(f"gateway {gw}: {g['state']}{extra}")
    s = doc["summary"]
    lines.append(
        f"signals: {judged(doc)} judged from their samples, {s['signals_stale']} stale, "
        f"{s['signals_inaccurate']} with accuracy findings; {len(doc['events'])} event(s)"
    )
    for key, goal in sorted(doc["goals"].items()):
        lines.append(f"goal {key} ({goal['meaning']}): {goal_figure(goal)}")
    return lines


def judged(doc: dict[str, Any]) -> int:
    """Signals whose accuracy was judged from at least one sample heard."""
    return sum(1 for s in doc["signals"].values() if (s.get("accuracy") or {}).get("samples"))


def goal_figure(goal: dict[str, Any]) -> str:
    found = goal.get("measured")
    if not found:
        return "no data"
    return f"{found['value']:g} {goal['unit']} over {found.get('measured_s', 0):.0f} s"


def review(run: Any, seen: PlantSeen, since: str, folder: Path) -> tuple[list[Path], str]:
    """`plantctl review --plant` on the snapshot (run: the demo's plantctl runner); the files
    written and the review's Markdown."""
    done: subprocess.CompletedProcess = run(
        "review", "--since", since, "--plant", str(seen.snapshot), "--output", str(folder)
    )
    if done.returncode != 0:
        raise ReviewFailed(
            f"plantctl review --plant exited {done.returncode}: {done.stderr[-400:]}"
        )
    md = folder / "review.md"
    if not md.is_file():
        raise ReviewFailed(f"plantctl review --plant wrote no {md}")
    written = [Path(ln.strip()) for ln in done.stdout.splitlines()[1:] if ln.strip()]
    return written, md.read_text()
