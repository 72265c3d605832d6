"""Broker: the site's MQTT broker: TLS listeners, accounts, ACLs from the data-access rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi

from plantctl.configs import mosquitto, mosquitto_bridge
from plantctl.plant.bridges import SiteBridge
from plantctl.plant.broker_access import BrokerAccess


class BrokerTarget(Protocol):
    def broker(
        self, parent: pulumi.ComponentResource, access: BrokerAccess, conf: str, acl: str
    ) -> dict: ...


@dataclass
class BrokerArgs:
    access: BrokerAccess
    target: BrokerTarget
    config_dir: str = "/etc/mosquitto/plant"
    # The site's bridge to the enterprise broker (plant/bridges.py); the target installs its
    # client certificate and the enterprise CA as bridge.crt, bridge.key, bridge-ca.crt.
    bridge: SiteBridge | None = None
    persistence_dir: str = "/var/lib/mosquitto"


def listeners(access: BrokerAccess) -> list[dict]:
    return [
        {
            "address": lst.address,
            "port": lst.port,
            "tls": lst.tls,
            "require_certificate": lst.require_certificate,
        }
        for lst in access.listeners
    ]


def accounts(access: BrokerAccess) -> list[dict]:
    return [
        {"username": a.username, "kind": a.kind, "read": list(a.read), "write": list(a.write)}
        for a in access.accounts
    ]


class Broker(pulumi.ComponentResource):
    """Mosquitto: TLS listeners only, client certificates as accounts, the generated ACL file."""

    def __init__(self, name: str, args: BrokerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("plantctl:broker:Broker", name, None, opts)
        access = args.access
        bridged = args.bridge is not None and bool(args.bridge.classes)
        self.conf = mosquitto.render_conf(
            access, args.config_dir, args.persistence_dir if bridged else None
        )
        if args.bridge is not None:
            self.conf += mosquitto_bridge.render_bridge(args.bridge, args.config_dir)
        self.acl = mosquitto.render_acl(access)
        self.children = args.target.broker(self, access, self.conf, self.acl)
        outputs = {
            "broker": access.broker_id,
            "listeners": listeners(access),
            "accounts": [a.username for a in access.accounts],
        }
        if args.bridge is not None:
            outputs["bridge"] = list(args.bridge.topics)
        self.register_outputs(outputs)
