"""Benchmark of `plantctl drift`: an inventory of 50 sites of 1,000 devices (bench/generate.py)
against a 50k-asset export of it (tests/fixtures/drift/make.py, minified as the vendors' APIs
answer), with 1% drift: 250 devices gone, 250 undocumented, 250 at another address, and a links
export of every allowed flow plus 500 that no conduit allows. Figures per export format:

- drift_s, drift_cpu_s: plantctl.reports.drift.run (stream, compare, render) on the loaded
  inventory, wall clock and CPU time (the CPU time does not depend on what else the machine runs);
- drift_peak_mib: the most Python memory the drift allocated on top of the loaded inventory
  (tracemalloc, a second run);
- cli_s, cli_cpu_s, cli_peak_rss_mib: `plantctl drift` end to end in a fresh process (the
  loader's time and the inventory's memory included), its peak resident set;
- cli_cold_s, cli_cold_cpu_s, cli_cold_peak_rss_mib: the same with PLANTCTL_CACHE=off (every
  inventory file parsed: a first run), CPU time with the loader's parse workers, and the peak
  resident set of the process and (cli_cold_worker_peak_rss_mib) of its largest worker;
- load_s, load_cpu_s: the loader alone (plantctl.model.loader.load), for comparison.

    .venv/bin/python bench/drift.py [--sites 50] [--formats nozomi,claroty,defender,csv]

Target (issue 17): under 10 s and 512 MiB. Prints the figures, writes build/bench-drift.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import PER_SITE, generate

from plantctl.model.loader import load
from plantctl.reports import drift

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
_spec = importlib.util.spec_from_file_location("drift_make", ROOT / "tests/fixtures/drift/make.py")
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)
FILES = {"nozomi": "assets.json", "claroty": "claroty.json", "defender": "defender.json",
         "csv": "assets.csv"}  # fmt: skip


# `plantctl drift` in a fresh process: its exit code and its own peak resident set (KiB).
_CHILD = """
import json, resource, sys
from plantctl.cli import main
code = main(json.loads(sys.argv[1]))
use = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the loader's parse workers, if any
print(json.dumps([code, use.ru_maxrss, use.ru_utime + use.ru_stime, kids.ru_maxrss,
                  kids.ru_utime + kids.ru_stime]))
"""


def _exports(inv, work: Path, formats: list[str]) -> tuple[dict[str, Path], Path, int]:
    assets = make.assets_of(inv)
    drifted = []
    for i, a in enumerate(assets):
        if i % 200 == 0:
            continue  # gone
        if i % 200 == 100:
            a = {**a, "ip": a["ip"].rsplit(".", 1)[0] + ".250"}  # moved, found by name
        drifted.append(a)
        if i % 200 == 50:
            base = a["ip"].rsplit(".", 1)[0]
            drifted.append(
                {**a, "ip": f"{base}.251", "name": f"stray-{i}", "mac": "02:00:00:00:00:01"}
            )
    paths = {fmt: make.write(fmt, drifted, work / FILES[fmt], indent=None) for fmt in formats}
    links = make.links_of(inv)
    for i, a in enumerate(assets[:500]):
        links.append({"from": a["ip"], "to": assets[-1 - i]["ip"], "protocol": "s7"})
    links_path = make.write_links(links, work / "links.json", indent=None)
    return paths, links_path, len(drifted)


def measure(sites: int, formats: list[str], work: Path) -> dict:
    inv_dir = generate(sites * PER_SITE, work / "inv")
    start, cpu = time.perf_counter(), time.process_time()
    inv = load(inv_dir)
    load_s = time.perf_counter() - start
    load_cpu_s = time.process_time() - cpu
    paths, links_path, count = _exports(inv, work, formats)
    figures: dict = {
        "sites": sites,
        "devices": sum(len(inv.of(k)) for k in ("machine", "gateway", "device")),
        "assets": count,
        "load_s": round(load_s, 2),
        "load_cpu_s": round(load_cpu_s, 2),
        "per_format": {},
    }
    for fmt, path in paths.items():
        start, cpu = time.perf_counter(), time.process_time()
        result = drift.run(inv, path, fmt, now=NOW, links_path=links_path)
        drift.render(result, "json")
        drift_s = time.perf_counter() - start
        drift_cpu_s = time.process_time() - cpu
        tracemalloc.start()
        drift.render(drift.run(inv, path, fmt, now=NOW, links_path=links_path), "json")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        argv = ["drift", "--inventory", str(inv_dir), "--from", str(path), "--links",
                str(links_path), "--now", "2026-12-01T12:00:00Z", "--format-out", "json",
                "--output", str(work / f"{fmt}.out.json")]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(argv)],
            capture_output=True,
            text=True,
            check=False,
        )
        cli_s = time.perf_counter() - start
        code, rss, cli_cpu_s, _, _ = json.loads(done.stdout.strip().splitlines()[-1])
        # The same without the parse cache: a first run on this inventory, every file parsed.
        start = time.perf_counter()
        cold = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(argv)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PLANTCTL_CACHE": "off"},
        )
        cli_cold_s = time.perf_counter() - start
        _, cold_rss, cold_cpu, worker_rss, worker_cpu = json.loads(
            cold.stdout.strip().splitlines()[-1]
        )
        counts = result.counts()
        figures["per_format"][fmt] = {
            "export_mb": round(path.stat().st_size / 1e6, 1),
            "drift_s": round(drift_s, 2),
            "drift_cpu_s": round(drift_cpu_s, 2),
            "drift_peak_mib": round(peak / 2**20, 1),
            "cli_s": round(cli_s, 2),
            "cli_cold_s": round(cli_cold_s, 2),
            "cli_cold_cpu_s": round(cold_cpu + worker_cpu, 2),
            "cli_cold_peak_rss_mib": round(cold_rss / 1024, 1),
            "cli_cold_worker_peak_rss_mib": round(worker_rss / 1024, 1),
            "cli_cpu_s": round(cli_cpu_s, 2),
            "cli_exit": code,
            "cli_peak_rss_mib": round(rss / 1024, 1),
            "found": counts,
        }
    figures["target"] = {"seconds": 10, "mib": 512}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--formats", default="nozomi,claroty,defender,csv")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench-drift.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plantctl-bench-drift-") as tmp:
        figures = measure(args.sites, args.formats.split(","), Path(tmp))
    print(json.dumps(figures, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
