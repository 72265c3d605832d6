"""Shared fixtures: the sample plant copied to a temporary folder, and plantctl run in-process."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from plantctl.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inventory"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A private copy of the sample inventory (schemas included) to edit."""
    target = tmp_path / "inventory"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture
def plantctl(capsys, monkeypatch):
    """Run the real command line in-process; returns exit code and output."""

    def run(*args: str, cwd: Path | None = None) -> Run:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


# The lab tests' latest results for the evidence pack (tests/lab_results.py).
def pytest_configure(config):
    import lab_results

    config.addinivalue_line("markers", lab_results.MARKER)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    import lab_results

    lab_results.record(item, outcome.get_result())


def pytest_sessionfinish(session):
    import lab_results

    lab_results.write()
