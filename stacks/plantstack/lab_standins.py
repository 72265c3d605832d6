"""Lab-only components: the people's SSH keys and the hardware stand-ins of a site.

Nothing here is part of a plant's definition; only the `lab` target declares these.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from plantctl.lab import standins
from plantctl.model.inventory import Inventory
from plantctl.plant.segmentation import Segmentation
from plantctl.providers.lab import Host, KeyPair


@dataclass
class LabPeopleArgs:
    logins: list[str]
    directory: str


class LabPeople(pulumi.ComponentResource):
    """An SSH key pair per person with a grant at the site, made at apply time (lab only)."""

    def __init__(self, name: str, args: LabPeopleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("plantctl:lab:People", name, None, opts)
        self.keys = {
            login: KeyPair(
                f"{name}-{login.lower()}",
                directory=args.directory,
                login=login,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for login in args.logins
        }
        self.public_keys = {login: kp.public_key for login, kp in self.keys.items()}
        self.children = {"keys": self.keys}
        self.register_outputs({"people": sorted(self.keys)})


@dataclass
class LabStandInsArgs:
    inventory: Inventory
    site: str
    segmentation: Segmentation
    target: object  # the LabTarget whose network the stand-ins join


class LabStandIns(pulumi.ComponentResource):
    """PLC simulators, gateway stand-ins and client hosts at the site's documented addresses."""

    def __init__(
        self, name: str, args: LabStandInsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("plantctl:lab:StandIns", name, None, opts)
        self.standins = standins.build(args.inventory, args.site, args.segmentation)
        self.hosts = {
            s.name: Host(
                f"{args.site}-standin-{s.name}",
                {
                    **args.target.host(s.name, s.zone, s.address),
                    "ports": list(s.ports),
                    "plc": s.plc,
                },
                pulumi.ResourceOptions(parent=self),
            )
            for s in self.standins
        }
        self.children = {"hosts": self.hosts}
        self.register_outputs({"hosts": sorted(self.hosts)})
