"""Issue 5 target: at least 1,000 samples per second per gateway, TLS and QoS 1, on this
machine (bench/collector_throughput.py measures the same with more options)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from collector_throughput import measure

pytestmark = pytest.mark.slow


def test_collector_keeps_up_with_2000_samples_per_second(tmp_path):
    result = measure(tmp_path, signals=500, interval=0.25, seconds=6, warmup=2)
    print(result)
    assert result["acknowledged_per_s"] >= 1000, result
    assert result["delivered_per_s"] >= 1000, result
    assert result["backlog_end"] < 2000, f"falling behind: {result}"
