"""Fixtures of the unit tests: the sample plant held in memory (model.sources.MemorySource), with
deliberate edits made to its text before the one loader reads it. Nothing touches the disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plantctl.model.inventory import Inventory, is_tool_file
from plantctl.model.loader import load
from plantctl.model.sources import MemorySource

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "inventory"
SCHEMAS = SAMPLE / "schema"

# An edit of one sample file: (file relative to inventory/, old text, new text). `old` must occur
# exactly once; `old` None appends `new` to the file; `new` None deletes the file.
Edit = tuple[str, str | None, str | None]


def _sample_texts() -> dict[str, str]:
    texts = {}
    for path in sorted(SAMPLE.rglob("*")):
        rel = path.relative_to(SAMPLE).as_posix()
        if path.is_file() and not is_tool_file(rel):
            texts[rel] = path.read_text(encoding="utf-8")
    return texts


@pytest.fixture(scope="session")
def sample_texts() -> dict[str, str]:
    """The sample's inventory files (schemas and tool files left out), read once."""
    return _sample_texts()


def apply(texts: dict[str, str], edits: tuple[Edit, ...]) -> dict[str, str]:
    files = dict(texts)
    for rel, old, new in edits:
        if new is None:
            del files[rel]
        elif old is None:
            files[rel] = files.get(rel, "") + new
        else:
            found = files[rel].count(old)
            assert found == 1, f"{old!r} occurs {found} times in {rel}, not once"
            files[rel] = files[rel].replace(old, new)
    return files


@pytest.fixture(scope="session")
def load_plant(sample_texts) -> Callable[..., Inventory]:
    """Load the sample after some edits, from memory; InvalidInput if the loader refuses it."""

    def build(*edits: Edit) -> Inventory:
        return load(MemorySource(apply(sample_texts, edits)), schema_root=SCHEMAS)

    return build


@pytest.fixture(scope="session")
def plant(load_plant) -> Inventory:
    """The sample plant, loaded once: read it, never change it."""
    return load_plant()


@pytest.fixture
def fresh_plant(load_plant) -> Inventory:
    """The sample plant, loaded for one test, which may change its records' data."""
    return load_plant()


@pytest.fixture(scope="session")
def line_of(sample_texts) -> Callable[..., int]:
    """1-based line of the first line holding `needle` in a sample file, at or after the first
    line holding `after`: where a test expects a problem to point."""

    def find(rel: str, needle: str, after: str | None = None) -> int:
        lines = sample_texts[rel].splitlines()
        start = 0
        if after is not None:
            start = next(i for i, text in enumerate(lines) if after in text)
        return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1

    return find
