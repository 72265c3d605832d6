"""Nozomi Networks Guardian: `GET /api/open/query/do?query=assets` answers
{"result": [...], "header": [...], "total": N}; `query=links` answers the same envelope with
links {from, to, protocol, transport_protocols, ...}."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from plantctl.monitoring.base import Asset, Fields, Link, items, liner

KEY = "result"
SIGNATURE = frozenset({"result", "header", "total"})
SHAPE = '{"result": [...], "header": [...], "total": N} (Nozomi Guardian query=assets)'


def assets(path: Path, shown: str) -> Iterator[Asset]:
    for index, where, raw in items(path, shown, KEY):
        f = Fields(shown, where, raw, liner(path, KEY, index))
        ips = f.ips("ip")
        yield Asset(
            source=shown,
            where=where,
            vendor_id=f.text("id"),
            name=f.text("name")
            or (ips[0] if ips else None),  # Guardian's name falls back to the IP
            ips=ips,
            macs=f.macs("mac_address"),
            vendor=f.text("vendor"),
            model=f.text("product_name"),
            firmware=f.text("firmware_version"),
            level=f.level("level"),
            protocols=f.texts("protocols"),
            type=f.text("type"),
            zone=(f.texts("zones") or (None,))[0],
            serial=f.text("serial_number"),
            vlan=(f.texts("vlan_id") or (None,))[0],
            last_seen=f.moment("last_activity_time"),
        )


def links(path: Path, shown: str) -> Iterator[Link]:
    for index, where, raw in items(path, shown, KEY):
        f = Fields(shown, where, raw, liner(path, KEY, index))
        src, dst = f.text("from") or "", f.text("to") or ""
        if not src or not dst:
            f.fail("a link needs both from and to addresses")
        transports = f.texts("transport_protocols")
        port = f.raw.get("port", f.raw.get("to_port"))
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, (int, float)) or not 0 < port < 65536
        ):
            f.fail(f"port {port!r} is not a port number")
        yield Link(
            source=shown,
            where=where,
            src=f.ip(src, "from"),
            dst=f.ip(dst, "to"),
            protocol=(f.text("protocol") or "").lower() or None,
            transport=transports[0].lower() if transports else None,
            port=int(port) if port is not None else None,
        )
