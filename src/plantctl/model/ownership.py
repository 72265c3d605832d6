"""Who is accountable: zone override, then site override, then the company default."""

from __future__ import annotations

from typing import Any

from plantctl.model.inventory import Inventory

RESPONSIBILITIES = (
    "machine-data-requirements",
    "sensor-gateway-health",
    "network-connectivity",
    "user-access",
    "cybersecurity-controls",
    "dashboard-usage",
    "reason-code-updates",
    "vendor-support-coordination",
    "training",
    "data-accuracy",
    "change-approvals",
)


def resolve(inv: Inventory, site: str | None = None, zone: str | None = None) -> dict[str, Any]:
    """Responsibility -> team id (change-approvals -> {it, operations}) at one place."""
    data = inv.ownership.data
    merged = dict(data["defaults"])
    over = data.get("sites", {}).get(site, {}) if site else {}
    merged.update(over.get("responsibilities", {}))
    if zone:
        merged.update(over.get("zones", {}).get(zone, {}))
    return merged


def owner_of(
    inv: Inventory, responsibility: str, site: str | None = None, zone: str | None = None
) -> str:
    value = resolve(inv, site, zone).get(responsibility)
    if isinstance(value, dict):
        return "+".join(value[k] for k in sorted(value))
    return value or "(unowned)"
