"""Benchmark of `plantctl check` on synthetic inventories, as ratios against baselines measured
in the same run: parsing the inventory alone, one OPA evaluation, and `conftest test` with the
same policies on the same data. Prints a table and writes bench/results.json.

    .venv/bin/python bench/run.py --sizes 1000 5000 10000 50000

Targets (issue 3): at 50k, check <= 1.2 x (parse + one evaluation) and <= conftest;
check(50k) / check(5k) <= 11; plantctl + OPA server peak memory <= 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from plantctl.gate import facts
from plantctl.gate.engine import OpaServer, opa_binary
from plantctl.model.loader import load

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
NOW = "2026-11-22T12:00:00Z"


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _run_sampled(cmd: list[str], **popen) -> tuple[int, int]:
    """Run cmd; return its exit code and the peak of (its RSS + its children's), sampled."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    peak = 0
    while proc.poll() is None:
        pids = [proc.pid, *_children(proc.pid)]
        peak = max(peak, sum(_rss_kib(p) for p in pids))
        time.sleep(0.05)
    return proc.returncode, peak


def measure(devices: int, work: Path) -> dict:
    inv_dir = generate(devices, work / f"inv-{devices}")
    parse_s, inv = _timed(lambda: load(inv_dir))
    document = facts.build(inv)
    with OpaServer(POLICIES) as endpoint:
        endpoint.decide(document)  # warm: compile and first-touch caches
        eval_s, _ = _timed(lambda: endpoint.decide(document))

    # The whole check as a user runs it, in its own process; memory is sampled as the sum of
    # plantctl and its OPA server.
    check_s, (code, peak_kib) = _timed(
        lambda: _run_sampled(
            [
                str(ROOT / ".venv" / "bin" / "plantctl"),
                "check",
                "--inventory",
                str(inv_dir),
                "--policies",
                str(POLICIES),
                "--now",
                NOW,
                "--format",
                "json",
            ]
        )
    )

    facts_file = work / f"facts-{devices}.json"
    facts_file.write_text(json.dumps(document))
    conftest = str(Path(opa_binary()).with_name("conftest"))
    conftest_s, done = _timed(
        lambda: subprocess.run(
            [
                conftest,
                "test",
                str(facts_file),
                "--policy",
                str(POLICIES),
                "--all-namespaces",
                "--no-color",
                "--output",
                "json",
            ],
            capture_output=True,
            check=False,
        )
    )
    return {
        "devices": devices,
        "machines": len(inv.of("machine")),
        "gateways": len(inv.of("gateway")),
        "collectors": len(inv.of("collector")),
        "parse_s": round(parse_s, 3),
        "eval_s": round(eval_s, 3),
        "check_s": round(check_s, 3),
        "conftest_s": round(conftest_s, 3),
        "conftest_exit": done.returncode,
        "check_exit": code,
        "check_over_parse_plus_eval": round(check_s / (parse_s + eval_s), 3),
        "check_over_conftest": round(check_s / conftest_s, 3),
        "peak_mib_plantctl_and_opa": round(peak_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 50000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="plantctl-bench-") as tmp:
        for size in args.sizes:
            row = measure(size, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    by_size = {r["devices"]: r for r in rows}
    summary = {"rows": rows}
    if 5000 in by_size and 50000 in by_size:
        summary["scaling_50k_over_5k"] = round(
            by_size[50000]["check_s"] / by_size[5000]["check_s"], 2
        )
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{'devices':>8} {'parse':>7} {'eval':>7} {'check':>7} {'conftest':>8} "
        f"{'chk/(p+e)':>9} {'chk/conf':>8} {'MiB':>7}"
    )
    for r in rows:
        print(
            f"{r['devices']:>8} {r['parse_s']:>7} {r['eval_s']:>7} {r['check_s']:>7} "
            f"{r['conftest_s']:>8} {r['check_over_parse_plus_eval']:>9} "
            f"{r['check_over_conftest']:>8} {r['peak_mib_plantctl_and_opa']:>7}"
        )
    if "scaling_50k_over_5k" in summary:
        print(f"scaling check(50k)/check(5k): {summary['scaling_50k_over_5k']}")


if __name__ == "__main__":
    main()
