"""`plantctl allocate`: the lowest free addresses of a zone, never a used, reserved or
out-of-zone one (a property test over random zones and occupancy)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from plantctl.model import addressing
from plantctl.model.loader import load
from plantctl.model.sources import DirectorySource, MemorySource

SAMPLE = Path(__file__).resolve().parents[1] / "inventory"
_BASE = {rel: DirectorySource(SAMPLE).read(rel) for rel in DirectorySource(SAMPLE).files()}


def _with_zone(prefix: int, offsets: list[int]) -> tuple[MemorySource, IPNetwork]:
    """The sample with lakeside/site-ops resized to /prefix and gateways at the offsets."""
    net = IPNetwork(f"10.30.30.0/{prefix}")
    files = dict(_BASE)
    zones = files["sites/lakeside/zones.yaml"].decode()
    files["sites/lakeside/zones.yaml"] = zones.replace("cidr: 10.30.30.0/24", f"cidr: {net}")
    lines = ["gateways:"] + [
        f"  - {{id: gw-lk-{i:03d}, zone: site-ops, address: {IPAddress(net.first + off)}}}"
        for i, off in enumerate(offsets)
    ]
    files["sites/lakeside/gateways.yaml"] = (
        ("\n".join(lines) + "\n") if offsets else "gateways: []\n"
    )
    return MemorySource(files), net


@st.composite
def zone_and_devices(draw):
    prefix = draw(st.integers(min_value=26, max_value=29))
    size = 2 ** (32 - prefix)
    usable = list(range(2, size - 1))  # not network (0), router (1) or broadcast (size-1)
    offsets = draw(st.lists(st.sampled_from(usable), unique=True, max_size=len(usable)))
    count = draw(st.integers(min_value=1, max_value=size))
    return prefix, offsets, count


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zone_and_devices())
def test_allocate_returns_only_free_addresses_of_the_zone(case):
    prefix, offsets, count = case
    source, net = _with_zone(prefix, offsets)
    inv = load(source, schema_root=SAMPLE / "schema")
    free = addressing.allocate(inv, "lakeside", "site-ops", count)
    used = addressing.used(inv)
    reserved = addressing.reserved(net)
    for addr in free:
        assert addr in net
        assert addr not in used
        assert addr not in reserved
    assert len(set(free)) == len(free)
    expected = net.size - 3 - len(offsets)
    assert len(free) == min(count, expected)
    assert free == sorted(free)
    # Lowest first: nothing free is skipped below the last address returned.
    if free:
        skipped = {IPAddress(v) for v in range(net.first, int(free[-1]) + 1)} - set(free)
        assert skipped <= used | reserved


def test_cli_allocate_prints_addresses(plantctl):
    run = plantctl(
        "allocate",
        "--inventory",
        str(SAMPLE),
        "--site",
        "ridgeway",
        "--zone",
        "supervisory",
        "--count",
        "3",
    )
    assert run.code == 0, run.err
    assert run.out.split() == ["10.20.20.2", "10.20.20.3", "10.20.20.4"]


def test_cli_allocate_unknown_zone_is_usage_error(plantctl):
    run = plantctl("allocate", "--inventory", str(SAMPLE), "--site", "ridgeway", "--zone", "cell-x")
    assert run.code == 2
    assert "no zone 'cell-x' at site 'ridgeway'; zones there: cell-machining" in run.err


def test_cli_allocate_zone_too_small(plantctl):
    run = plantctl(
        "allocate",
        "--inventory",
        str(SAMPLE),
        "--site",
        "ridgeway",
        "--zone",
        "dmz",
        "--count",
        "300",
    )
    assert run.code == 2
    assert "has only 251 free address(es), 300 asked" in run.err
