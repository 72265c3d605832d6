"""gate/site_stacks.py: the sites whose stack a change touches (the preview matrix)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plantctl.gate.site_stacks import affected

SITES = ["lakeside", "ridgeway"]
ROOT = Path(__file__).resolve().parents[3]


def test_a_change_inside_one_site_folder_touches_that_site_only():
    assert affected(["inventory/sites/ridgeway/machines.yaml"], SITES) == ["ridgeway"]


def test_a_global_file_the_stacks_read_touches_every_site():
    for path in ("inventory/protocols.yaml", "inventory/access/grants.yaml",
                 "stacks/plantstack/broker.py", "src/plantctl/plant/segmentation.py",
                 "policies/plan/plan.rego"):  # fmt: skip
        assert affected(["inventory/sites/ridgeway/site.yaml", path], SITES) == SITES, path


def test_what_no_stack_reads_touches_none():
    assert affected(["docs/scale.md", "tests/test_x.py", "policies/ownership/ownership.rego"],
                    SITES) == []  # fmt: skip


def test_a_site_not_in_the_inventory_is_not_previewed():
    assert affected(["inventory/sites/elsewhere/site.yaml"], SITES) == []


def test_the_command_lists_the_changed_sites_of_a_real_change(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["cp", "-r", str(ROOT / "inventory"), str(repo / "inventory")], check=True)

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x",
                        *args], check=True, capture_output=True)  # fmt: skip

    git("add", "-A")
    git("commit", "-qm", "base")
    machines = repo / "inventory" / "sites" / "ridgeway" / "machines.yaml"
    machines.write_text(machines.read_text() + "\n")
    git("commit", "-qam", "one site")

    def sites(*extra: str):
        return subprocess.run(
            [sys.executable, "-m", "plantctl", "sites", "--inventory", str(repo / "inventory"),
             *extra],
            capture_output=True, text=True, cwd=repo, check=False,
        )  # fmt: skip

    done = sites("--changed", "HEAD~1", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["ridgeway"]
    assert sites().stdout.split() == SITES
    bad = sites("--changed", "no-such-rev")
    assert bad.returncode == 2 and "unknown revision 'no-such-rev'" in bad.stderr
    assert "Traceback" not in bad.stderr
