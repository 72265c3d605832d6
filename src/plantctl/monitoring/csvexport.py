"""A plain CSV for every other tool: a header line `ip,mac,name,vendor,model,firmware,protocol,
last_seen` (columns in any order, ip required), one asset a line; several addresses, MACs or
protocols in one cell are separated by `;`."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from plantctl.monitoring.base import Asset, Fields, fail

COLUMNS = ("ip", "mac", "name", "vendor", "model", "firmware", "protocol", "last_seen")
SHAPE = "a CSV with the header " + ",".join(COLUMNS)
MAX_LINE = 64 * 1024


def header_ok(first_line: str) -> bool:
    cols = {c.strip().lower() for c in first_line.strip().lstrip("\ufeff").split(",")}
    return "ip" in cols and len(cols & set(COLUMNS)) >= 2


def assets(path: Path, shown: str) -> Iterator[Asset]:
    with path.open(encoding="utf-8", newline="") as fh:
        try:
            first = fh.readline(MAX_LINE)
            if not header_ok(first):
                raise fail(shown, "line 1", f"no CSV header with an ip column; expected {SHAPE}")
            header = [c.strip().lower() for c in first.strip().lstrip("\ufeff").split(",")]
            reader = csv.reader(_bounded_lines(fh, shown))
            for row in reader:
                line = reader.line_num + 1
                if not any(cell.strip() for cell in row):
                    continue
                where = f"line {line}"
                if len(row) > len(header):
                    raise fail(
                        shown, where, f"{len(row)} cells, the header has {len(header)}", line
                    )
                raw = {
                    k: [c for c in v.split(";") if c.strip()]
                    if k in ("ip", "mac", "protocol")
                    else v
                    for k, v in zip(header, row, strict=False)
                }
                f = Fields(shown, where, raw, line)
                ips = f.ips("ip")
                if not ips:
                    f.fail("no ip: every line needs the asset's address")
                yield Asset(
                    source=shown,
                    where=where,
                    vendor_id=None,
                    name=f.text("name") or ips[0],
                    ips=ips,
                    macs=f.macs("mac"),
                    vendor=f.text("vendor"),
                    model=f.text("model"),
                    firmware=f.text("firmware"),
                    protocols=f.texts("protocol"),
                    last_seen=f.moment("last_seen"),
                    line=line,
                )
        except UnicodeDecodeError:
            raise fail(shown, "", "is not UTF-8 text") from None
        except csv.Error as exc:
            raise fail(shown, "", f"is not a valid CSV ({exc})") from None


def _bounded_lines(fh, shown: str) -> Iterator[str]:
    number = 1
    while True:
        line = fh.readline(MAX_LINE)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE and not line.endswith("\n"):
            raise fail(shown, f"line {number}", f"is longer than {MAX_LINE} characters", number)
        yield line
