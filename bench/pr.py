"""Benchmark of the gate on pull requests at plant-group scale (issue 15), as ratios against the
whole-inventory check measured in the same run: a one-device pull request cold (empty parse
and decision caches) and warm (the same pull request again), another one-device pull request
(its site the only one not in the decision cache), a one-site pull request and a global change
(warm), at each size, with the peak memory of plantctl and OPA together. Prints a table and
writes build/bench-pr.json.

    .venv/bin/python bench/pr.py --sizes 5000 50000

Each pull request is a real git repository (the generated inventory, the policies, CODEOWNERS)
judged by `plantctl check --base --head` as the gate runs it; the parse cache is a folder of the
run (PLANTCTL_CACHE_DIR), never the machine's.

Targets (issue 15): one-device pull request at 50k warm <= 1.0 s and <= 0.1 x the whole check,
cold <= the whole check; check(50k)/check(5k) <= 11; peak memory <= 512 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate
from run import _run_sampled

ROOT = Path(__file__).resolve().parents[1]
PLANTCTL = str(Path(sys.executable).with_name("plantctl"))
NOW = "2026-11-22T12:00:00Z"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def edit(path: Path, pattern: str, replacement: str, count: int = 1) -> None:
    text = path.read_text()
    new, n = re.subn(pattern, replacement, text, count=count)
    if n == 0:
        raise SystemExit(f"bench/pr.py: {pattern!r} not found in {path}")
    path.write_text(new)


def make_repo(devices: int, work: Path) -> tuple[Path, dict[str, str]]:
    repo = work / f"repo-{devices}"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    generate(devices, repo / "inventory")
    shutil.copytree(ROOT / "policies", repo / "policies")
    subprocess.run(
        [PLANTCTL, "codeowners", "--inventory", "inventory"],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    revs = {"base": commit(repo, "base")}
    sites = sorted(p.name for p in (repo / "inventory" / "sites").iterdir())
    # one device: one gateway's model in the first site
    edit(
        repo / "inventory/sites" / sites[0] / "gateways.yaml",
        r"address: ([^}]+)}",
        r"address: \1, model: edge-2}",
    )
    revs["one-device"] = commit(repo, "one gateway's model")
    git(repo, "checkout", "-q", revs["base"])
    # another one-device pull request, in the last site: judged after the first one filled the
    # decision cache, its own site is the only one not cached (the everyday warm case)
    edit(
        repo / "inventory/sites" / sites[-1] / "gateways.yaml",
        r"address: ([^}]+)}",
        r"address: \1, model: edge-3}",
    )
    revs["one-device-new"] = commit(repo, "another site's gateway's model")
    git(repo, "checkout", "-q", revs["base"])
    # one site: every gateway of the middle site
    edit(
        repo / "inventory/sites" / sites[len(sites) // 2] / "gateways.yaml",
        r"address: ([^}]+)}",
        r"address: \1, model: edge-2}",
        count=0,
    )
    revs["one-site"] = commit(repo, "a site's gateways' model")
    git(repo, "checkout", "-q", revs["base"])
    # global: a glossary term's definition
    edit(repo / "inventory/glossary.yaml", r"definition: ([^\n]+)", r"definition: \1 (b)")
    revs["global"] = commit(repo, "a glossary definition changed")
    git(repo, "checkout", "-q", revs["one-device"])
    return repo, revs


def timed_check(repo: Path, cache: Path, *args: str) -> tuple[float, int, int]:
    path = f"{ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}"  # OPA, as make sets it
    env = {**os.environ, "PATH": path, "PLANTCTL_CACHE_DIR": str(cache)}
    out = cache.parent / "check.json"  # never /dev/null: an --output is written whole
    cmd = [PLANTCTL, "check", "--now", NOW, "--format", "json", "--output", str(out), *args]
    start = time.perf_counter()
    code, peak_kib = _run_sampled(cmd, cwd=repo, env=env)
    elapsed = time.perf_counter() - start
    if code not in (0, 1):
        raise SystemExit(f"bench/pr.py: {' '.join(cmd)} exited {code}")
    return elapsed, code, peak_kib


def measure(devices: int, work: Path) -> dict:
    repo, revs = make_repo(devices, work)
    cache = work / f"cache-{devices}"
    pr = ("--base", revs["base"], "--head")
    out: dict = {"devices": devices}
    peaks = []
    # the whole-inventory check, as `plantctl check` runs it on main (cold, then warm)
    for label in ("whole_cold", "whole_warm"):
        s, _, peak = timed_check(repo, cache, "--inventory", "inventory")
        out[f"{label}_s"] = round(s, 2)
        peaks.append(peak)
    shutil.rmtree(cache)
    s, _, peak = timed_check(repo, cache, *pr, revs["one-device"])
    out["pr_one_device_cold_s"] = round(s, 2)
    peaks.append(peak)
    # warm: the same pull request again, another one-device one, a one-site one, a global one
    for label in ("one-device", "one-device-new", "one-site", "global"):
        s, _, peak = timed_check(repo, cache, *pr, revs[label])
        out[f"pr_{label.replace('-', '_')}_warm_s"] = round(s, 2)
        peaks.append(peak)
    whole = out["whole_warm_s"]
    out["pr_warm_over_whole"] = round(out["pr_one_device_warm_s"] / whole, 2)
    out["pr_new_over_whole"] = round(out["pr_one_device_new_warm_s"] / whole, 2)
    out["pr_site_over_whole"] = round(out["pr_one_site_warm_s"] / whole, 2)
    out["pr_global_over_whole"] = round(out["pr_global_warm_s"] / whole, 2)
    out["pr_cold_over_whole"] = round(out["pr_one_device_cold_s"] / out["whole_cold_s"], 2)
    out["peak_mib_plantctl_and_opa"] = round(max(peaks) / 1024, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench-pr.json")
    args = parser.parse_args()
    (ROOT / "build").mkdir(exist_ok=True)  # not /tmp: lab and test sweeps clean plantctl-* there
    with tempfile.TemporaryDirectory(prefix="bench-pr-", dir=ROOT / "build") as tmp:
        results = [measure(n, Path(tmp)) for n in args.sizes]
    columns = [
        ("devices", "devices"),
        ("whole_cold_s", "whole cold"),
        ("whole_warm_s", "whole warm"),
        ("pr_one_device_cold_s", "1-dev cold"),
        ("pr_one_device_warm_s", "1-dev warm"),
        ("pr_one_device_new_warm_s", "1-dev new"),
        ("pr_one_site_warm_s", "1-site"),
        ("pr_global_warm_s", "global"),
        ("pr_warm_over_whole", "warm/whole"),
        ("pr_new_over_whole", "new/whole"),
        ("pr_site_over_whole", "site/whole"),
        ("pr_global_over_whole", "glob/whole"),
        ("pr_cold_over_whole", "cold/whole"),
        ("peak_mib_plantctl_and_opa", "peak MiB"),
    ]
    print(" ".join(f"{title:>11}" for _, title in columns))
    for r in results:
        print(" ".join(f"{r[key]:>11}" for key, _ in columns))
    if len(results) > 1:
        first, last = results[0], results[-1]
        ratio = round(last["whole_warm_s"] / first["whole_warm_s"], 2)
        print(f"check({last['devices']})/check({first['devices']}) = {ratio}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
