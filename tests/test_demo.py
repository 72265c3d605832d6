"""`plantctl demo` (make demo): every section of the story is headed, says what it proves and
ends in its proof. Without root the steps that need no lab run for real (the gate through OPA,
the pull request in a throw-away repository, the reports) and the lab's steps say they need
root; as root (CI) the whole story runs on a lab of its own, which it leaves behind it down."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from plantctl.demo import story
from plantctl.lab.netns import list_names

ROOT = Path(__file__).resolve().parents[1]
HEADER = re.compile(r"^== (\d+)/(\d+) (.+) ==$", re.M)


def _sections(text: str) -> dict[str, str]:
    """Title -> the section's text (up to the next header)."""
    heads = list(HEADER.finditer(text))
    return {
        m[3]: text[m.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        for i, m in enumerate(heads)
    }


def _tell(options: story.Options) -> tuple[int, str]:
    lines: list[str] = []
    code = story.tell(options, lines.append)
    return code, "\n".join(lines)


def _inventory_status() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "inventory"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def _assert_headed(text: str) -> dict[str, str]:
    found = HEADER.findall(text)
    assert [(int(n), int(t), title) for n, t, title in found] == [
        (i, len(story.STEPS), s.title) for i, s in enumerate(story.STEPS, 1)
    ]
    sections = _sections(text)
    for step in story.STEPS:
        assert f"proves: {step.proves}" in sections[step.title], step.title
    return sections


def test_a_run_without_root_tells_what_it_can_and_says_what_needs_root(tmp_path, monkeypatch):
    before = _inventory_status()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, text = _tell(story.Options("ridgeway", tmp_path / "demo"))
    assert code == 0, text
    sections = _assert_headed(text)
    for step in story.STEPS:
        body = sections[step.title]
        if step.lab:
            assert f"skipped: {story.NEEDS_ROOT}" in body, step.title
        else:
            assert re.search(r"^ok: .+ \(\d+\.\d s\)$", body, re.M), body
    assert "plantctl validate: exit 0" in sections["The inventory is valid"]
    assert re.search(r"ok: \d+ zones and \d+ conduits of ridgeway drawn: ", text)
    assert (tmp_path / "demo" / "zones-ridgeway.svg").read_text().lstrip().startswith("<")
    pr = sections["A maintenance pull request judged"]
    # the gate's own words: the missing approvals, then the approvals that count
    assert "needs approval @harrow-mfg/it-network" in pr
    assert "needs approval @harrow-mfg/maint-ridgeway" in pr
    assert re.search(r"FAIL \w+:inventory: 2 missing approval\(s\)", pr)
    assert "approved @harrow-mfg/maint-ridgeway by" in pr
    assert re.search(r"PASS \w+:inventory: no policy violations", pr)
    assert "ok: FAIL without approvals (it-network, maint-ridgeway missing), PASS once" in pr
    for path in ("audit/evidence.html", "audit/evidence.json", "review/review.html"):
        assert (tmp_path / "demo" / path).is_file(), path
        assert str(tmp_path / "demo" / path.split("/")[0]) in text
    assert "the lab's steps skipped: needs root" in text
    assert f"skipped: {story.NEEDS_ROOT}" in sections["Plant health and goals"]
    # the demo's repository is its own: this work tree's inventory is untouched
    assert _inventory_status() == before
    assert "gw-rw-04" not in (ROOT / "inventory/sites/ridgeway/gateways.yaml").read_text()


def test_an_unknown_site_is_bad_input():
    done = subprocess.run(
        [sys.executable, "-m", "plantctl", "demo", "--site", "nowhere", "--no-lab"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no site 'nowhere'; sites: " in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"), reason="the lab needs root; CI has it"
)
def test_the_whole_story_on_a_lab_of_its_own(tmp_path):
    """As make demo runs it (about 3-4 min here), on its own prefix and folder."""
    prefix = "demot" + secrets.token_hex(3)
    options = story.Options("ridgeway", tmp_path / "out", work=tmp_path / "lab", prefix=prefix)
    try:
        code, text = _tell(options)
        print(text)
        assert code == 0, text[-3000:]
        sections = _assert_headed(text)
        for step in story.STEPS:
            assert re.search(r"^ok: ", sections[step.title], re.M), step.title
        verified = sections["The lab does what the inventory says"]
        assert "No mismatch: the lab does what the inventory says." in verified
        converge = sections["Gateways converged through the bastion"]
        second = converge.split("converge 2 as ")[1]
        recaps = re.findall(r"(gw-[\w-]+): ok=\d+ changed=(\d+) unreachable=0 failed=0", second)
        assert recaps and all(changed == "0" for _, changed in recaps), converge
        reads = sections["Collectors read the PLC simulators"]
        assert re.search(r"\d+ PLC simulators read by the collectors, \d+ requests, not one write",
                         reads)  # fmt: skip
        assert ", 0 writes" in reads and not re.search(r", [1-9]\d* writes", reads)
        roles = sections["Live values at the broker, by data-class role"]
        assert re.search(r"received no [\w-]+", roles)
        plant = sections["Plant health and goals"]
        assert re.search(
            r"^ok: ([1-9]\d*)/\1 gateways online, [1-9]\d*/\d+ signals judged, goals: "
            r"rw-[\w-]+ (\S+ \w+ over \d+ s|no data)", plant, re.M,
        ), plant  # fmt: skip
        assert "Device health of ridgeway" in (tmp_path / "out/plant-review/review.md").read_text()
        assert (tmp_path / "out/plant-snapshot-ridgeway.json").is_file()
        window = sections["A vendor grant inside and after its window"]
        assert re.search(r"inside: .+:\d+ reached", window)
        assert "after the end: login refused" in window
        assert "ok: no namespace, machine or mount of " + prefix in text
    finally:
        if list_names(prefix):
            story.lab_down_quietly(story.DemoStack.of("ridgeway", tmp_path / "lab", prefix))
    assert not list_names(prefix)
