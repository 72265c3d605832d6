"""The evidence pack's page as a person sees it: Debian's Chromium, headless, renders
evidence.html (no network, a fresh profile); the screenshot shows the control matrix (its
header and the green "holds" cells of the Today column in the first screen) and the DOM that
Chromium built holds one matrix row per rule and requirement."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"
HOLDS = (0xDA, 0xFB, 0xE1)  # .holds background of a Today cell
HEADER = (0xF1, 0xF4, 0xF8)  # th background


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is not installed: run `make setup` (tools/apt-packages.txt)"
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("audit-page")
    done = subprocess.run(
        [str(ROOT / ".venv/bin/plantctl"), "audit", "--now", NOW, "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out / "evidence.html", json.loads((out / "evidence.json").read_text())


def test_the_screenshot_shows_the_control_matrix(page, tmp_path):
    from PIL import Image

    html, _ = page
    shot = tmp_path / "evidence.png"
    done = _chromium(
        tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1000", html.as_uri()
    )
    assert shot.exists(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 1000)
    colours = image.getcolors(maxcolors=1_000_000)
    assert len(colours) > 50  # not blank: text, borders, cell backgrounds
    counts = {rgb: n for n, rgb in colours}
    assert counts.get(HEADER, 0) > 2000  # the matrix's header row
    assert counts.get(HOLDS, 0) > 5000  # Today cells of rules that hold, visible without scrolling
    # the green cells sit in the right-hand Today column, below the title (which rows are green
    # in the first screen depends on the rules' order and the lab results)
    green = [
        x for y in range(200, 1000, 10) for x in range(1400) if image.getpixel((x, y)) == HOLDS
    ]
    assert green and min(green) > 1000


def test_the_dom_holds_the_matrix_rows(page, tmp_path):
    html, doc = page
    done = _chromium(tmp_path / "profile", "--dump-dom", html.as_uri())
    dom = done.stdout
    assert "<title>plantctl evidence pack" in dom
    assert '<table id="control-matrix">' in dom
    row = r'<tr class="control-row[^"]*" data-requirement="([^"]+)" data-rule="([^"]+)"'
    rows = re.findall(row, dom)
    expected = [(c["requirement"], rid) for c in doc["controls"] for rid in c["rules"]]
    assert rows == expected and len(rows) >= len(doc["rules"])
    assert {rid for _, rid in rows} == {r["id"] for r in doc["rules"]}
