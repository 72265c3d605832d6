"""Which reader an export needs (--format auto tells the shapes apart from the start of the
file), and the checks before any record is read: a regular file, under the size limit, in the
shape of the format asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from plantctl.monitoring import claroty, csvexport, defender, nozomi
from plantctl.monitoring.base import Export, Link, check_file, fail, first_keys, items

SHAPES = {
    "nozomi": nozomi.SHAPE,
    "claroty": claroty.SHAPE,
    "defender": defender.SHAPE,
    "csv": csvexport.SHAPE,
}
LAST_SEEN = {"nozomi": False, "claroty": True, "defender": False, "csv": True}


def _sniff(path: Path, shown: str) -> str | None:
    """The format the file's start shows, or None."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise fail(shown, "", "is empty; export it again")
    if text[:1] in (b"{", b"["):
        kind, keys = first_keys(path, shown, nozomi.SIGNATURE | claroty.SIGNATURE)
        if kind == "array":
            return "defender"
        if kind == "object":
            if set(keys) & nozomi.SIGNATURE:
                return "nozomi"
            if set(keys) & claroty.SIGNATURE:
                return "claroty"
        return None
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace")
    return "csv" if csvexport.header_ok(first) else None


def detect(path: Path, shown: str | None = None) -> str:
    shown = shown or str(path)
    check_file(path, shown)
    found = _sniff(path, shown)
    if found is None:
        raise fail(
            shown,
            "",
            "is no export plantctl reads; expected one of: " + "; ".join(SHAPES.values()),
        )
    return found


def open_export(path: Path, fmt: str = "auto", shown: str | None = None) -> Export:
    """The export at `path` in format `fmt` (auto: told by its shape). Raises InvalidInput when
    the file is not one, or is another vendor's shape than the one forced."""
    shown = shown or str(path)
    found = detect(path, shown)
    if fmt not in ("auto", found):
        raise fail(
            shown,
            "",
            f"is not a {fmt} export: expected {SHAPES[fmt]}, but it has the shape of "
            f"{SHAPES[found]}; give --format {found} or --format auto",
        )
    reader = {
        "nozomi": nozomi.assets,
        "claroty": claroty.assets,
        "defender": defender.assets,
        "csv": csvexport.assets,
    }[found]
    if found in ("nozomi", "claroty"):
        key = nozomi.KEY if found == "nozomi" else claroty.KEY
        _, keys = first_keys(path, shown, {key})
        if key not in keys:
            raise fail(shown, "", f"has no {key!r} list: expected {SHAPES[found]}")
    return Export(path, shown, found, lambda: reader(path, shown), LAST_SEEN[found])


def links(path: Path, shown: str | None = None) -> Iterator[Link]:
    """The connections of a Nozomi `query=links` export."""
    shown = shown or str(path)
    check_file(path, shown)
    kind, keys = first_keys(path, shown, nozomi.SIGNATURE)
    if kind != "object" or not set(keys) & nozomi.SIGNATURE:
        raise fail(
            shown, "", 'is not a links export: expected {"result": [{from, to, protocol}, ...]}'
        )
    return nozomi.links(path, shown)


__all__ = ["items", "links", "open_export"]
