"""One stack per site in one shared, self-managed Pulumi state backend: Debian's PostgreSQL
(issue 19 item 3; plantctl.lab.state_backend starts a throwaway server).

- both sample sites' plant stacks are previewed into the one backend, each its own stack;
- as root (CI): two concurrent `up` of the same lab stack: the second fails cleanly, naming the
  lock, while the first goes on; the state is intact after (its export parses, a preview of it
  plans no change), and the lab is destroyed through the same backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from test_stack_lab import PY, Lab, sweep_stale_test_labs

from plantctl.lab.state_backend import PostgresState

ROOT = Path(__file__).resolve().parents[1]
SITES = ("ridgeway", "lakeside")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def backend():
    with PostgresState() as url:
        yield url


def _pulumi_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PULUMI_BACKEND_URL": url,
        "PULUMI_CONFIG_PASSPHRASE": "state-test",
        "PYTHONPATH": str(ROOT / "stacks"),
    }


def test_every_site_has_its_stack_in_the_one_backend(backend, tmp_path):
    env = _pulumi_env(backend)
    for site in SITES:
        done = subprocess.run(
            [PY, "-m", "plantstack.run", "preview", "--stack", f"lab-{site}",
             "--work-dir", str(tmp_path / site), "--quiet"],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["stack"] == f"lab-{site}"
    listed = subprocess.run(
        [str(ROOT / ".tools" / "bin" / "pulumi"), "stack", "ls", "--all", "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=True, cwd=tmp_path / SITES[0],
    )  # fmt: skip
    names = {s["name"].split("/")[-1] for s in json.loads(listed.stdout)}
    assert {f"lab-{s}" for s in SITES} <= names


@pytest.mark.lab
@pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"), reason="the lab needs root; CI has it"
)
def test_two_concurrent_ups_of_one_stack_one_fails_cleanly_state_intact(tmp_path):
    from plantctl.providers.lab import RUN_ROOT, teardown

    sweep_stale_test_labs()
    state = PostgresState()
    with state as url:
        lab = Lab(tmp_path)
        lab.env = {**lab.env, "PULUMI_BACKEND_URL": url}
        RUN_ROOT.mkdir(parents=True, exist_ok=True)
        owner = RUN_ROOT / f"{lab.prefix}.owner"
        owner.write_text(str(os.getpid()))
        args = [PY, "-m", "plantstack.run", "up", "--stack", lab.stack,
                "--work-dir", str(lab.work), "--quiet"]  # fmt: skip
        for key, value in lab.config.items():
            args += ["--set", f"{key}={value}"]
        try:
            lab.stackrun("preview")  # the stack exists in the backend before the race
            first = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env
            )
            deadline = time.monotonic() + 120
            while not _locks(state) and time.monotonic() < deadline:
                assert first.poll() is None, first.communicate()[1][-3000:]
                time.sleep(0.2)
            _locks_seen = _locks(state)
            assert _locks_seen, "the first up never took the stack's lock"
            second = subprocess.run(
                args, capture_output=True, text=True, env=lab.env, timeout=300, check=False
            )
            _out, err = first.communicate(timeout=600)
            assert first.returncode == 0, err[-3000:]
            assert second.returncode != 0
            assert "locked" in second.stderr, second.stderr[-2000:]
            said = next(line for line in second.stderr.splitlines() if "locked" in line)
            print(f"\nlock {_locks_seen[0]}; second up: {said.strip()[:200]}")
            assert "Traceback" not in second.stderr.split("locked")[0][-200:]
            # the state is intact: one export that parses, and nothing left to do
            exported = subprocess.run(
                [str(ROOT / ".tools" / "bin" / "pulumi"), "stack", "export", "--stack",
                 lab.stack],
                capture_output=True, text=True, env=lab.env, timeout=60, check=True,
                cwd=lab.work,
            )  # fmt: skip
            resources = json.loads(exported.stdout)["deployment"]["resources"]
            assert len(resources) > 5
            assert not _locks(state)
            plan = lab.stackrun("preview")
            assert set(plan["changes"]) <= {"same"}, plan["changes"]
        finally:
            lab.stackrun("destroy", check=False)
            teardown(lab.prefix)
            owner.unlink(missing_ok=True)


def _locks(state: PostgresState) -> list[str]:
    """The diy backend's lock entries of the stack, in its table of blobs."""
    return state.query("select key from pulumi_state where key like '%locks/%'")
