"""The gate as deployed: its trust root is the BASE revision.

A temporary origin holds this repository's committed files as `main`; a pull request edits
src/plantctl/ so that every check passes, rewrites the Makefile's gate target to say pass, plants
markers in tools/ and src/ that would show if any of it ran, and adds a gateway that needs
approvals nobody gave. The gate is then run the way .github/workflows/gate.yml runs it: a
checkout of the base, the head fetched as git objects only (`git fetch origin <head sha>`), the
base's `make gate`. It fails, and nothing of the head ran. The head's own tool and Makefile
would have passed it (checked too, so the bypass is real). The workflow files are checked for
the same properties: what runs where, with which permissions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NOW = "2026-11-22T12:00:00Z"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _clean_env(**extra: str) -> dict:
    """The environment of a CI step: no make state from the caller, no OPA_URL or bundle."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "OPA_URL", "PLANTCTL_BUNDLE")
        and not k.startswith("PYTEST")
    }
    env["PLANTCTL_TOOLS_CACHE"] = "off"  # the machine's tools cache is left alone
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r} must occur once"
    path.write_text(text.replace(old, new))


def _replace_target(makefile: Path, target: str, recipe: str) -> None:
    """Swap the rule of `target` (its line and the tab-indented recipe after it)."""
    lines = makefile.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("\t"):
        end += 1
    lines[start:end] = [f"{target}:\n", *(f"\t{r}\n" for r in recipe.splitlines())]
    makefile.write_text("".join(lines))


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory):
    """(origin, base sha, head sha, markers folder): the committed tree and a hostile head."""
    top = tmp_path_factory.mktemp("trust-root")
    origin = top / "origin"
    origin.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(origin)], input=archive, check=True)
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "config", "user.email", "t@example.invalid")
    _git(origin, "config", "user.name", "t")
    _git(origin, "config", "uploadpack.allowAnySHA1InWant", "true")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "base")
    base = _git(origin, "rev-parse", "HEAD")

    markers = top / "markers"
    markers.mkdir()
    _git(origin, "checkout", "-q", "-b", "pr")
    # The tool says pass whatever it finds.
    _replace(
        origin / "src/plantctl/gate/check.py",
        "return not self.findings and not self.missing",
        "return True",
    )
    # Importing the head's plantctl, or running its installers, leaves a marker.
    with (origin / "src/plantctl/__init__.py").open("a") as handle:
        handle.write(f"\nopen({str(markers / 'head-src-imported')!r}, 'w').close()\n")
    for script in ("install-go-tools.sh", "install-gitea.sh"):
        path = origin / "tools" / script
        text = path.read_text()
        path.write_text(text.replace("set -euo pipefail\n", f"touch {markers}/head-{script}\n", 1))
    # The head's gate target passes without judging anything.
    _replace_target(
        origin / "Makefile",
        "gate",
        '@mkdir -p "$(OUT)" && echo 0 > "$(OUT)/exit-code" && echo "gate: pass"',
    )
    # A change that needs approvals (maintenance and IT network for the gateway, IT security and
    # audit for src/ and the Makefile); nobody approves.
    with (origin / "inventory/sites/ridgeway/gateways.yaml").open("a") as handle:
        handle.write(
            "  - {id: gw-rw-04, zone: supervisory, address: 10.20.20.24, "
            "maintenance_window: wed-night}\n"
        )
    _git(origin, "commit", "-qam", "ridgeway: gw-rw-04 (and a gate that always passes)")
    head = _git(origin, "rev-parse", "HEAD")
    _git(origin, "checkout", "-q", "main")
    return origin, base, head, markers


def _runner_checkout(origin: Path, base: str, head: str, where: Path) -> Path:
    """What the decide job does: the base checked out, the head fetched as objects only."""
    runner = where / "runner"
    runner.mkdir()
    _git(runner, "init", "-q")
    _git(runner, "remote", "add", "origin", str(origin))
    _git(runner, "fetch", "-q", "--no-tags", "origin", "+refs/heads/main:refs/remotes/origin/main")
    _git(runner, "checkout", "-q", "--detach", base)
    _git(runner, "fetch", "-q", "--no-tags", "--no-recurse-submodules", "origin", head)
    _git(runner, "cat-file", "-e", f"{head}^{{commit}}")
    return runner


def _gate_tools(runner: Path) -> None:
    """The venv and OPA as the tools cache restores them: this machine's packages (by a .pth,
    so no editable plantctl of another checkout comes with them), the stamp make setup-gate
    writes, and the OPA binary. The tool itself is the checkout's src/ (make gate runs it)."""
    venv = runner / ".venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / version / "site-packages"
    (site / "machine-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    stamp = hashlib.sha256(
        (runner / "requirements.lock").read_bytes() + (runner / "pyproject.toml").read_bytes()
    ).hexdigest()
    (venv / ".gate-installed").write_text(f"{stamp} {runner}\n")
    (runner / ".tools" / "bin").mkdir(parents=True)
    (runner / ".tools" / "bin" / "opa").symlink_to(ROOT / ".tools" / "bin" / "opa")


def test_a_head_that_rewrites_the_judge_is_still_failed_by_the_base(pull_request, tmp_path):
    origin, base, head, markers = pull_request
    runner = _runner_checkout(origin, base, head, tmp_path)
    _gate_tools(runner)
    reviews = tmp_path / "reviews.json"
    reviews.write_text("[]")
    out = tmp_path / "gate"
    run = subprocess.run(
        ["make", "-C", str(runner), "--no-print-directory", "gate", f"BASE={base}",
         f"HEAD={head}", f"REVIEWS={reviews}", "AUTHOR=abello", f"OUT={out}"],
        capture_output=True, text=True, env=_clean_env(), check=False, timeout=240,
    )  # fmt: skip
    assert run.returncode != 0, run.stdout + run.stderr
    assert (out / "exit-code").read_text().strip() == "1", run.stdout + run.stderr
    record = json.loads((out / "decision.json").read_text())
    assert (record["base"], record["head"], record["decision"]) == (base, head, "fail")
    # The base's tool judged (its checkout's commit) with the base's policies.
    assert record["tool"]["revision"] == base
    assert record["policy"]["source"] == "base" and record["policy"]["revision"] == base
    missing = set(record["approvals"]["missing"])
    assert {"maint-ridgeway", "it-network", "it-security", "audit"} <= missing, missing
    objects = {o for a in record["approvals"]["required"] for o in a["objects"]}
    assert {"file src/plantctl/gate/check.py", "file Makefile", "gateway gw-rw-04"} <= objects
    # Every format from the one evaluation.
    for name in ("gate.txt", "gate.md", "gate.json", "gate.sarif"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "gate.json").read_text())["decision"] == "fail"
    assert (out / "gate.md").read_text().startswith("## plantctl gate: ❌ **FAIL**")
    # Nothing of the head ran, and the work tree is still the base.
    assert sorted(p.name for p in markers.iterdir()) == []
    assert _git(runner, "rev-parse", "HEAD") == base
    assert _git(runner, "status", "--porcelain", "--untracked-files=no") == ""


def test_the_head_judging_itself_would_pass(pull_request, tmp_path):
    """The control: what the old workflow did (the head's tool and Makefile) says pass."""
    origin, base, head, markers = pull_request
    checkout = tmp_path / "head"
    _git(origin, "worktree", "add", "-q", "--detach", str(checkout), head)
    try:
        out = tmp_path / "gate"
        run = subprocess.run(
            ["make", "-C", str(checkout), "--no-print-directory", "gate", f"BASE={base}",
             f"HEAD={head}", f"OUT={out}"],
            capture_output=True, text=True, env=_clean_env(), check=False, timeout=60,
        )  # fmt: skip
        assert run.returncode == 0 and "gate: pass" in run.stdout, run.stdout + run.stderr
        check = subprocess.run(
            [sys.executable, "-m", "plantctl", "check", "--base", base, "--head", head,
             "--now", NOW, "--author", "abello", "--format", "json"],
            cwd=checkout, capture_output=True, text=True, check=False, timeout=120,
            env=_clean_env(PYTHONPATH=str(checkout / "src")),
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        assert (markers / "head-src-imported").exists()
    finally:
        for marker in markers.iterdir():
            marker.unlink()
        _git(origin, "worktree", "remove", "--force", str(checkout))


# -- the workflow files -----------------------------------------------------------------------


def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_gate_workflow_runs_only_the_base():
    gate = _workflow("gate.yml")
    assert set(gate["on"]) == {"pull_request_target", "workflow_run"}
    assert gate["on"]["workflow_run"]["workflows"] == ["review"]
    assert gate["permissions"] == {}
    decide, publish = gate["jobs"]["decide"], gate["jobs"]["publish"]
    # decide: read-only token, one checkout (the base), the head fetched as objects only.
    assert set(decide["permissions"].values()) == {"read"}
    checkouts = [s for s in decide["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 1
    assert checkouts[0]["with"]["ref"] == "${{ steps.pr.outputs.base }}"
    pr_step = next(s for s in decide["steps"] if s.get("id") == "pr")
    assert pr_step["env"]["BASE"] == "${{ github.event.pull_request.base.sha }}"
    assert pr_step["env"]["HEAD"] == "${{ github.event.pull_request.head.sha }}"
    runs = "\n".join(_runs(decide))
    assert 'git fetch --no-tags --no-recurse-submodules origin "$HEAD"' in runs
    assert re.findall(r"\bmake [a-z-]+", runs) == ["make setup-gate", "make gate"]
    assert "sudo" not in runs and "plantctl" not in runs
    # publish: the write token, and nothing of the repository runs there.
    assert publish["permissions"]["contents"] == "write"
    text = "\n".join(_runs(publish))
    for forbidden in ("make ", "plantctl check", "plantctl record", ".venv", "python", "tools/"):
        assert forbidden not in text, forbidden
    for step in publish["steps"]:
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["sparse-checkout"] == "README.md"
    assert "notes --ref plantctl-gate append" in text
    assert "git push origin refs/notes/plantctl-gate" in text
    assert "context=plantctl/gate" in text
    # The tools come from a cache keyed on the pinned versions and the lock.
    caches = [s for s in decide["steps"] if s.get("uses", "").startswith("actions/cache@")]
    keys = " ".join(s["with"]["key"] for s in caches)
    for keyed in ("requirements.lock", "tools/install-go-tools.sh"):
        assert keyed in keys
    assert any("go-build" in s["with"]["path"] for s in caches)


def test_the_head_is_tested_without_write_access():
    test = _workflow("test.yml")
    assert set(test["on"]["pull_request"]["paths"]) == {
        "src/**",
        "policies/**",
        "tools/**",
        "Makefile",
    }
    assert test["permissions"] == {"contents": "read"}
    for job in test["jobs"].values():
        assert "permissions" not in job or set(job["permissions"].values()) <= {"read", "none"}
    assert any(".ci/run" in r for r in _runs(test["jobs"]["test"]))
    review = _workflow("review.yml")
    assert review["permissions"] == {}
    assert list(review["on"]) == ["pull_request_review"]


def test_actions_are_pinned_and_actionlint_passes():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(?:- )?uses:\s*(\S+)", line)
            if match:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match.group(1)), line
    actionlint = ROOT / ".tools" / "bin" / "actionlint"
    assert actionlint.exists(), "make setup installs actionlint (tools/install-go-tools.sh)"
    run = subprocess.run(
        [str(actionlint), "-no-color"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_make_gate_without_revisions_says_how():
    run = subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "-s", "gate", "BASE=", "HEAD="],
        capture_output=True, text=True, env=_clean_env(), check=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert "make gate: give BASE=<sha> HEAD=<sha>" in run.stderr
