"""The plant program: read the validated inventory once, declare one component per concept.

Stack configuration (`plantctl:site`, `plantctl:target`, ...): see stacks/README.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pulumi

from plantctl.model.inventory import Inventory
from plantctl.model.loader import load
from plantctl.plant import broker_access, grants, segmentation
from plantstack.broker import Broker, BrokerArgs
from plantstack.remote_access import RemoteAccess, RemoteAccessArgs
from plantstack.segmented_network import SegmentedNetwork, SegmentedNetworkArgs

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("lab", "meraki")


@dataclass
class Settings:
    site: str
    target: str
    inventory: Path
    now: datetime | None
    config: pulumi.Config

    @classmethod
    def from_config(cls) -> Settings:
        cfg = pulumi.Config("plantctl")
        stack = pulumi.get_stack()
        site = cfg.get("site") or stack.removeprefix("lab-")
        target = cfg.get("target") or ("lab" if stack.startswith("lab-") else "meraki")
        if target not in TARGETS:
            raise ValueError(f"plantctl:target {target!r} is not one of {', '.join(TARGETS)}")
        inventory = Path(
            cfg.get("inventory") or os.environ.get("PLANTCTL_INVENTORY") or REPO / "inventory"
        )
        now_text = cfg.get("now")
        now = grants.parse_time(now_text) if now_text else None
        return cls(site, target, inventory, now, cfg)


def declare(inv: Inventory, settings: Settings, target) -> dict:
    """The three components of one site on one target; returns them by name."""
    site = settings.site
    if inv.get("site", site) is None:
        raise ValueError(f"site {site!r} is not in the inventory (sites: {', '.join(inv.sites())})")
    seg = segmentation.build(inv, site)
    network = SegmentedNetwork(f"{site}-network", SegmentedNetworkArgs(seg, target))
    after_network = pulumi.ResourceOptions(depends_on=[network])
    out = {"network": network}
    try:
        access = broker_access.build(inv, site)
    except KeyError:
        access = None
    if access is not None:
        out["broker"] = Broker(f"{site}-broker", BrokerArgs(access, target), after_network)
    logins = sorted({g.data["person"] for g in inv.of("grant").values() if g.data["site"] == site})
    keys = target.public_keys(logins)
    try:
        plan = grants.build(
            inv,
            site,
            keys,
            now=settings.now,
            include_ended=getattr(target, "include_ended_grants", False),
        )
    except KeyError:
        plan = None
    if plan is not None:
        out["remote_access"] = RemoteAccess(
            f"{site}-remote-access", RemoteAccessArgs(plan, keys, target), after_network
        )
    return out


def make_target(settings: Settings):
    if settings.target == "meraki":
        from plantstack.hosts import HostFilesTarget
        from plantstack.meraki import MerakiTarget

        class Production(MerakiTarget, HostFilesTarget):
            def __init__(self, network_id: str, directory: str, keys: dict):
                MerakiTarget.__init__(self, network_id)
                HostFilesTarget.__init__(self, directory)
                self.keys = keys

            def public_keys(self, logins):
                return {login: self.keys[login] for login in logins if login in self.keys}

        cfg = settings.config
        keys = json.loads(cfg.get("sshKeys") or "{}")
        directory = cfg.get("configDir") or str(REPO / "out" / settings.site)
        return Production(cfg.require("merakiNetworkId"), directory, keys)
    from plantstack.lab import LabTarget

    return LabTarget.from_config(settings)


def main() -> dict:
    settings = Settings.from_config()
    inv = load(settings.inventory)
    target = make_target(settings)
    components = declare(inv, settings, target)
    extra = getattr(target, "finish", None)
    if extra is not None:
        extra(inv, settings, components)
    pulumi.export("site", settings.site)
    pulumi.export("target", settings.target)
    pulumi.export("zones", components["network"].zones)
    if "remote_access" in components:
        pulumi.export("grants", [e.grant for e in components["remote_access"].plan.entries])
    return components
