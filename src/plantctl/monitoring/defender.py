"""Microsoft Defender for IoT sensor: `GET /api/v1/devices` answers a list of devices {id,
ipAddresses, name, type, macAddresses, operatingSystem, vendor, protocols: [{name, addresses}],
firmware: [{serial, model, firmwareVersion, ...}]}."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from plantctl.monitoring.base import Asset, Fields, items, liner

SHAPE = "a list of devices [{id, ipAddresses, name, macAddresses, ...}] (Defender for IoT sensor)"


def assets(path: Path, shown: str) -> Iterator[Asset]:
    for index, where, raw in items(path, shown, None):
        f = Fields(shown, where, raw, liner(path, None, index))
        if "ipAddresses" not in f.raw and "macAddresses" not in f.raw:
            f.fail("has neither ipAddresses nor macAddresses: not a Defender for IoT device")
        protocols = f.raw.get("protocols") or []
        if not isinstance(protocols, list) or not all(isinstance(p, dict) for p in protocols):
            f.fail("protocols must be a list of {name, addresses}")
        firmware = f.raw.get("firmware") or []
        if not isinstance(firmware, list) or not all(isinstance(p, dict) for p in firmware):
            f.fail("firmware must be a list of {serial, model, firmwareVersion}")
        first = Fields(shown, f"{where}.firmware[0]", firmware[0]) if firmware else None
        ips = f.ips("ipAddresses")
        yield Asset(
            source=shown,
            where=where,
            vendor_id=f.text("id"),
            name=f.text("name") or (ips[0] if ips else None),
            ips=ips,
            macs=f.macs("macAddresses"),
            vendor=f.text("vendor"),
            model=first.text("model") if first else None,
            firmware=first.text("firmwareVersion") if first else None,
            serial=first.text("serial") if first else None,
            protocols=tuple(
                Fields(shown, f"{where}.protocols[{i}]", p).text("name") or ""
                for i, p in enumerate(protocols)
            ),
            type=f.text("type"),
            last_seen=f.moment("lastActivity"),
        )
