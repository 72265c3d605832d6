"""Claroty CTD: `GET /ranger/assets` answers {"count_filtered", "count_in_page", "count_total",
"objects": [...]} with assets {id, name, ipv4, mac, vendor, firmware, asset_type__, class_type,
criticality__, site_name, virtual_zone_name, last_seen}."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from plantctl.monitoring.base import Asset, Fields, items, liner

KEY = "objects"
SIGNATURE = frozenset({"objects", "count_filtered", "count_in_page", "count_total"})
SHAPE = '{"count_filtered", "count_in_page", "count_total", "objects": [...]} (Claroty CTD assets)'


def assets(path: Path, shown: str) -> Iterator[Asset]:
    for index, where, raw in items(path, shown, KEY):
        f = Fields(shown, where, raw, liner(path, KEY, index))
        ips = f.ips("ipv4")
        yield Asset(
            source=shown,
            where=where,
            vendor_id=f.text("id"),
            name=f.text("name") or (ips[0] if ips else None),
            ips=ips,
            macs=f.macs("mac"),
            vendor=f.text("vendor"),
            model=f.text("model"),
            firmware=f.text("firmware"),
            type=f.text("asset_type__"),
            site=f.text("site_name"),
            zone=f.text("virtual_zone_name"),
            serial=f.text("serial"),
            last_seen=f.moment("last_seen"),
        )
