"""What passive OT monitoring saw on the plant network, read from its exports.

One small reader per vendor shape (Nozomi Guardian assets and links, Claroty CTD assets,
Microsoft Defender for IoT devices, a plain CSV), each streaming its file record by record with
bounded memory (ijson for JSON, the csv module line by line) into `Asset` and `Link` values.
Bad input (a truncated file, another vendor's shape, an address that is not one, a file over
MAX_BYTES) raises InvalidInput naming the record. This package knows nothing of the inventory:
it imports plantctl.core only; plantctl.reports.drift compares.
"""

from __future__ import annotations

from plantctl.monitoring.base import (
    FORMATS,
    MAX_BYTES,
    RULE,
    Asset,
    Export,
    Link,
)
from plantctl.monitoring.read import detect, links, open_export

__all__ = [
    "FORMATS",
    "MAX_BYTES",
    "RULE",
    "Asset",
    "Export",
    "Link",
    "detect",
    "links",
    "open_export",
]
