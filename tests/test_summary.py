"""`plantctl summary` in a log: every zone subnet, address and id in full, at any width.

The summary runs as it does in CI, its output piped (`plantctl summary | cat`: no terminal), once
with COLUMNS=40 and once without COLUMNS; both must show each zone's subnet, each site's
supernet and each documented device's id and address of the sample plant whole, and never an
ellipsis.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plantctl.model import addressing
from plantctl.model.loader import load
from plantctl.reports import summary

ROOT = Path(__file__).resolve().parents[1]


def _plantctl() -> list[str]:
    found = shutil.which("plantctl", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "plantctl"]


def _summary_piped(columns: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    command = " ".join(_plantctl()) + " summary | cat"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _whole(word: str, text: str) -> bool:
    """`word` appears with no id or address character glued to either side (so not cut)."""
    return re.search(rf"(?<![\w./:-]){re.escape(word)}(?![\w/-]|\.\w)", text) is not None


def _expected():
    inv = load(ROOT / "inventory")
    nets = [str(net) for net in addressing.zone_networks(inv).values()]
    supernets = [rec.data["supernet"] for rec in inv.of("site").values()]
    devices = addressing.devices(inv)
    return nets + supernets, [d.id for d in devices], [str(d.address) for d in devices]


@pytest.mark.parametrize("columns", ["40", None], ids=["COLUMNS=40", "no-COLUMNS"])
def test_summary_shows_every_subnet_address_and_id_in_full(columns):
    out = _summary_piped(columns)
    nets, ids, addresses = _expected()
    assert nets and ids and addresses
    assert "…" not in out and "..." not in out
    assert [n for n in nets if not _whole(n, out)] == []
    assert [i for i in ids if not _whole(i, out)] == []
    assert [a for a in addresses if not _whole(a, out)] == []
    limit = int(columns) if columns else summary.DEFAULT_WIDTH
    assert max(len(line) for line in out.splitlines()) <= limit


def test_wide_output_is_drawn_as_tables_and_narrow_output_as_records():
    wide = _summary_piped(None)
    assert re.search(r"┃ zone\s+┃ Purdue", wide)  # a table with its header row
    assert "│ 10.20.11.0/24 │" in wide
    narrow = _summary_piped("40")
    assert "┃" not in narrow
    assert re.search(r"^- cell-machining: Purdue: 1;", narrow, re.M)


def test_width_comes_from_columns_then_the_terminal_then_the_default():
    class Pipe:
        def isatty(self):
            return False

    assert summary.width({"COLUMNS": "40"}, Pipe()) == 40
    assert summary.width({}, Pipe()) == summary.DEFAULT_WIDTH
    assert summary.width({"COLUMNS": "junk"}, Pipe()) == summary.DEFAULT_WIDTH
