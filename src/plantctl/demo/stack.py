"""The demo's lab: the Pulumi lab stack of a site (stacks/, the application's runner run as a
child process, as `make lab-up` does) on a private copy of the sample inventory.

The copy adds only what a real plant has outside the repository or on another day: an SSH key
for the network admin who converges the gateways (people's keys are not in the sample), one
remote-access grant per gateway for that admin (the bastion is the only way to a gateway), and a
vendor grant whose window ends a few minutes after the lab is up; and, when the sample has none,
the `gateway-health` data class, so that the collectors publish their own health. Everything
lives under `.state/demo/<site>/` (git-ignored): the inventory copy, the Pulumi backend, the
lab's keys and certificates. The stack's names carry the prefix `demo<site>`, apart from
`make lab-up`'s lab and from every test's, so they run side by side.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netaddr import IPAddress, IPNetwork

from plantctl.collector.config import HEALTH_CLASS
from plantctl.lab import verify
from plantctl.lab.netns import Namespace
from plantctl.lab.network import Switch
from plantctl.model import ownership, protocols
from plantctl.model.inventory import Inventory
from plantctl.plant import segmentation
from plantctl.providers.lab import check_prefix, run_dir, stack_prefix

REPO = Path(__file__).resolve().parents[3]
STACKS = REPO / "stacks"
ADMIN_ROLE = "network-admin"  # who administers gateways (inventory/org/roles.yaml)
# The vendor grant's window ends on the first whole minute at least this long after the copy is
# written (sshd's expiry-time counts minutes): after the lab is up (30-60 s here), about when
# the story reaches the grant's step (after the converge), so that it seldom waits for the end.
VENDOR_LEAD_S = 120
STACK_TIMEOUT_S = 600
# Who views gateway health in the demo's copy: maintenance keeps the gateways healthy, IT runs
# them and the broker, and the plant manager reads the review (device health beside the goals,
# whose metrics that role views too: the review's snapshot is taken with its certificate).
HEALTH_VIEWERS = ("maintenance-technician", "network-admin", "plant-manager")


class StackFailed(RuntimeError):
    pass


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DemoGrant:
    id: str
    person: str
    target: str
    port: int
    start: datetime
    end: datetime
    vendor: bool = False
    mfa: bool = True

    def yaml(self, site: str, bastion: str, approver: dict, purpose: str) -> str:
        return (
            f"  - id: {self.id}\n    person: {self.person}\n    site: {site}\n"
            f"    target: {self.target}\n"
            f"    services: [{{protocol: tcp, port: {self.port}}}]\n"
            f"    start: {_stamp(self.start)}\n    end: {_stamp(self.end)}\n"
            f"    ticket: DEMO-{self.id[-4:]}\n    justification: {purpose}\n"
            f"    via: {bastion}\n    mfa: {str(self.mfa).lower()}\n"
            f"    session_recording: {str(self.vendor).lower()}\n"
            f"    approvals:\n      - {{person: {approver['person']}, team: {approver['team']}, "
            f"date: {self.start:%Y-%m-%d}}}\n"
        )


@dataclass
class DemoStack:
    site: str
    work: Path
    prefix: str
    admin: str = ""
    admin_grants: dict[str, DemoGrant] = field(default_factory=dict)  # gateway -> grant
    vendor_grant: DemoGrant | None = None

    @classmethod
    def of(cls, site: str, work: Path | None = None, prefix: str | None = None) -> DemoStack:
        """Defaults: .state/demo/<site>/ and demo<site>; a test passes its own (its own lab)."""
        return cls(
            site,
            work or REPO / ".state" / "demo" / site,
            check_prefix(prefix or stack_prefix(f"demo-{site}")),
        )

    @property
    def stack(self) -> str:
        return f"lab-{self.prefix}"

    # -- where things are -------------------------------------------------------------------

    @property
    def inventory(self) -> Path:
        return self.work / "inventory"

    @property
    def state(self) -> Path:
        """The lab state directory: people's keys, the broker PKI, the bastion's CA and seeds."""
        return self.work / "lab"

    @property
    def keys(self) -> Path:
        """The demo's own keys: the gateways' provisioning key and the admin's."""
        return self.work / "keys"

    @property
    def run_dir(self) -> Path:
        return run_dir(self.prefix)

    def is_up(self) -> bool:
        return Namespace(f"{self.prefix}-{self.site}-rt").exists()

    @staticmethod
    def available() -> str | None:
        """Why the lab cannot run from this installation, or None."""
        if not (STACKS / "plantstack" / "run.py").exists():
            return f"no stacks/ beside {REPO / 'src'} (run from a checkout)"
        if not shutil.which("pulumi") and not (REPO / ".tools" / "bin" / "pulumi").exists():
            return "no pulumi CLI (make setup builds it into .tools/bin)"
        return None

    # -- the inventory copy -----------------------------------------------------------------

    def write_inventory(self, inv: Inventory, gateways: list[str], now: datetime) -> None:
        """The sample plus the admin's key, the admin's grants and the vendor's grant."""
        if self.inventory.exists():
            shutil.rmtree(self.inventory)
        shutil.copytree(REPO / "inventory", self.inventory)
        self.keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.admin = admin_of(inv, self.site)
        for name in ("provision", self.admin):
            key = self.keys / name
            if not key.exists():
                subprocess.run(
                    [
                        "ssh-keygen",
                        "-q",
                        "-t",
                        "ed25519",
                        "-N",
                        "",
                        "-C",
                        f"demo-{name}",
                        "-f",
                        str(key),
                    ],
                    check=True,
                )
        people = self.inventory / "org" / "people.yaml"
        pub = (self.keys / f"{self.admin}.pub").read_text().split()
        text, n = re.subn(
            rf"(\{{login: {self.admin}, [^}}]*)\}}",
            rf'\1, ssh_public_key: "{pub[0]} {pub[1]}"}}',
            people.read_text(),
        )
        if n != 1:
            raise StackFailed(f"{people}: no single entry of {self.admin} for the demo's key")
        people.write_text(text)

        bastion = site_service(inv, self.site, "bastion")["id"]
        vendor, target, port, approver = _vendor_grant(inv, self.site)
        start = now - timedelta(minutes=10)
        self.admin_grants = {
            gw: DemoGrant(f"g-demo-{9101 + i}", self.admin, gw, 22, start, now + timedelta(hours=2))
            for i, gw in enumerate(gateways)
        }
        end = (now + timedelta(seconds=VENDOR_LEAD_S + 59)).replace(second=0, microsecond=0)
        self.vendor_grant = DemoGrant("g-demo-9201", vendor, target, port, start, end, vendor=True)
        added = [
            g.yaml(self.site, bastion, approver, f"Demo converge of {g.target} by the admin")
            for g in self.admin_grants.values()
        ]
        added.append(self.vendor_grant.yaml(self.site, bastion, approver, "Demo vendor session"))
        # Each gateway through its own grant's bastion login (gateways.py writes the hops), not
        # the plugin's one ProxyJump per site: the bastion's accounts are per grant.
        (self.inventory / "plantctl.ansible.yml").write_text(
            "# the demo's copy (plantctl.demo.stack): hops to the bastion from its ssh config\n"
            "plugin: plantctl\nproxy_jump: false\n"
        )
        grants = self.inventory / "access" / "grants.yaml"
        grants.write_text(grants.read_text().rstrip("\n") + "\n" + "".join(added))
        self._adopt_health(inv)

    def _adopt_health(self, inv: Inventory) -> None:
        """The health data class, when the sample has none: the collectors then publish their
        own health (collector_config, broker_access), which the review's plant section reads."""
        if inv.get("data_class", HEALTH_CLASS) is not None:
            return
        owner = ownership.resolve(inv, self.site)["sensor-gateway-health"]
        viewers = ", ".join(HEALTH_VIEWERS)
        classes = self.inventory / "data_classes.yaml"
        classes.write_text(
            classes.read_text().rstrip("\n")
            + f"\n  - id: {HEALTH_CLASS}\n    name: Gateway health\n    owner: {owner}\n"
            f"    viewers: [{viewers}]\n    editors: []\n    exporters: []\n"
            "    retention: {days: 90, min_days: 30, max_days: 365}\n"
            f"    official_reports: false\n    correction_owner: {owner}\n"
            f"    dashboard_change_approver: {owner}\n    leaves_site: false\n"
        )

    # -- the stack --------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        backend = self.work / "pulumi"
        backend.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(STACKS), os.environ.get("PYTHONPATH")) if p
            ),
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_HOME": os.environ.get("PULUMI_HOME", str(REPO / ".state" / "pulumi-home")),
            "PULUMI_SKIP_UPDATE_CHECK": "1",
        }

    def run(self, action: str) -> dict:
        """One action of the runner (up, destroy); its JSON result, or StackFailed."""
        args = [
            sys.executable,
            "-m",
            "plantstack.run",
            action,
            "--stack",
            self.stack,
            "--work-dir",
            str(self.work / "project"),
            "--quiet",
        ]
        if action == "up":
            for key, value in {
                "site": self.site,
                "target": "lab",
                "inventory": str(self.inventory),
                "labPrefix": self.prefix,
                "labStateDir": str(self.state),
            }.items():
                args += ["--set", f"{key}={value}"]
        try:
            done = subprocess.run(
                args,
                cwd=REPO,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=STACK_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StackFailed(f"stack {action} took more than {STACK_TIMEOUT_S} s") from None
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise StackFailed(f"stack {action} of {self.stack} exited {done.returncode}:\n{tail}")
        return json.loads(done.stdout)

    def plug_missing_hosts(self, inv: Inventory) -> list[str]:
        """A bare namespace at the address of each site service the lab stack does not make
        (the stack makes the broker, the bastion and stand-ins; the enterprise broker of issue
        19 is not in it yet), so that its zone has a host: a flow to it is seen to cross the
        firewall (a reset), and IT's sessions to the bastion start there, as from its zone."""
        seg = segmentation.build(inv, self.site)
        made = []
        for h in verify.hosts(inv, self.site, seg):
            ns = Namespace(f"{self.prefix}-{h.name}")
            if ns.exists() or h.zone not in {z.id for z in seg.zones}:
                continue
            router = Namespace(f"{self.prefix}-{self.site}-rt")
            zone = next(z for z in seg.zones if z.id == h.zone)
            net = IPNetwork(zone.cidr)
            # the router's leg in a zone is named after the zone's bridge (lab/network.py)
            legs = json.loads(router.ip("-j", "-4", "addr", "show").stdout)
            bridge = next(
                leg["ifname"]
                for leg in legs
                if any(IPAddress(a["local"]) in net for a in leg.get("addr_info", []))
            )
            switch = Switch(
                h.zone,
                net,
                Namespace(f"{self.prefix}-{self.site}-sw"),
                bridge,
                IPAddress(net.first + 1),
            )
            ns = Namespace.create(ns.name)
            switch.plug(ns, "eth0", "d" + hashlib.sha256(ns.name.encode()).hexdigest()[:12])
            ns.add_address("eth0", switch.prefixed(h.address))
            ns.default_route(str(switch.router_address))
            made.append(f"{h.name} ({h.zone}, {h.address})")
        return made

    def destroy_command(self) -> str:
        return f"plantctl demo --down --site {self.site}"


def site_service(inv: Inventory, site: str, name: str) -> dict:
    """A service of the site record (broker, bastion): id, zone, address, port."""
    rec = inv.get("site", site)
    if rec is None or name not in rec.data.get("services", {}):
        raise StackFailed(f"site {site} has no {name} in its site.yaml")
    return dict(rec.data["services"][name])


def admin_of(inv: Inventory, site: str) -> str:
    """The site's network admin (role bindings): the person who converges its gateways."""
    for rec in sorted(inv.of("binding").values(), key=lambda r: r.key):
        b = rec.data
        if b.get("site") == site and b.get("role") == ADMIN_ROLE:
            return str(b["person"])
    raise StackFailed(f"site {site} has no {ADMIN_ROLE} in inventory/org/role_bindings.yaml")


def _vendor_grant(inv: Inventory, site: str) -> tuple[str, str, int, dict]:
    """Person, device, TCP port and first approval of the site's first vendor grant (the
    sample's HMI over HTTPS): the demo's short grant is modelled on it."""
    for rec in sorted(inv.of("grant").values(), key=lambda r: r.key):
        g = rec.data
        person = inv.get("person", g["person"])
        if g["site"] == site and person is not None and person.data.get("external"):
            for svc in (protocols.resolve(inv, s) for s in g["services"]):
                if svc.get("protocol") == "tcp" and svc.get("port"):
                    return g["person"], g["target"], int(svc["port"]), g["approvals"][0]
    raise StackFailed(f"site {site} has no vendor grant in the sample to model the demo's on")
