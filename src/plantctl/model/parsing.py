"""Parsing and schema-checking the files a load has no cached copy of, on every core when there is
much to parse.

Parsing is the loader's largest cost at plant-group scale (50 sites: ~23 MB of YAML, about two
million libyaml events, each a Python object): one process does it in seconds. Files are
independent until their records are collected, so a big batch is split by size over forked
worker processes (the compiled schema validators are inherited, not rebuilt), and each returns
its files' data, position index and problems. Small batches (the sample plant, a pull request's
changed files) stay in this process: a worker costs more than it saves there. Either way each
file gives the same outcome, in the same order; the loader cannot tell them apart.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantctl.core.problems import InvalidInput, Problem
from plantctl.model import schemas
from plantctl.model.documents import parse

# Below this many bytes to parse, one process (measured: forking and returning the objects cost
# about 0.1 s; a megabyte parses in about 0.2 s).
PARALLEL_BYTES = 2 * 1024 * 1024
MAX_WORKERS = 4


@dataclass(frozen=True)
class Item:
    """One file to parse: its shown path, text and schema name."""

    shown: str
    text: str
    schema: str


@dataclass(frozen=True)
class Outcome:
    """A parsed file (data and position index) or why it was refused (parse or schema)."""

    data: Any = None
    tree: Any = None
    problems: tuple[Problem, ...] = ()
    parsed: bool = True  # False: it did not parse (the schema was never tried)


def _one(item: Item, schema_root: Path, memo: dict[str, Any]) -> Outcome:
    try:
        doc = parse(item.text, item.shown, memo)
    except InvalidInput as exc:
        return Outcome(problems=tuple(exc.problems), parsed=False)
    found = schemas.validate(doc, item.schema, schema_root)
    return Outcome(doc.data, doc.tree, tuple(found))


def _batch(items: Sequence[Item], schema_root: Path) -> list[Outcome]:
    memo: dict[str, Any] = {}  # equal scalars one object, within the batch
    return [_one(item, schema_root, memo) for item in items]


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def parse_all(
    items: Sequence[Item], schema_root: Path, memo: dict[str, Any] | None = None
) -> list[Outcome]:
    """Each item's outcome, in order; in worker processes when the batch is big."""
    workers = _workers()
    size = sum(len(item.text) for item in items)
    if workers < 2 or len(items) < 2 or size < PARALLEL_BYTES:
        memo = {} if memo is None else memo
        return [_one(item, schema_root, memo) for item in items]
    schemas.validators(schema_root)  # compiled once here, inherited by the workers
    # Greedy split by size, biggest first, so each worker gets about the same bytes.
    bins: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for index in sorted(range(len(items)), key=lambda i: -len(items[i].text)):
        target = loads.index(min(loads))
        bins[target].append(index)
        loads[target] += len(items[index].text)
    outcomes: list[Outcome | None] = [None] * len(items)
    context = multiprocessing.get_context("fork")
    # Unpickling millions of small objects would otherwise run the cyclic collector many times
    # over objects that all stay alive.
    enabled = gc.isenabled()
    gc.disable()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                (chosen, pool.submit(_batch, [items[i] for i in sorted(chosen)], schema_root))
                for chosen in bins
                if chosen
            ]
            for chosen, future in futures:
                for index, outcome in zip(sorted(chosen), future.result(), strict=True):
                    outcomes[index] = outcome
    except (BrokenProcessPool, OSError):  # no worker could be made or one died: here then
        memo = {} if memo is None else memo
        return [_one(item, schema_root, memo) for item in items]
    finally:
        if enabled:
            gc.enable()
    return [outcome for outcome in outcomes if outcome is not None]
