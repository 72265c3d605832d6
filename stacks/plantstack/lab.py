"""The `lab` target: the components realised for real on this machine, with the dynamic
providers of plantctl.providers.lab on top of the lab-machine primitive (plantctl.lab).

- SegmentedNetwork: the zones as bridges, the router namespace as the zone firewall, loaded
  with the nftables ruleset rendered from the conduits (default drop).
- Broker: a booted machine in its zone (the DMZ) running Mosquitto with the generated
  configuration and ACL, and certificates from a lab CA made at apply time.
- RemoteAccess: a booted machine in the remote-access zone running sshd with the generated
  configuration, one account per active grant and its restricted, expiring key; for grants with
  `mfa: true` a TOTP code after the key (pam_oath, seeds made at apply time in the state dir);
  every grant's key signed by a bastion SSH CA for the grant's window (start to end), so grants
  that start later are deployed now and sshd admits them from their start; a grant reaper
  (plantctl.configs.grant_reaper) that closes a grant's sessions at its end; the KRL and the
  revocations of `plantctl access revoke` (kept in the state directory, read by every run);
  the forward audit (plantctl.configs.forward_audit): one journal event per forwarded connection.

People's SSH keys and the hardware stand-ins (PLC simulators, gateways, clients) come from the
lab-only components in lab_standins.py, never from the production definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from plantctl.configs import forward_audit, grant_reaper, nftables, pam_oath, ssh_certs
from plantctl.plant.broker_access import BrokerAccess
from plantctl.plant.grants import RemoteAccess as Plan
from plantctl.plant.segmentation import Segmentation
from plantctl.providers import lab_revoke
from plantctl.providers.lab import BootedMachine, Firewall, Pki, ZoneNetwork, stack_prefix
from plantctl.providers.lab_oath import OathSeeds
from plantctl.providers.lab_sshca import UserCa
from plantstack.broker import listeners
from plantstack.remote_access import entry_record

REPO = Path(__file__).resolve().parents[2]
MOSQUITTO_DIR = "/etc/mosquitto/plant"


@dataclass
class LabTarget:
    site: str
    prefix: str
    state_dir: Path
    inventory: Path
    include_ended_grants: bool = False
    user_certificates = True  # the bastion's sshd checks each grant's window (ssh_certs)

    @classmethod
    def from_config(cls, settings) -> LabTarget:
        cfg = settings.config
        state = cfg.get("labStateDir") or str(REPO / ".state" / "lab" / pulumi.get_stack())
        return cls(
            site=settings.site,
            # The stack's own names (two labs side by side never share one), see stack_prefix.
            prefix=cfg.get("labPrefix") or stack_prefix(pulumi.get_stack()),
            state_dir=Path(state),
            inventory=settings.inventory.resolve(),
            include_ended_grants=cfg.get_bool("labIncludeEndedGrants") or False,
        )

    # -- SegmentedNetwork -------------------------------------------------------------------

    def network(self, parent: pulumi.ComponentResource, seg: Segmentation) -> dict:
        self.seg = seg
        self.net = ZoneNetwork(
            f"{seg.site}-zones",
            prefix=self.prefix,
            site=seg.site,
            zones=[{"id": z.id, "cidr": z.cidr} for z in seg.zones],
            supernet=seg.supernet,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.firewall = Firewall(
            f"{seg.site}-firewall",
            router=self.net.router,
            run_dir=self.net.run_dir,
            ruleset=self.net.interfaces.apply(lambda ifs: nftables.render(seg, ifs)),
            declares={
                "kind": "firewall",
                "site": seg.site,
                "default_policy": "drop",
                "rules": [f.as_dict() for f in seg.flows],
            },
            opts=pulumi.ResourceOptions(parent=parent),
        )
        return {"zones": self.net, "firewall": self.firewall}

    def host(self, name: str, zone: str, address: str) -> dict:
        """Inputs that place a lab host (stand-in or machine) in a zone of this network."""
        return {
            "prefix": self.prefix,
            "name": name,
            "zone": zone,
            "address": address,
            "switch": self.net.switches.apply(lambda s: s[zone]),
            "run_dir": self.net.run_dir,
            "generation": self.net.generation,
        }

    # -- Broker -----------------------------------------------------------------------------

    def broker(
        self, parent: pulumi.ComponentResource, access: BrokerAccess, conf: str, acl: str
    ) -> dict:
        [listener] = access.listeners
        pki_dir = self.state_dir / "pki"
        pki = Pki(
            f"{access.site}-broker-pki",
            directory=str(pki_dir),
            server={"id": access.broker_id, "address": listener.address},
            accounts=[a.username for a in access.accounts],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        files = {
            "/etc/mosquitto/mosquitto.conf": {"content": conf, "mode": 0o644},
            f"{MOSQUITTO_DIR}/acl": {"content": acl, "mode": 0o600, "owner": "mosquitto"},
        }
        copies = {
            f"{MOSQUITTO_DIR}/ca.crt": {"source": str(pki_dir / "ca.crt"), "mode": 0o644},
            f"{MOSQUITTO_DIR}/server.crt": {"source": str(pki_dir / "server.crt"), "mode": 0o644},
            f"{MOSQUITTO_DIR}/server.key": {
                "source": str(pki_dir / "server.key"),
                "mode": 0o600,
                "owner": "mosquitto",
            },
        }
        machine = BootedMachine(
            f"{access.site}-broker",
            {
                **self.host(access.broker_id, access.zone, listener.address),
                "services": ["mosquitto.service"],
                "capabilities": [],
                "files": files,
                "copies": copies,
                "copies_digest": pki.fingerprint,
                "accounts": [],
                "on_change": ["systemctl", "restart", "mosquitto.service"],
                "ready_port": listener.port,
                "declares": {
                    "kind": "broker",
                    "id": access.broker_id,
                    "listeners": listeners(access),
                },
            },
            pulumi.ResourceOptions(parent=parent, depends_on=[self.firewall]),
        )
        return {"pki": pki, "machine": machine}

    # -- RemoteAccess -----------------------------------------------------------------------

    def public_keys(self, logins: list[str]) -> dict:
        from plantstack.lab_standins import LabPeople, LabPeopleArgs

        self.people = LabPeople(
            f"{self.site}-lab-people", LabPeopleArgs(logins, str(self.state_dir / "keys"))
        )
        return self.people.public_keys

    def revocations(self) -> list:
        """Emergency revocations (`plantctl access revoke`): RemoteAccess leaves them out."""
        return lab_revoke.load(self.state_dir)

    def bastion(
        self, parent: pulumi.ComponentResource, plan: Plan, files: pulumi.Output, sshd: str
    ) -> dict:
        # Grants that start later are deployed too (RemoteAccess: user_certificates): every
        # grant's key is signed by the bastion CA for its window, which sshd checks itself.
        deployed = plan.entries + plan.pending
        ca = UserCa(
            f"{plan.site}-bastion-ca",
            directory=str(self.state_dir / "ssh-ca"),
            certs=[
                {
                    "grant": e.grant,
                    "key_id": ssh_certs.identity(e),
                    "principal": ssh_certs.principal(e),
                    "window": ssh_certs.validity(e),
                    "public_key": self.people.public_keys[e.person],
                }
                for e in deployed
            ],
            revoked=[ssh_certs.identity(e) for e in plan.revoked],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        principals = {
            f"{ssh_certs.PRINCIPALS_DIR}/{e.account}": {
                "content": ssh_certs.render_principals(e),
                "mode": 0o644,
            }
            for e in deployed
        }
        # MFA: sshd's PAM stack (pam_oath) and the TOTP seeds, made here at apply time (the lab
        # state directory is the bastion's side); Pulumi's state keeps only their fingerprint.
        mfa = [e for e in deployed if e.mfa]
        seeds = OathSeeds(
            f"{plan.site}-bastion-oath",
            directory=str(self.state_dir / "oath"),
            accounts=[e.account for e in mfa],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        pam = pam_oath.render_pam(window=max((e.totp_window for e in mfa), default=0))
        machine_files = files.apply(
            lambda keys: {
                "/etc/ssh/sshd_config": {"content": sshd, "mode": 0o644},
                pam_oath.PAM_FILE: {"content": pam, "mode": 0o644},
                **principals,
                **grant_reaper.files(deployed),
                **forward_audit.files(deployed, plan.port),
                **{
                    f"/etc/ssh/authorized_keys/{account}": {"content": text, "mode": 0o644}
                    for account, text in keys.items()
                },
            }
        )
        machine = BootedMachine(
            f"{plan.site}-bastion",
            {
                **self.host(plan.bastion_id, plan.zone, plan.address),
                "services": ["ssh.service"],
                "capabilities": ["CAP_NET_ADMIN"],  # the forward audit's nftables marks
                "sysctls": forward_audit.SYSCTLS,
                "files": machine_files,
                "copies": {
                    pam_oath.USERS_FILE: {"source": seeds.users_file, "mode": 0o600},
                    ssh_certs.CA_FILE: {"source": ca.ca_file, "mode": 0o644},
                    ssh_certs.KRL_FILE: {"source": ca.krl_file, "mode": 0o644},
                },
                "copies_digest": pulumi.Output.concat(seeds.fingerprint, ":", ca.fingerprint),
                "accounts": [e.account for e in deployed],
                # daemon-reload: the reaper's unit and ssh.service's drop-in may be new
                "on_change": [
                    "sh",
                    "-c",
                    "systemctl daemon-reload && systemctl reload-or-restart "
                    f"ssh.service && systemctl start {grant_reaper.UNIT}",
                ],
                "ready_port": plan.port,
                "declares": {
                    "kind": "bastion",
                    "id": plan.bastion_id,
                    "entries": [entry_record(e) for e in deployed],
                },
            },
            pulumi.ResourceOptions(parent=parent, depends_on=[self.firewall]),
        )
        return {"ca": ca, "oath": seeds, "machine": machine}

    # -- lab-only stand-ins -----------------------------------------------------------------

    def finish(self, inv, settings, components: dict) -> None:
        from plantstack.lab_standins import LabStandIns, LabStandInsArgs

        standins = LabStandIns(
            f"{self.site}-lab-standins",
            LabStandInsArgs(inv, self.site, self.seg, self),
            pulumi.ResourceOptions(depends_on=[self.firewall]),
        )
        components["standins"] = standins
        pulumi.export("lab_prefix", self.prefix)
        pulumi.export("lab_state_dir", str(self.state_dir))
        pulumi.export("router_namespace", self.net.router)
        pulumi.export(
            "hosts",
            {s.name: {"zone": s.zone, "address": s.address, "ports": list(s.services)}
             for s in standins.standins},
        )  # fmt: skip
