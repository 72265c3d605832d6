"""The stack program on the Meraki (production) target under Pulumi's mock runtime, for tests.

`meraki_program(config_dir, preview, ssh_keys)` sets fresh mocks, a fresh event loop and the
stack's configuration for `ridgeway`, then imports the program (it must be imported only once
the mocks are set) and yields it with the `Recorder` of what it registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pulumi

ROOT = Path(__file__).resolve().parents[1]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheMockTestOnly0000000000000000000"
NOW = "2026-11-22T12:00:00Z"


class Recorder(pulumi.runtime.Mocks):
    def __init__(self):
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def of(self, typ: str) -> list:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str):
        [found] = self.of(typ)
        return found.inputs


@contextlib.contextmanager
def meraki_program(
    config_dir: Path, *, preview: bool, ssh_keys: dict[str, str]
) -> Iterator[tuple[object, Recorder]]:
    # Pulumi's runtime needs a current event loop (an earlier asyncio.run() leaves none), and a
    # root stack left by an earlier test waits on that test's loop: each test gets its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.settings.set_root_resource(None)
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="plant", stack="ridgeway", preview=preview)
    pulumi.runtime.set_all_config(
        {
            "plantctl:target": "meraki",
            "plantctl:inventory": str(ROOT / "inventory"),
            "plantctl:merakiNetworkId": "L_1234",
            "plantctl:configDir": str(config_dir),
            "plantctl:now": NOW,
            "plantctl:sshKeys": json.dumps(ssh_keys),
        }
    )
    from plantstack import program

    try:
        yield program, mocks
    finally:
        asyncio.set_event_loop(None)
        loop.close()
