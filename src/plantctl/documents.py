"""Strict YAML documents: YAML 1.2 meanings, bounded size, aliases and nesting, with locations.

Each file is parsed once with ruamel.yaml's round-trip loader, which keeps the line and column
of every key and item; the tree is then copied into plain Python data (dicts, lists, str, int,
float, bool, None) under budgets, so an alias bomb or a deep nest is refused quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from plantctl.problems import InvalidInput, Problem

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 24
MAX_ALIASES = 100
MAX_NODES = 2_000_000


class _TextTimestamps(RoundTripConstructor):
    """Keeps dates and times as the text written: the schema, not the parser, judges them."""

    def construct_yaml_timestamp(self, node, values=None):
        return self.construct_scalar(node)


_TextTimestamps.add_constructor(
    "tag:yaml.org,2002:timestamp", _TextTimestamps.construct_yaml_timestamp
)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _TextTimestamps
    yaml.version = (1, 2)
    yaml.allow_duplicate_keys = False
    return yaml


@dataclass
class Document:
    """One parsed file: plain data plus the ruamel tree that knows where everything is."""

    path: str  # as shown to people, relative to the repository root when possible
    data: Any
    tree: Any
    text: str

    def locate(self, keys: tuple | list) -> tuple[int, int]:
        """1-based (line, col) of the deepest part of `keys` that exists in the file."""
        node = self.tree
        line, col = 1, 1
        for key in keys:
            try:
                if isinstance(node, CommentedMap) and key in node:
                    line, col = node.lc.key(key)
                    line, col = line + 1, col + 1
                    node = node[key]
                elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                    line, col = node.lc.item(key)
                    line, col = line + 1, col + 1
                    node = node[key]
                else:
                    break
            except (KeyError, TypeError, AttributeError, IndexError):
                break
        return line, col


class _Budget:
    def __init__(self, path: str):
        self.path = path
        self.nodes = 0
        self.aliases = 0
        self.seen: set[int] = set()


def _fail(path: str, line: int, col: int, message: str, rule: str = "INV-YAML") -> InvalidInput:
    return InvalidInput([Problem(path, line, col, message, rule)])


def _plain(node: Any, budget: _Budget, depth: int, where: tuple[int, int]) -> Any:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _fail(
            budget.path,
            *where,
            f"the file expands to more than {MAX_NODES} values "
            "(aliases repeated?); write the data out or split the file",
        )
    if depth > MAX_DEPTH:
        raise _fail(
            budget.path,
            *where,
            f"nesting deeper than {MAX_DEPTH} levels; "
            "inventory objects are flat, check the indentation",
        )
    if isinstance(node, (CommentedMap, CommentedSeq)):
        if id(node) in budget.seen:
            budget.aliases += 1
            if budget.aliases > MAX_ALIASES:
                raise _fail(
                    budget.path,
                    *where,
                    f"more than {MAX_ALIASES} alias uses; "
                    "anchors and aliases are limited, write the values out",
                )
        budget.seen.add(id(node))
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            try:
                kl, kc = node.lc.key(key)
                at = (kl + 1, kc + 1)
            except (KeyError, TypeError):
                at = where
            if not isinstance(key, str):
                raise _fail(budget.path, *at, f"key {key!r} is not text; quote it")
            out[key] = _plain(value, budget, depth + 1, at)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            try:
                il, ic = node.lc.item(i)
                at = (il + 1, ic + 1)
            except (KeyError, TypeError, IndexError):
                at = where
            items.append(_plain(value, budget, depth + 1, at))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    raise _fail(budget.path, *where, f"unsupported YAML value of type {type(node).__name__}")


def parse(text: str, path: str) -> Document:
    """Parse one YAML document strictly. Raises InvalidInput naming path:line:col."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _fail(
            path,
            1,
            1,
            f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
            "split it (one file per site and kind)",
        )
    try:
        tree = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or str(exc)).strip()
        if "duplicate key" in what:
            raise _fail(
                path,
                line,
                col,
                f"{what}; each key may appear once, remove or rename the repeated one",
                "INV-DUPKEY",
            ) from None
        raise _fail(
            path, line, col, f"invalid YAML: {what}; fix the syntax at this point"
        ) from None
    except RecursionError:
        raise _fail(path, 1, 1, "nesting too deep to parse; inventory objects are flat") from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. bad characters)
        raise _fail(path, 1, 1, f"invalid YAML: {exc}; fix the file") from None
    data = _plain(tree, _Budget(path), 0, (1, 1))
    return Document(path=path, data=data, tree=tree, text=text)


def read(file: Path, shown_as: str) -> Document:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(
                shown_as,
                1,
                1,
                f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                "split it (one file per site and kind)",
            )
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(
            shown_as, 1, 1, f"not UTF-8 text ({exc.reason}); save the file as UTF-8"
        ) from None
    return parse(text, shown_as)
