"""model/parsing.py: a big batch parsed on every core gives what one process gives, file for
file, problem for problem (the threshold is lowered so the sample plant takes the worker path)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from plantctl.core.problems import InvalidInput
from plantctl.model import parsing
from plantctl.model.loader import load

SAMPLE = Path(__file__).resolve().parents[3] / "inventory"


def _snapshot(inv):
    return {
        path: (doc.data, list(doc.tree[0]) if doc.tree else None, doc.tree and doc.tree[1])
        for path, doc in inv.documents.items()
    }


def _problems(root: Path):
    with pytest.raises(InvalidInput) as caught:
        load(root, cache=False)
    return [(p.file, p.line, p.col, p.rule, p.message) for p in caught.value.problems]


@pytest.fixture
def workers(monkeypatch):
    """The worker path for any batch, with two workers even on one core."""
    monkeypatch.setattr(parsing, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(parsing, "_workers", lambda: 2)


def test_the_sample_is_the_same_from_workers(workers, monkeypatch):
    spread = load(SAMPLE, cache=False)
    monkeypatch.setattr(parsing, "PARALLEL_BYTES", 1 << 40)
    alone = load(SAMPLE, cache=False)
    assert _snapshot(spread) == _snapshot(alone)
    assert {k: sorted(v) for k, v in spread.records.items()} == {
        k: sorted(v) for k, v in alone.records.items()
    }
    # and a record still says where it is written
    machine = next(iter(spread.of("machine").values()))
    assert machine.locate("controller") == next(iter(alone.of("machine").values())).locate(
        "controller"
    )


def test_bad_files_give_the_same_problems_in_the_same_order(workers, monkeypatch, tmp_path):
    root = tmp_path / "inventory"
    shutil.copytree(SAMPLE, root)
    site = root / "sites" / "ridgeway"
    (site / "machines.yaml").write_text("machines:\n  - id: [unclosed\n")  # does not parse
    gateways = site / "gateways.yaml"
    gateways.write_text(gateways.read_text().replace("id:", "idd:", 1))  # parses, schema refuses
    (root / "glossary.yaml").write_bytes(b"terms:\n  - id: \xff\n")  # not UTF-8
    spread = _problems(root)
    monkeypatch.setattr(parsing, "PARALLEL_BYTES", 1 << 40)
    alone = _problems(root)
    assert spread == alone
    files = {p[0] for p in spread}
    assert any(f.endswith("machines.yaml") for f in files)
    assert any(f.endswith("gateways.yaml") for f in files)
    assert any(f.endswith("glossary.yaml") for f in files)


def _die(items, schema_root):
    os._exit(1)  # a worker killed (out of memory, say) in the middle of its batch


def test_a_worker_that_dies_leaves_the_batch_to_this_process(workers, monkeypatch):
    monkeypatch.setattr(parsing, "_batch", _die)
    inv = load(SAMPLE, cache=False)
    assert inv.of("machine")
