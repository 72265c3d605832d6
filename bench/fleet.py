"""Fleet provisioning at 2, 5 and 10 gateways (issue 19 item 2): the first and the second
converge of site.yml through ansible-runner, as an AWX job runs it (tests/ansible/awx_job.py),
with forks and Mitogen (ansible.cfg: strategy mitogen_linear), on a fresh lab fleet per size
(tests/ansible/fleet_lab.py: booted gateways behind the site bastion). Prints a table and writes
build/bench-fleet.json.

    .venv/bin/python bench/fleet.py [--sizes 2 5 10] [--linear]

In the largest fleet, second converges of its first 2 and 5 gateways and of all of it once more
follow: the growth with gateways measured in one run on the same machines (the fresh fleets'
ratio also moves with the machine's load between them). A converge that fails is recorded with
what plain ssh says about the hosts it missed, and the script exits 1.

--linear adds a third converge per size with Ansible's own linear strategy (nothing to change,
as the second), for Mitogen's share. Target: second converge of 10 gateways <= 2 x that of 2.
Needs root (namespaces, systemd-nspawn); the fleet is gone when the script ends.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ansible"))

import awx_job
from fleet_lab import OPERATOR, fleet

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0  # second converge of the largest fleet / of the smallest


def diagnose(f, user: str, gateways: list[str]) -> dict[str, str]:
    """What plain ssh says for the gateways a converge could not reach (no shared master)."""
    out = {}
    for gw in gateways:
        proc = subprocess.run(
            [
                "ssh",
                "-F",
                str(f.ssh_config),
                "-o",
                "ControlPath=none",
                "-o",
                "ControlMaster=no",
                "-v",
                f"{user}@{f.addresses[gw]}",
                "sudo",
                "-n",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        out[gw] = f"exit {proc.returncode}: " + " | ".join(proc.stderr.splitlines()[-12:])
    return out


def summary(f, run: awx_job.Converge, limit: list[str], user: str) -> dict:
    bad = [
        gw
        for gw in limit
        if run.recap.get(gw, {}).get("failed", 1) or run.recap.get(gw, {}).get("unreachable", 1)
    ]
    row = {
        "seconds": round(run.seconds, 1),
        "gateways": len(limit),
        "changed": sum(r["changed"] for r in run.recap.values()),
        "ok": sum(r["ok"] for r in run.recap.values()),
    }
    if run.rc != 0 or bad:
        row["failed"] = {"rc": run.rc, "log": str(run.log), "ssh": diagnose(f, user, bad)}
        print(f"FAILED: {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


def measure(size: int, linear: bool, subsets: list[int]) -> dict:
    """A fresh fleet of `size`: first and second converge of all of it; then, in the same fleet,
    second converges of its first k gateways for each k in `subsets` and of all once more (the
    growth with gateways measured in one run, on the same machines)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-fleet-{size}-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        with fleet(work, size) as f:
            up = time.monotonic() - started
            env = f.envvars()
            synced = time.monotonic()
            inventory = awx_job.inventory_update(work, f.inventory_dir, env)
            sync_seconds = time.monotonic() - synced
            pdd = awx_job.job_dir(work, "job", inventory, extravars={})
            result: dict = {
                "gateways": size,
                "fleet_up_seconds": round(up, 1),
                "inventory_sync_seconds": round(sync_seconds, 1),
            }

            def converge(name: str, user: str, limit: list[str], **extra: str) -> dict:
                f.close_masters()  # every converge connects afresh, as an AWX job
                run = awx_job.job(
                    pdd, "site.yml", user=user, limit=limit, label=name, envvars={**env, **extra}
                )
                return summary(f, run, limit, user)

            result["first"] = converge("first", "root", f.gateways)
            result["second"] = converge("second", OPERATOR, f.gateways)
            if linear:
                result["second_linear"] = converge(
                    "second-linear", OPERATOR, f.gateways, ANSIBLE_STRATEGY="linear"
                )
            if subsets:
                result["same_fleet_second"] = {
                    str(k): converge(f"second-of-{k}", OPERATOR, f.gateways[:k]) for k in subsets
                }
                result["same_fleet_second"][str(size)] = converge(
                    "second-again", OPERATOR, f.gateways
                )
            return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2, 5, 10])
    ap.add_argument("--linear", action="store_true", help="also a converge with Ansible's linear")
    ap.add_argument("--output", type=Path, default=ROOT / "build" / "bench-fleet.json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/fleet.py needs root (namespaces, systemd-nspawn)", file=sys.stderr)
        return 2
    rows = []
    sizes = sorted(args.sizes)
    for size in sizes:
        subsets = [k for k in sizes if k < size] if size == sizes[-1] else []
        row = measure(size, args.linear, subsets)
        rows.append(row)
        print(json.dumps(row), flush=True)
    small, large = rows[0], rows[-1]
    across = large["second"]["seconds"] / small["second"]["seconds"]
    report: dict = {
        "ansible_core": importlib.metadata.version("ansible-core"),
        "ansible_runner": importlib.metadata.version("ansible-runner"),
        "mitogen": importlib.metadata.version("mitogen"),
        "strategy": "mitogen_linear",
        "forks": 10,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg()[0],
        "sizes": rows,
        "target": f"second converge of {large['gateways']} <= {TARGET} x of {small['gateways']}",
        "second_ratio_fresh_fleets": round(across, 2),
    }
    same = large.get("same_fleet_second")
    if same:
        full = (large["second"]["seconds"] + same[str(large["gateways"])]["seconds"]) / 2
        report["second_ratio_same_fleet"] = round(full / same[str(small["gateways"])]["seconds"], 2)
    failures = [
        (row["gateways"], name)
        for row in rows
        for name, run in [(k, v) for k, v in row.items() if isinstance(v, dict) and "seconds" in v]
        + [(f"second-of-{k}", v) for k, v in row.get("same_fleet_second", {}).items()]
        if "failed" in run
    ]
    report["failures"] = failures
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    header = f"\n{'gateways':>8} {'first s':>8} {'second s':>9}"
    print(header + (" linear s" if args.linear else ""))
    for row in rows:
        line = f"{row['gateways']:>8} {row['first']['seconds']:>8} {row['second']['seconds']:>9}"
        if args.linear:
            line += f" {row['second_linear']['seconds']:>8}"
        print(line)
    if same:
        print(
            "same fleet, second converge of k gateways: "
            + ", ".join(f"{k}: {v['seconds']} s" for k, v in same.items())
        )
    for key in ("second_ratio_fresh_fleets", "second_ratio_same_fleet"):
        if key in report:
            verdict = "met" if report[key] <= TARGET else "NOT met"
            print(f"{key}: {report[key]} (target <= {TARGET}: {verdict})")
    print(f"failures: {failures or 'none'}; {args.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
