"""SegmentedNetwork: a site's zones and, as firewall rules, its declared conduits; default deny."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi

from plantctl.plant.segmentation import Segmentation


class NetworkTarget(Protocol):
    """Where the zones and rules are realised: `declare` creates children of `parent`."""

    def network(self, parent: pulumi.ComponentResource, seg: Segmentation) -> dict: ...


@dataclass
class SegmentedNetworkArgs:
    segmentation: Segmentation
    target: NetworkTarget


class SegmentedNetwork(pulumi.ComponentResource):
    """Zones (one network each) and one allow rule per conduit service; all else is dropped."""

    def __init__(
        self, name: str, args: SegmentedNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("plantctl:network:SegmentedNetwork", name, None, opts)
        seg = args.segmentation
        self.zones = {z.id: z.cidr for z in seg.zones}
        self.rules = [f.as_dict() for f in seg.flows]
        self.children = args.target.network(self, seg)
        self.register_outputs(
            {
                "site": seg.site,
                "zones": self.zones,
                "rules": [r["name"] for r in self.rules],
                "default_policy": "drop",
            }
        )
