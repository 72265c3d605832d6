"""The values every reader makes, and what they share: the size limit, field checks that name
the record, and JSON arrays streamed item by item (ijson) with the line of a bad item."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ijson

from plantctl.core.problems import InvalidInput, Problem, bounded

RULE = "DRIFT-INPUT"
FORMATS = ("nozomi", "claroty", "defender", "csv")
# Over this an export is refused before it is read: 100k assets are about 50 MB; a 1 GB file is
# not an asset list but a mistake (a packet capture, the wrong file). Export one site at a time.
MAX_BYTES = 512 * 1024 * 1024
_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
MAX_TEXT = 256
_NO_LEVEL = {
    "",
    "unknown",
    "n/a",
    "na",
    "none",
    "-",
    "?",
}  # a vendor, model or name longer than this is cut (kept as provenance only)


@dataclass(slots=True)
class Asset:
    """One device the monitoring system saw."""

    source: str  # the export file, as shown in messages
    where: str  # the record inside it: "result[12]", "objects[3]", "[0]", "line 14"
    vendor_id: str | None  # the vendor's asset id: provenance only, never matched on
    name: str | None
    ips: tuple[str, ...]
    macs: tuple[str, ...] = ()
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    level: float | None = None  # Purdue level, where the export says
    protocols: tuple[str, ...] = ()
    type: str | None = None
    site: str | None = None  # the export's own site field (Claroty site_name)
    zone: str | None = None  # the export's zone name (kept for the report only)
    serial: str | None = None
    vlan: str | None = None
    last_seen: datetime | None = None
    line: int | None = None  # known for CSV

    def label(self) -> str:
        ident = f", asset id {self.vendor_id}" if self.vendor_id else ""
        return f"{self.source} {self.where}{ident}"

    def provenance(self) -> dict:
        return {
            "file": self.source,
            "record": self.where,
            "line": self.line,
            "asset_id": self.vendor_id,
        }


@dataclass(frozen=True, slots=True)
class Link:
    """One connection the monitoring system saw (Nozomi `query=links`)."""

    source: str
    where: str
    src: str
    dst: str
    protocol: str | None  # the application protocol as the vendor names it (modbus, s7, ...)
    transport: str | None = None  # tcp, udp, icmp where said
    port: int | None = None


@dataclass
class Export:
    """An export being read: its format and its assets, streamed once."""

    path: Path
    shown: str
    format: str
    assets: Callable[[], Iterator[Asset]]
    carries_last_seen: bool
    notes: list[str] = field(default_factory=list)


def problem(shown: str, where: str, message: str, line: int = 1) -> Problem:
    return Problem(shown, line or 1, 1, f"{where}: {message}" if where else message, RULE)


def fail(shown: str, where: str, message: str, line: int = 1) -> InvalidInput:
    return InvalidInput([problem(shown, where, message, line)])


def check_file(path: Path, shown: str, limit: int = MAX_BYTES) -> None:
    """A regular file under the size limit, or InvalidInput (before anything is read)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise fail(shown, "", "no such file; give the export's path") from None
    except OSError as exc:
        raise fail(shown, "", f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail(shown, "", "is not a regular file; give the export file itself")
    if info.st_size > limit:
        raise fail(
            shown,
            "",
            f"is {_size(info.st_size)}, over the {_size(limit)} limit for an export; this is "
            "not an asset list (100k assets are about 50 MB): export one site at a time",
        )
    if not os.access(path, os.R_OK):
        raise fail(shown, "", "cannot be read (permission denied)")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


# -- fields ------------------------------------------------------------------------------------


class Fields:
    """Typed reads of one record's fields; a wrong type or value raises InvalidInput naming the
    record (its index, the vendor's id and name) and, where it can be found, its line."""

    def __init__(self, shown: str, where: str, raw: Any, line: Callable[[], int] | int = 1):
        self.shown = shown
        self.where = where
        self._line = line
        if not isinstance(raw, dict):
            self.raw: dict = {}
            self.fail(f"is {_kind(raw)}, not an object; is this the right export (--format)?")
        self.raw = raw
        ident = raw.get("id")
        self.label = where + (f" (id {bounded(str(ident), 64)!r})" if ident is not None else "")

    def fail(self, message: str):
        line = self._line() if callable(self._line) else self._line
        raise fail(self.shown, getattr(self, "label", self.where), message, line)

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(f"{key} is {_kind(value)}; expected text")
        out = " ".join(str(value).split())
        return out[:MAX_TEXT] if out else None

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key)
        if value is None or value == "":
            return ()
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            self.fail(f"{key} is {_kind(value)}; expected a list of text")
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                self.fail(f"{key} holds {_kind(item)}; expected text")
            if str(item).strip():
                out.append(" ".join(str(item).split())[:MAX_TEXT])
        return tuple(out)

    def ips(self, key: str) -> tuple[str, ...]:
        return tuple(self.ip(v, key) for v in self.texts(key))

    def ip(self, value: str, key: str) -> str:
        value = value.strip()
        if _QUAD.fullmatch(value):  # the common case, without constructing an address
            return value
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            try:
                ipaddress.IPv6Address(value.strip())
                return str(ipaddress.IPv6Address(value.strip()))
            except ValueError:
                self.fail(f"{key} {bounded(value, 80)!r} is not an IP address")
        raise AssertionError  # pragma: no cover

    def macs(self, key: str) -> tuple[str, ...]:
        out = []
        for value in self.texts(key):
            low = value.strip().lower()
            if not _MAC.match(low):
                self.fail(f"{key} {bounded(value, 80)!r} is not a MAC address")
            hexes = re.sub(r"[^0-9a-f]", "", low)
            out.append(":".join(hexes[i : i + 2] for i in range(0, 12, 2)))
        return tuple(out)

    def level(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value is None or str(value).strip().casefold() in _NO_LEVEL:
            return None
        try:
            level = float(str(value).strip().removeprefix("L").removeprefix("l"))
        except ValueError:
            self.fail(f"{key} {bounded(str(value), 40)!r} is not a Purdue level (0 to 5)")
        if not 0 <= level <= 5:
            self.fail(f"{key} {value!r} is not a Purdue level (0 to 5)")
        return level

    def moment(self, key: str) -> datetime | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        moment = parse_moment(value)
        if moment is None:
            self.fail(
                f"{key} {bounded(str(value), 60)!r} is not a time (RFC 3339, or seconds or "
                "milliseconds since 1970)"
            )
        return moment


def ipv4_int(text: str) -> int | None:
    """The integer of a dotted IPv4 address the readers returned; None for anything else (an
    IPv6 address)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    try:
        a, b, c, d = map(int, parts)
    except ValueError:
        return None
    if a | b | c | d > 255 or min(a, b, c, d) < 0:
        return None
    return (a << 24) | (b << 16) | (c << 8) | d


def parse_moment(value: Any) -> datetime | None:
    """RFC 3339 text (naive read as UTC) or an epoch number (seconds, or milliseconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return parse_moment(float(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- JSON, streamed ----------------------------------------------------------------------------


def first_keys(
    path: Path, shown: str, stop: frozenset | set = frozenset()
) -> tuple[str, list[str]]:
    """('object', its top-level keys up to the first one in `stop`) or ('array', []) or
    ('other', []): which vendor's shape a file is, told before it is streamed (a records list
    under another key is walked over, never built)."""
    keys: list[str] = []
    try:
        with path.open("rb") as fh:
            for prefix, event, value in ijson.parse(fh):
                if prefix == "" and event == "start_array":
                    return "array", []
                if prefix == "" and event == "map_key":
                    keys.append(value)
                    if value in stop:
                        break
                elif prefix == "" and event not in ("start_map", "end_map"):
                    return "other", []
                if prefix == "" and event == "end_map":
                    break
    except ijson.JSONError as exc:
        if not keys:
            raise fail(shown, "", f"is not JSON ({_reason(exc)})") from None
    except UnicodeDecodeError:
        raise fail(shown, "", "is not UTF-8 JSON") from None
    return "object", keys


def items(path: Path, shown: str, key: str | None) -> Iterator[tuple[int, str, Any]]:
    """(index, where, value) of the array at top-level `key` (None: the top-level array), one at
    a time. A truncated or malformed file raises InvalidInput after the last good record."""
    prefix = f"{key}.item" if key else "item"
    name = key or ""
    index = -1
    with path.open("rb") as fh:
        try:
            for index, value in enumerate(ijson.items(fh, prefix, use_float=True)):
                yield index, f"{name}[{index}]", value
        except (ijson.JSONError, ijson.IncompleteJSONError) as exc:
            after = f"after record {name}[{index}]" if index >= 0 else "before its first record"
            raise fail(
                shown,
                "",
                f"is truncated or not valid JSON {after} ({_reason(exc)}); export it again",
                line=_error_line(path, key, index + 1) or 1,
            ) from None
        except UnicodeDecodeError:
            raise fail(shown, "", f"is not UTF-8 (after record {name}[{index}])") from None


def _reason(exc: Exception) -> str:
    return bounded(str(exc).strip() or type(exc).__name__, 160)


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"\s*(:)?|[\[\]{}]')
_LINE_LIMIT = 1 << 20


def item_line(path: Path, key: str | None, index: int) -> int | None:
    """The line on which item `index` of the records array starts (the error path only: a
    second, token-level pass that stops there). None when it cannot be told (a minified file's
    one long line, or fewer items)."""
    stack: list[str] = []  # 'o' object, 'a' array, 'T' the records array
    pending: str | None = None  # the last key read in the current object
    count = -1
    with path.open(encoding="utf-8", errors="replace") as fh:
        lineno = 0
        while True:
            line = fh.readline(_LINE_LIMIT)
            if not line:
                return None
            lineno += 1
            if len(line) >= _LINE_LIMIT and not line.endswith("\n"):
                return 1 if lineno == 1 and index == 0 else None
            for m in _TOKEN.finditer(line):
                tok = m.group()
                if tok[0] == '"':
                    if m.group(1):
                        pending = tok[1 : tok.rindex('"')]
                    elif stack and stack[-1] == "T":
                        count += 1
                        if count == index:
                            return lineno
                    continue
                if tok in "[{":
                    if stack and stack[-1] == "T":
                        count += 1
                        if count == index:
                            return lineno
                    target = tok == "[" and (
                        (key is None and not stack) or (key and stack == ["o"] and pending == key)
                    )
                    stack.append("T" if target else ("o" if tok == "{" else "a"))
                    pending = None
                else:
                    if stack:
                        stack.pop()
                    pending = None


def liner(path: Path, key: str | None, index: int) -> Callable[[], int]:
    """The line of a records item, worked out only when a message needs it."""
    return lambda: item_line(path, key, index) or 1


def _error_line(path: Path, key: str | None, index: int) -> int | None:
    """Where a stream broke: the line of the record after the last good one, or the last line."""
    try:
        found = item_line(path, key, index)
        if found is not None:
            return found
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) + 1
    except OSError:
        return None
