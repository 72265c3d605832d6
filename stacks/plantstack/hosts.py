"""Production target for the broker and the bastion: their generated configuration, written for
the Ansible roles that install those hosts (Debian VMs in the DMZ and remote-access VLANs).

The plant's own PKI issues the broker's and clients' certificates and its people's SSH keys come
from the `plantctl:sshKeys` configuration: no key material is generated or stored here.
"""

from __future__ import annotations

import pulumi

from plantctl.plant.broker_access import BrokerAccess
from plantctl.plant.grants import RemoteAccess as Plan
from plantctl.providers.files import RenderedFiles
from plantstack.broker import listeners
from plantstack.remote_access import entry_record


class HostFilesTarget:
    def __init__(self, directory: str):
        self.directory = directory.rstrip("/")

    def broker(self, parent, access: BrokerAccess, conf: str, acl: str) -> dict:
        files = RenderedFiles(
            f"{access.site}-broker-config",
            f"{self.directory}/{access.broker_id}",
            {"mosquitto.conf": conf, "acl": acl},
            {"kind": "broker", "id": access.broker_id, "listeners": listeners(access)},
            pulumi.ResourceOptions(parent=parent),
        )
        return {"config": files}

    def bastion(self, parent, plan: Plan, files: pulumi.Output, sshd: str) -> dict:
        rendered = files.apply(
            lambda keys: {
                "sshd_config": sshd,
                **{f"authorized_keys.{a}": t for a, t in keys.items()},
            }
        )
        res = RenderedFiles(
            f"{plan.site}-bastion-config",
            f"{self.directory}/{plan.bastion_id}",
            rendered,
            {
                "kind": "bastion",
                "id": plan.bastion_id,
                "entries": [entry_record(e) for e in plan.entries],
            },
            pulumi.ResourceOptions(parent=parent),
        )
        return {"config": res}
