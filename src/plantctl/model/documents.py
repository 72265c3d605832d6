"""Strict YAML documents: YAML 1.2 meanings, bounded size, aliases and nesting, with locations.

Each file is parsed once by libyaml (PyYAML's C parser). Its events are built straight into
plain Python data (dicts, lists, str, int, float, bool, None) under budgets, so an alias bomb or a
deep nest is refused quickly, and plain scalars get their YAML 1.2 core-schema meanings: NO, yes,
on, 12:30 and 2026-01-01 stay text. Beside the data a compact index of positions (one array of
ints per file) is kept for `Document.locate`. A file the event builder does not take as it is
(anchors, aliases, merge keys, explicit tags, or something to refuse) is composed into libyaml's
node graph and copied from there instead, with the same result and the same messages.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from dataclasses import dataclass
from typing import Any, cast

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from plantctl.core.problems import InvalidInput, Problem

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 24
MAX_ALIASES = 100
MAX_NODES = 2_000_000
# libyaml composes recursively in C, a few hundred bytes of stack per level: a file that could
# nest deeper than this is measured first (iteratively) and refused before composing.
COMPOSE_DEPTH = 5000
MAX_INT_DIGITS = 4000  # Python refuses to read longer decimal numbers

# Tags as the composer leaves them: plain scalars without a tag get _PLAIN (compared by
# identity, so no tag written in a file can pass for it); everything else keeps its tag.
_PLAIN = "!plantctl/plain"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(yaml.CSafeLoader):  # type: ignore[misc]  # PyYAML has no type hints
    """libyaml's parser and composer; tags say only "plain or not", meanings come later."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


class _Recomposer(Composer, _Loader):  # type: ignore[misc]  # PyYAML has no type hints
    """Composes in Python from libyaml's events, letting an anchor be defined again (YAML
    allows it: an alias means the latest node with that name), which libyaml's composer
    refuses. Only used for files that do that."""

    def __init__(self, text: str):
        _Loader.__init__(self, text)  # type: ignore[call-arg]  # its base has no type hints
        Composer.__init__(self)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if event.anchor is not None and not isinstance(event, AliasEvent):
            self.anchors.pop(event.anchor, None)
        return super().compose_node(parent, index)


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), plain scalars only.
_MISSING = object()
_WORDS: dict[str, Any] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    **{
        f"{sign}.{inf}": float(f"{sign}inf")
        for sign in ("", "+", "-")
        for inf in ("inf", "Inf", "INF")
    },
    **{f".{nan}": float("nan") for nan in ("nan", "NaN", "NAN")},
}
_NUMBER = re.compile(
    r"(?P<int>[-+]?[0-9]+)"
    r"|0o(?P<oct>[0-7]+)"
    r"|0x(?P<hex>[0-9a-fA-F]+)"
    r"|(?P<float>[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)"
)
_NUMERIC_START = frozenset("0123456789+-.")


class _Refused(Exception):
    """A problem found in the node graph, at a libyaml mark (None: the top of the file)."""

    def __init__(self, mark: Any, message: str, rule: str = "INV-YAML") -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.rule = rule

    def at(self) -> tuple[int, int]:
        return (self.mark.line + 1, self.mark.column + 1) if self.mark is not None else (1, 1)


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__("too deep")
        self.mark = mark


def _core(node: ScalarNode) -> Any:
    """The YAML 1.2 core-schema meaning of a plain scalar: null, bool, int, float or text."""
    return _meaning(node.value, node)


def _meaning(value: str, node: ScalarNode | None = None) -> Any:
    word = _WORDS.get(value, _MISSING)
    if word is not _MISSING:
        if type(word) is float:  # .inf, .nan and their spellings
            raise _not_finite(value, node)
        return word
    if value[0] in _NUMERIC_START:
        match = _NUMBER.fullmatch(value)
        if match is not None:
            kind = cast(str, match.lastgroup)  # every alternative is a named group
            if kind == "float":
                number = float(value)
                if not math.isfinite(number):  # 1e999 reads as infinity
                    raise _not_finite(value, node)
                return number
            if kind == "int":
                if len(value) > MAX_INT_DIGITS:
                    raise _Refused(
                        node.start_mark if node is not None else None,
                        f"number with more than {MAX_INT_DIGITS} digits; quote it if it is text",
                    )
                return int(value)
            return int(match[kind], 8 if kind == "oct" else 16)
    return value


def _not_finite(value: str, node: ScalarNode | None) -> _Refused:
    """NaN and infinity have no JSON form and no meaning as a port, interval or scale."""
    return _Refused(
        node.start_mark if node is not None else None,
        f"{value[:40]!r} is not a finite number; write a number (or quote it if it is text)",
    )


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag is _PLAIN:
        return _core(node)
    if tag in (_STR, _TIMESTAMP):
        return node.value  # quoted, block, or tagged as text: always text
    if tag in (_INT, _FLOAT, _BOOL, _NULL):
        value = _core(node) if node.value else None
        if tag == _NULL and value is None:
            return None
        if tag == _BOOL and isinstance(value, bool):
            return value
        if tag in (_INT, _FLOAT) and isinstance(value, int) and not isinstance(value, bool):
            return float(value) if tag == _FLOAT else value
        if tag == _FLOAT and isinstance(value, float):
            return value
        name = "!!" + tag.rsplit(":", 1)[1]
        raise _Refused(
            node.start_mark,
            f"{node.value!r} is not a valid {name}; fix the value or remove the tag",
        )
    raise _Refused(node.start_mark, _unsupported(tag))


def _unsupported(tag: str) -> str:
    shown = (
        "!!" + tag.removeprefix("tag:yaml.org,2002:")
        if tag.startswith("tag:yaml.org,2002:")
        else tag
    )
    return (
        f"unsupported YAML tag {shown}; remove it "
        "(inventory values are text, numbers, true/false, null, lists and mappings)"
    )


def _is_merge(key: ScalarNode) -> bool:
    return bool((key.tag is _PLAIN and key.value == "<<") or key.tag == _MERGE)


class _Walk:
    """Copies the node graph into plain data under the budgets, building the position tree.

    An alias is the same node object met again: every further visit of a list or mapping counts
    as an alias use, and every value visited (again) counts toward MAX_NODES.
    """

    __slots__ = ("aliases", "merged", "nodes", "out", "seen")

    def __init__(self) -> None:
        self.out = array("i")  # the position index (see _close)
        self.nodes = 0
        self.aliases = 0
        self.seen: set[int] = set()
        self.merged: dict[int, list[tuple[Any, Any]]] = {}

    def value(self, node: Any, depth: int, where: Any) -> tuple[Any, int]:
        """(data, offset of its block in the index or -1) of one node; `where` is the mark
        problems inside it are reported at."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(
                where,
                f"the file expands to more than {MAX_NODES} values "
                "(aliases repeated?); write the data out or split the file",
            )
        if depth > MAX_DEPTH:
            raise _Refused(
                where,
                f"nesting deeper than {MAX_DEPTH} levels; "
                "inventory objects are flat, check the indentation",
            )
        kind = type(node)
        if kind is ScalarNode:
            return _scalar(node), -1
        ident = id(node)
        if ident in self.seen:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(
                    where,
                    f"more than {MAX_ALIASES} alias uses; "
                    "anchors and aliases are limited, write the values out",
                )
            if _contains_itself(node):
                raise _Refused(
                    where,
                    "an alias refers to the list or mapping that contains it; "
                    "anchors and aliases are limited, write the values out",
                )
        else:
            self.seen.add(ident)
        if kind is MappingNode:
            return self.mapping(node, depth, where)
        return self.sequence(node, depth)

    def sequence(self, node: SequenceNode, depth: int) -> tuple[list[Any], int]:
        if node.tag != _SEQ:
            raise _Refused(node.start_mark, _unsupported(node.tag))
        data = []
        pos: list[int] = []
        inner = depth + 1
        for item in node.value:
            mark = item.start_mark
            if type(item) is ScalarNode and inner <= MAX_DEPTH and self.nodes < MAX_NODES:
                self.nodes += 1  # what self.value does for a scalar, inline: most values are
                data.append(_core(item) if item.tag is _PLAIN else _scalar(item))
                pos += (mark.line, mark.column, -1)
                continue
            value, sub = self.value(item, inner, mark)
            data.append(value)
            pos += (mark.line, mark.column, sub)
        return data, _close(self.out, len(data), pos)

    def mapping(self, node: MappingNode, depth: int, where: Any) -> tuple[dict[str, Any], int]:
        if node.tag != _MAP:
            raise _Refused(node.start_mark, _unsupported(node.tag))
        data: dict[str, Any] = {}
        pos: list[int] = []
        inner = depth + 1
        merge = None
        for key_node, value_node in node.value:
            mark = key_node.start_mark
            if type(key_node) is ScalarNode:
                tag = key_node.tag
                if tag is _PLAIN and key_node.value != "<<":
                    key = _core(key_node)
                elif tag is _STR:
                    key = key_node.value
                elif _is_merge(key_node):
                    if merge is not None:
                        raise _Refused(mark, _invalid('found duplicate merge key "<<"'))
                    merge = value_node
                    continue
                else:
                    key = _scalar(key_node)
            else:
                key = _sketch(key_node)
            if type(key) is not str:
                raise _Refused(mark, f"key {key!r} is not text; quote it")
            if key in data:
                raise _duplicate(node, key_node, value_node)
            value_mark = value_node.start_mark
            if type(value_node) is ScalarNode and inner <= MAX_DEPTH and self.nodes < MAX_NODES:
                self.nodes += 1  # as in sequence()
                data[key] = _core(value_node) if value_node.tag is _PLAIN else _scalar(value_node)
                sub = -1
            else:
                data[key], sub = self.value(value_node, inner, mark)
            pos += (mark.line, mark.column, value_mark.line, value_mark.column, sub)
        if merge is not None:
            # Keys merged in with `<<: *anchor` come after the mapping's own, the first source
            # winning; they have no place of their own in this mapping.
            for key_node, value_node in self.merge_sources(merge, set()):
                key = _scalar(key_node) if type(key_node) is ScalarNode else _sketch(key_node)
                if type(key) is not str:
                    raise _Refused(where, f"key {key!r} is not text; quote it")
                if key in data:
                    continue
                value, sub = self.value(value_node, inner, where)
                data[key] = value
                pos += (-1, -1, -1, -1, sub)
        return data, _close(self.out, len(data), pos)

    def merge_sources(self, merge: Any, visiting: set[int]) -> list[tuple[Any, Any]]:
        """The (key, value) node pairs a `<<` value brings in, in order, each key once."""
        sources = merge.value if type(merge) is SequenceNode else [merge]
        if type(merge) is ScalarNode:
            raise _Refused(
                merge.start_mark,
                _invalid("expected a mapping or list of mappings for merging, but found scalar"),
            )
        pairs = []
        for source in sources:
            if type(source) is not MappingNode:
                raise _Refused(
                    source.start_mark,
                    _invalid(f"expected a mapping for merging, but found {source.id}"),
                )
            pairs.extend(self.effective(source, visiting))
        return pairs

    def effective(self, node: MappingNode, visiting: set[int]) -> list[tuple[Any, Any]]:
        """A mapping's own (key, value) node pairs, then those it merges in itself."""
        ident = id(node)
        known = self.merged.get(ident)
        if known is not None:
            return known
        if ident in visiting:
            raise _Refused(node.start_mark, _invalid("a mapping merges itself (<<)"))
        visiting.add(ident)
        own = []
        merge = None
        for key_node, value_node in node.value:
            if type(key_node) is ScalarNode and _is_merge(key_node):
                merge = value_node
            else:
                own.append((key_node, value_node))
        if merge is not None:
            own.extend(self.merge_sources(merge, visiting))
        pairs = []
        keys = set()
        for key_node, value_node in own:
            key = _hashable(key_node)
            if key is _MISSING or key not in keys:
                keys.add(key)
                pairs.append((key_node, value_node))
        visiting.discard(ident)
        self.merged[ident] = pairs
        return pairs


def _invalid(what: str) -> str:
    return f"invalid YAML: {what}; fix the syntax at this point"


def _hashable(key_node: Any) -> Any:
    """A key's value for comparing keys, or _MISSING if it cannot be compared."""
    try:
        key = _scalar(key_node) if type(key_node) is ScalarNode else _sketch(key_node)
        hash(key)
    except (_Refused, TypeError):
        return _MISSING
    return key


class _More:
    def __repr__(self) -> str:
        return "..."


def _sketch(node: Any, key: bool = True, budget: list[int] | None = None, depth: int = 0) -> Any:
    """Plain data for showing a node in a message (lists as tuples in keys): small, never
    expanding aliases far."""
    budget = [200] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > 8:
        return _More()
    if type(node) is ScalarNode:
        try:
            return _scalar(node)
        except _Refused:
            return node.value
    if type(node) is SequenceNode:
        items = [_sketch(item, key, budget, depth + 1) for item in node.value]
        return tuple(items) if key else items
    return {
        _sketch(k, True, budget, depth + 1): _sketch(v, key, budget, depth + 1)
        for k, v in node.value
        if type(k) is ScalarNode
    }


def _shown(node: Any) -> str:
    return str(_sketch(node, key=False))


def _duplicate(mapping: MappingNode, key_node: Any, value_node: Any) -> _Refused:
    key = _hashable(key_node)
    original = next(
        (value for k, value in mapping.value if k is not key_node and _hashable(k) == key),
        None,
    )
    what = (
        f'found duplicate key "{key}" with value "{_shown(value_node)}" '
        f'(original value: "{_shown(original) if original is not None else ""}")'
    )
    return _Refused(
        key_node.start_mark,
        f"{what}; each key may appear once, remove or rename the repeated one",
        "INV-DUPKEY",
    )


def _contains_itself(node: Any) -> bool:
    """Whether a list or mapping can be reached from inside itself (a recursive alias)."""
    if type(node) is ScalarNode:
        return False
    seen: set[int] = set()
    stack = [node]
    while stack:
        for child in _children(stack.pop()):
            if child is node:
                return True
            if type(child) is not ScalarNode and id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return False


def _children(node: Any) -> list[Any]:
    if type(node) is SequenceNode:
        items: list[Any] = node.value
        return items
    if type(node) is MappingNode:
        return [part for pair in node.value for part in pair]
    return []


def _construction_problem(root: Any) -> _Refused | None:
    """The first duplicate key or malformed merge, in the order a constructor meets them.

    Such problems take precedence over the rest (budgets, non-text keys), as they did when a
    constructor built the whole file before it was copied; only used once something is wrong.
    """
    if root is None or type(root) is ScalarNode:
        return None
    walk = _Walk()
    seen = {id(root)}
    stack: list[list[Any]] = [[root, 0, set()]]
    while stack:
        frame = stack[-1]
        node, step, keys = frame
        frame[1] += 1
        if type(node) is SequenceNode:
            if step >= len(node.value):
                stack.pop()
                continue
            child = node.value[step]
        else:
            pairs = node.value
            if step == 0:
                merges = [k for k, _ in pairs if type(k) is ScalarNode and _is_merge(k)]
                if len(merges) > 1:
                    return _Refused(
                        merges[1].start_mark, _invalid('found duplicate merge key "<<"')
                    )
                if merges:
                    merge = next(v for k, v in pairs if k is merges[0])
                    try:
                        walk.merge_sources(merge, set())
                    except _Refused as exc:
                        return exc
            index, part = divmod(step, 3)
            if index >= len(pairs):
                stack.pop()
                continue
            key_node, value_node = pairs[index]
            if part == 2:  # key and value are built: now the key is compared with earlier ones
                if type(key_node) is ScalarNode and _is_merge(key_node):
                    continue
                key = _hashable(key_node)
                if key is not _MISSING:
                    if key in keys:
                        return _duplicate(node, key_node, value_node)
                    keys.add(key)
                continue
            child = key_node if part == 0 else value_node
        if type(child) is not ScalarNode and id(child) not in seen:
            seen.add(id(child))
            stack.append([child, 0, set()])
    return None


_NOT_SPECIAL = re.compile(r"[^\[\]{}\"'#!]+")
_MAX_SPECIALS = 1_000_000


def _could_nest_deeper(text: str, limit: int) -> bool:
    """False only if `text` surely nests no deeper than `limit`, judged without parsing.

    A block collection nests at most two levels per column of indentation, so the longest line
    bounds block nesting. Flow nesting is bounded by counting brackets: a closing bracket
    counts only while no quote, comment or tag may hide it (inside a flow collection those
    make the text ambiguous: then True), so the count never falls below the real depth.
    """
    room = limit - 4
    if 2 * len(text) > room:
        room -= 2 * max(map(len, text.split("\n")))
        if room < 0:
            return True
    specials = _NOT_SPECIAL.sub("", text)
    if 2 * specials.count("[") + 2 * specials.count("{") <= room:
        return False
    if len(specials) > _MAX_SPECIALS:
        return True
    depth = 0
    for char in specials:
        if char == "[" or char == "{":
            depth += 1
            if 2 * depth > room:
                return True
        elif char == "]" or char == "}":
            if depth:
                depth -= 1
        elif depth:
            return True
    return False


def _measure_depth(text: str) -> None:
    """Raises _TooDeep where the first document nests deeper than COMPOSE_DEPTH, iteratively."""
    loader = _Loader(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            kind = type(event)
            if kind is ScalarEvent:
                continue
            if kind is MappingStartEvent or kind is SequenceStartEvent:
                depth += 1
                if depth > COMPOSE_DEPTH:
                    raise _TooDeep(event.start_mark)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                depth -= 1
            elif kind is DocumentEndEvent:
                return
    except yaml.YAMLError:
        return  # composing stops at the same place, no deeper than measured so far
    finally:
        loader.dispose()


def _compose(text: str) -> Any:
    if _could_nest_deeper(text, COMPOSE_DEPTH):
        _measure_depth(text)
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except ComposerError as exc:
        if not (exc.context or "").startswith("found duplicate anchor"):
            raise
    finally:
        loader.dispose()
    loader = _Recomposer(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _close(out: array[int], count: int, items: list[int]) -> int:
    """Writes one list's or mapping's block to the position index `out`; its offset.

    A block is the item count, then per item 0-based ints: (line, column, child) in a list,
    (key line, key column, value line, value column, child) in a mapping, in the order of the
    mapping's keys; child is the offset of the item's own block if it is a list or mapping, else
    -1; positions are -1 for keys merged in with `<<`, which have no place of their own."""
    offset = len(out)
    out.append(count)
    out.extend(items)
    return offset


class _Bail(Exception):
    """The event builder met something only the full path (composer and walk) handles exactly:
    an anchor, alias, merge key, explicit tag, complex or repeated key, or a budget reached."""


def _build(text: str, memo: dict[str, Any]) -> tuple[Any, Any]:
    """(data, tree) straight from libyaml's events, without a node graph, for the common file.

    Gives exactly what composing and walking give, or raises _Bail (or the parser's error)."""
    loader = _Loader(text)
    try:
        get = loader.get_event
        get()  # StreamStartEvent
        if type(get()) is StreamEndEvent:
            return None, None
        out = array("i")
        stack: list[Any] = []
        data: Any = None
        pos: list[int] = []
        key: Any = _MISSING
        key_line = key_col = 0
        is_map = False
        depth = -1  # of the current list or mapping; -1: none open yet
        nodes = 0
        result: Any = _MISSING
        while result is _MISSING:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                tag = event.tag
                if event.anchor is not None or (tag is not None and tag != "!"):
                    raise _Bail
                raw = event.value
                if event.implicit[0]:
                    value = memo.get(raw, _MISSING)
                    if value is _MISSING:
                        value = memo[raw] = _meaning(raw)
                else:
                    value = sys.intern(raw)
                mark = event.start_mark
                if is_map and key is _MISSING:
                    if type(value) is not str or value in data or value == "<<":
                        raise _Bail  # a key that is not text, repeated, or maybe a merge
                    key, key_line, key_col = value, mark.line, mark.column
                    continue
                nodes += 1
                if nodes > MAX_NODES or depth + 1 > MAX_DEPTH:
                    raise _Bail
                if depth < 0:
                    result = value, None
                elif is_map:
                    data[key] = value
                    pos += (key_line, key_col, mark.line, mark.column, -1)
                    key = _MISSING
                else:
                    data.append(value)
                    pos += (mark.line, mark.column, -1)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                tag = event.tag
                if event.anchor is not None or (tag is not None and tag != "!"):
                    raise _Bail
                if is_map and key is _MISSING:
                    raise _Bail  # a list or mapping as a key
                nodes += 1
                if nodes > MAX_NODES or depth + 1 > MAX_DEPTH:
                    raise _Bail
                mark = event.start_mark
                if depth >= 0:
                    if is_map:
                        pos += (key_line, key_col, mark.line, mark.column)
                    else:
                        pos += (mark.line, mark.column)
                stack.append((data, pos, key, key_line, key_col, is_map, depth))
                is_map = kind is MappingStartEvent
                data = {} if is_map else []
                pos, key, depth = [], _MISSING, depth + 1
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value, offset = data, _close(out, len(data), pos)
                data, pos, key, key_line, key_col, is_map, depth = stack.pop()
                if depth < 0:
                    result = value, (out, offset)
                elif is_map:
                    data[key] = value
                    pos.append(offset)  # completes the item begun when the child started
                    key = _MISSING
                else:
                    data.append(value)
                    pos.append(offset)
            else:
                raise _Bail  # an alias, or an event out of place
        if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
            raise _Bail  # more than one document: the composer words that
        return cast(tuple[Any, Any], result)  # the loop ends once result is a (data, tree)
    finally:
        loader.dispose()


@dataclass
class Document:
    """One parsed file: plain data, and a tree beside it that knows where everything is.

    `tree` mirrors `data`, compactly: (index, offset of the root's block) for a list or
    mapping at the top, else None. The index is one array of ints for the whole file, a block
    per list or mapping (see _close) holding the 0-based positions of its items.
    """

    path: str  # as shown to people, relative to the repository root when possible
    data: Any
    tree: Any
    text: str

    def locate(self, keys: tuple[Any, ...] | list[Any]) -> tuple[int, int]:
        """1-based (line, col) of the deepest part of `keys` that exists in the file."""
        line, col = 1, 1
        if self.tree is None:
            return line, col
        index, block = self.tree
        node = self.data
        for key in keys:
            entry = _entry(index, block, node, key)
            if entry is None:
                break
            at, _width, node, block = entry
            if index[at] < 0:
                break
            line, col = index[at] + 1, index[at + 1] + 1
        return line, col

    def locate_value(self, keys: tuple[Any, ...] | list[Any]) -> tuple[int, int] | None:
        """1-based (line, col) where the value at `keys` is written, None if it is not."""
        if not keys or self.tree is None:
            return None
        index, block = self.tree
        node = self.data
        at = width = 0
        for key in keys:
            entry = _entry(index, block, node, key)
            if entry is None:
                return None
            at, width, node, block = entry
        if index[at] < 0:
            return None
        if width == 5:
            return index[at + 2] + 1, index[at + 3] + 1
        return index[at] + 1, index[at + 1] + 1


def _entry(index: array[int], block: int, node: Any, key: Any) -> tuple[int, int, Any, int] | None:
    """(where the item's ints start, their number, its data, its block) of `key` in `node`."""
    if block < 0:
        return None
    if type(node) is dict:
        try:
            if key not in node:
                return None
        except TypeError:  # an unhashable key is in no mapping
            return None
        item = next(i for i, k in enumerate(node) if k is key or k == key)
        width = 5
    elif type(node) is list and isinstance(key, int) and 0 <= key < len(node):
        item = key
        width = 3
    else:
        return None
    if item >= index[block]:  # the data changed after parsing: no position known
        return None
    at = block + 1 + item * width
    return at, width, node[key], index[at + width - 1]


def _fail(path: str, line: int, col: int, message: str, rule: str = "INV-YAML") -> InvalidInput:
    return InvalidInput([Problem(path, line, col, message, rule)])


def _syntax(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = (exc.problem or str(exc)).strip()
    lines = text.splitlines()
    if lines and line > len(lines) and not text.endswith(("\n", "\r")):
        line, col = len(lines), len(lines[-1]) + 1  # the end of a file without a last newline
    # libyaml does not name the character or alias it stopped at: name it, from the text.
    rest = lines[line - 1][col - 1 :] if mark and line <= len(lines) else ""
    if what == "found character that cannot start any token" and rest:
        what = f"found character {rest[0]!r} that cannot start any token"
    elif what == "found unknown escape character" and rest[1:]:
        what = f"found unknown escape character {rest[1]!r}"
    elif what == "found undefined alias" and (alias := re.match(r"\*([^\s,\[\]{}]+)", rest)):
        what = f"found undefined alias {alias[1]!r}"
    context = (exc.context or "").strip()
    if context.endswith("; first occurrence") and exc.context_mark is not None:
        # libyaml: "found duplicate anchor; first occurrence" ... "second occurrence"
        first = exc.context_mark.line + 1
        what = f"{context.removesuffix('; first occurrence')} (first on line {first})"
    return line, col, what


def parse(text: str, path: str, memo: dict[str, Any] | None = None) -> Document:
    """Parse one YAML document strictly. Raises InvalidInput naming path:line:col.

    `memo` (plain scalar text -> its meaning) may be shared by the files of one inventory, so
    equal keys and values are one object each."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _fail(
            path,
            1,
            1,
            f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
            "split it (one file per site and kind)",
        )
    try:
        built = _build(text, {} if memo is None else memo)
    except yaml.MarkedYAMLError as exc:
        # Only the parser's errors reach here (the builder composes nothing); composing would
        # stop at the same place with the same error.
        line, col, what = _syntax(exc, text)
        raise _fail(path, line, col, _invalid(what)) from None
    except Exception:  # _Bail or anything unusual: the full path below decides, as before
        built = None
    if built is not None:
        return Document(path=path, data=built[0], tree=built[1], text=text)
    try:
        root = _compose(text)
    except _TooDeep as exc:
        raise _fail(
            path,
            exc.mark.line + 1,
            exc.mark.column + 1,
            "nesting too deep to parse; inventory objects are flat",
        ) from None
    except yaml.MarkedYAMLError as exc:
        line, col, what = _syntax(exc, text)
        raise _fail(path, line, col, _invalid(what)) from None
    except RecursionError:
        raise _fail(path, 1, 1, "nesting too deep to parse; inventory objects are flat") from None
    except Exception as exc:  # libyaml raises a few unmarked errors (e.g. bad characters)
        raise _fail(path, 1, 1, f"invalid YAML: {exc}; fix the file") from None
    if root is None:
        return Document(path=path, data=None, tree=None, text=text)
    walk = _Walk()
    try:
        data, block = walk.value(root, 0, None)
    except _Refused as exc:
        try:
            first = _construction_problem(root) or exc
        except RecursionError:  # merges chained too deep to compare: report what was found
            first = exc
        raise _fail(path, *first.at(), first.message, first.rule) from None
    except RecursionError:
        raise _fail(path, 1, 1, "nesting too deep to parse; inventory objects are flat") from None
    tree = (walk.out, block) if block >= 0 else None
    return Document(path=path, data=data, tree=tree, text=text)
