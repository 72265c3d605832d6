"""The parse cache (src/plantctl/model/parse_cache.py) never changes a result: cached and
uncached loads are the same inventory, with the same positions and the same policy input; a
corrupt, truncated or foreign entry is ignored; concurrent runs share the cache safely."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plantctl.core.problems import InvalidInput
from plantctl.gate import facts
from plantctl.model import parse_cache
from plantctl.model.loader import load
from plantctl.model.parse_cache import ParseCache

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inventory"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def snapshot(inv) -> dict:
    """Everything a consumer reads: each record's data and where each of its keys is."""
    out = {}
    for kind, table in inv.records.items():
        for key, rec in table.items():
            places = {k: rec.locate(k) for k in rec.data} if isinstance(rec.data, dict) else {}
            out[f"{kind} {key}"] = (rec.data, rec.locate(), places, rec.site)
    return out


def entries(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("??/*") if p.is_file())


@pytest.fixture
def plant(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "inventory")
    return tmp_path / "inventory"


def test_cached_and_uncached_loads_are_the_same_inventory_and_policy_input(plant, tmp_path):
    cache_dir = tmp_path / "cache"
    plain = load(plant, cache=False)
    cold = ParseCache.open(plant / "schema", cache_dir)
    first = load(plant, cache=cold)
    warm = ParseCache.open(plant / "schema", cache_dir)
    second = load(plant, cache=warm)
    files = len(plain.documents)
    assert (cold.hits, cold.misses) == (0, files)
    assert (warm.hits, warm.misses) == (files, 0)
    assert snapshot(plain) == snapshot(first) == snapshot(second)
    assert facts.build(plain, NOW) == facts.build(second, NOW)
    assert [d.text for d in plain.documents.values()] == [d.text for d in second.documents.values()]


def test_the_decision_is_the_same_with_and_without_the_cache(tmp_path):
    """The gate end to end, through real OPA: one run fills the cache, one reads it."""
    env = {**os.environ, "PLANTCTL_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "plantctl", "check", "--now", "2026-12-01T12:00:00Z"]
    runs = []
    for extra in ({"PLANTCTL_CACHE": "off"}, {}, {}):
        done = subprocess.run(
            [*args, "--format", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=300,
        )
        runs.append((done.returncode, json.loads(done.stdout)))
    assert runs[0] == runs[1] == runs[2]
    assert len(entries(tmp_path / "cache")) > 10


@pytest.mark.parametrize("damage", ["flipped", "truncated", "foreign", "swapped", "empty"])
def test_a_damaged_entry_is_ignored_and_replaced(plant, tmp_path, damage):
    cache_dir = tmp_path / "cache"
    expected = snapshot(load(plant, cache=ParseCache.open(plant / "schema", cache_dir)))
    paths = entries(cache_dir)
    victim = paths[0]
    body = victim.read_bytes()
    if damage == "flipped":
        victim.write_bytes(body[:-10] + bytes([body[-10] ^ 0xFF]) + body[-9:])
    elif damage == "truncated":
        victim.write_bytes(body[: len(body) // 2])
    elif damage == "foreign":  # well formed, signed with someone else's key
        import hashlib
        import hmac

        other = hmac.new(b"x" * 32, body[32:], hashlib.sha256).digest()
        victim.write_bytes(other + body[32:])
    elif damage == "swapped":  # a valid entry of another file under this one's name
        victim.write_bytes(paths[1].read_bytes())
    else:
        victim.write_bytes(b"")
    cache = ParseCache.open(plant / "schema", cache_dir)
    assert snapshot(load(plant, cache=cache)) == expected
    assert cache.misses == 1
    again = ParseCache.open(plant / "schema", cache_dir)
    load(plant, cache=again)
    assert again.misses == 0


def test_a_file_with_problems_is_never_cached(plant, tmp_path):
    cache_dir = tmp_path / "cache"
    zones = plant / "sites" / "ridgeway" / "zones.yaml"
    zones.write_text(zones.read_text().replace("purdue_level: 2", "purdue_level: two", 1))
    found = []
    for _ in range(2):
        with pytest.raises(InvalidInput) as exc:
            load(plant, cache=ParseCache.open(plant / "schema", cache_dir))
        found.append([str(p) for p in exc.value.problems])
    assert found[0] == found[1] and found[0]
    blob = parse_cache.blob_id(zones.read_bytes())
    assert ParseCache.open(plant / "schema", cache_dir).get(blob, "zones") is None


def test_a_schema_change_is_a_new_key(plant, tmp_path):
    cache_dir = tmp_path / "cache"
    load(plant, cache=ParseCache.open(plant / "schema", cache_dir))
    schema = plant / "schema" / "zones.schema.json"
    schema.write_text(
        schema.read_text().replace('"description"', '"$comment": "x", "description"', 1)
    )
    cache = ParseCache.open(plant / "schema", cache_dir)
    inv = load(plant, cache=cache)
    assert (cache.hits, cache.misses) == (0, len(inv.documents))


def test_the_blob_id_is_gits(tmp_path):
    data = b"zones:\n  - id: cell-a\n"
    (tmp_path / "f").write_bytes(data)
    done = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    )
    assert parse_cache.blob_id(data) == done.stdout.strip()


CONCURRENT = """
import sys
from pathlib import Path
from plantctl.model.loader import load
from plantctl.model.parse_cache import ParseCache
plant, cache_dir = Path(sys.argv[1]), Path(sys.argv[2])
inv = load(plant, cache=ParseCache.open(plant / "schema", cache_dir))
print(len(inv.documents))
"""


def test_concurrent_runs_share_one_cache_safely(plant, tmp_path):
    cache_dir = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(plant), str(cache_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    assert len({o for o, _ in outs}) == 1
    assert (cache_dir / "key").stat().st_mode & 0o777 == 0o600
    cache = ParseCache.open(plant / "schema", cache_dir)
    load(plant, cache=cache)
    assert cache.misses == 0  # every entry the four wrote is whole and signed with one key
    assert not [p for p in cache_dir.rglob(".*") if p.name != "key"]  # no temporary left


def test_off_means_no_cache_at_all(plant, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANTCTL_CACHE", "off")
    monkeypatch.setenv("PLANTCTL_CACHE_DIR", str(tmp_path / "cache"))
    assert ParseCache.open(plant / "schema") is None
    load(plant)
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_cache_only_costs_time(plant, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert ParseCache.open(plant / "schema", blocked / "cache") is None
    assert snapshot(load(plant, cache=None)) == snapshot(load(plant, cache=False))
