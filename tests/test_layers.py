"""The layers of docs/architecture.md hold: imports go one way, no cycles, the collector alone.

The contracts live in pyproject.toml ([tool.importlinter]); import-linter (grimp) reads every
import statement, those inside functions too, so a lazy import cannot hide a back-edge.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def layers() -> list[list[str]]:
    (layered,) = [c for c in contracts() if c["type"] == "layers"]
    return [[name.strip() for name in re.split(r"[|:]", row)] for row in layered["layers"]]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root / "src")},
        timeout=120,
    )


def cycles(src: Path) -> list[list[str]]:
    """Import cycles of plantctl as found in `src` (in a child: this process imported ours)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "import_cycles.py"), "plantctl"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)},
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_layer_contracts_are_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_cycles():
    assert cycles(ROOT / "src") == []


def test_the_library_never_imports_the_stacks_application_nor_edits_sys_path():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bimport plantstack|from plantstack|sys\.path\.(insert|append)", line)
    ]
    assert offenders == []


def test_every_package_of_plantctl_is_in_a_layer_or_named_apart():
    named = {name for row in layers() for name in row} | {"collector"}
    packages = {
        p.name if p.is_dir() else p.stem
        for p in (ROOT / "src" / "plantctl").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    } - {"__init__", "__main__"}
    assert packages == named


def test_the_architecture_document_shows_the_layers_of_the_contract():
    """docs/architecture.md's layer table is the contract's, top to bottom (one source)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("<!-- layers: begin -->")[1].split("<!-- layers: end -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = [re.findall(r"`src/plantctl/(\w+)(?:/|\.py)`", row.split("|")[1]) for row in rows]
    assert documented == layers()


# -- the tests fail when a copy breaks the rule (the acceptance's "shown failing") -------------


@pytest.fixture
def tree_copy(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_an_upward_import_breaks_the_contract(tree_copy):
    # the model reaching up into the reports layer, hidden in a function
    append(
        tree_copy / "src/plantctl/model/addressing.py",
        "\n\ndef _up():\n    from plantctl.reports import summary\n\n    return summary\n",
    )
    done = lint_imports(tree_copy)
    assert done.returncode == 1
    assert "plantctl.model.addressing -> plantctl.reports.summary" in done.stdout


def test_the_collector_importing_the_controller_breaks_the_contract(tree_copy):
    append(tree_copy / "src/plantctl/collector/spool.py", "\nfrom plantctl.model import tokens\n")
    done = lint_imports(tree_copy)
    assert done.returncode == 1
    assert "plantctl.collector.spool -> plantctl.model.tokens" in done.stdout


def test_a_cycle_inside_a_layer_is_found(tree_copy):
    # references and addressing are both model: the layers allow it, the cycle test does not
    append(
        tree_copy / "src/plantctl/model/addressing.py", "\nfrom plantctl.model import references\n"
    )
    append(
        tree_copy / "src/plantctl/model/references.py", "\nfrom plantctl.model import addressing\n"
    )
    found = cycles(tree_copy / "src")
    assert ["plantctl.model.addressing", "plantctl.model.references"] in found
