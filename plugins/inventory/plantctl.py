# plantctl's Ansible inventory plugin: gateways, groups and host variables read from the
# validated inventory through plantctl's one loader. No static inventory is generated.
from __future__ import annotations

DOCUMENTATION = r"""
name: plantctl
short_description: Gateways from plantctl's validated inventory
description:
  - Loads the inventory folder with plantctl's loader (schema, references, address plan); an
    invalid inventory fails the run with every problem listed (file:line, rule, what to do).
  - One host per gateway. Groups per site (C(site_<site>)), zone (C(zone_<site>_<zone>)) and role
    (C(gateways); C(collector_hosts) for gateways that run collectors). Dashes in ids become
    underscores in group names.
  - Host variables (all inventory text is marked unsafe, so it is never templated) -
    C(ansible_host), C(plantctl_site), C(plantctl_zone), C(plantctl_address),
    C(plantctl_zone_network), C(plantctl_router), C(plantctl_timezone),
    C(plantctl_maintenance_window), C(plantctl_bastion), C(plantctl_broker), C(plantctl_admins),
    C(plantctl_collectors), C(plantctl_collector_config), C(plantctl_plc_endpoints).
  - With O(proxy_jump) every gateway is reached through its site bastion (an
    C(ansible_ssh_common_args) with C(-o ProxyJump=<bastion>)).
options:
  plugin:
    description: Marks this file as a source for this plugin.
    required: true
    choices: [plantctl]
  inventory_dir:
    description:
      - The inventory folder, relative to this file; default the folder holding it.
      - It must be that folder or one below it (after resolving links), so this file cannot
        point Ansible at an inventory that the pull-request gate never judged.
    type: path
  sites:
    description: Only gateways of these sites (default all).
    type: list
    elements: str
    default: []
  proxy_jump:
    description: Reach each gateway through its site bastion (ProxyJump).
    type: bool
    default: true
  bastion_user:
    description: The user for the bastion hop (default - what the SSH configuration says).
    type: str
"""

EXAMPLES = r"""
# inventory/plantctl.ansible.yml
plugin: plantctl
"""

import os  # noqa: E402 (Ansible reads DOCUMENTATION first)

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin  # noqa: E402
from ansible.utils.unsafe_proxy import wrap_var  # noqa: E402


def group_name(*parts: str) -> str:
    return "_".join(p.replace("-", "_") for p in parts)


class InventoryModule(BaseInventoryPlugin):
    NAME = "plantctl"

    def verify_file(self, path):
        # One name only: the gate's list of governing files knows this one.
        return super().verify_file(path) and os.path.basename(path) == "plantctl.ansible.yml"

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            from plantctl.collector.config import ConfigError
            from plantctl.core.problems import InvalidInput
            from plantctl.model import tokens
            from plantctl.model.loader import load
            from plantctl.plant import gateway_vars
        except ImportError as exc:
            raise AnsibleParserError(
                f"plantctl is not importable by Ansible's Python ({exc}); run Ansible from the "
                "repository's virtual environment (make setup)"
            ) from exc
        here = os.path.dirname(os.path.abspath(path))
        root = self.get_option("inventory_dir") or here
        if not os.path.isabs(root):
            root = os.path.join(here, root)
        real_here, real_root = os.path.realpath(here), os.path.realpath(root)
        if os.path.commonpath([real_here, real_root]) != real_here:
            raise AnsibleParserError(
                f"{path}: inventory_dir {self.get_option('inventory_dir')!r} is outside "
                f"{here}; Ansible reads only the inventory the gate judged (remove the option)"
            )
        try:
            inv = load(root)
        except InvalidInput as exc:
            listing = "\n".join(str(p) for p in exc.problems)
            raise AnsibleParserError(
                f"plantctl inventory {root} is invalid ({len(exc.problems)} problem(s)):\n{listing}"
            ) from exc
        sites = set(self.get_option("sites") or inv.sites())
        jump = self.get_option("proxy_jump")
        user = self.get_option("bastion_user")
        # The account shape is inventory/schema/defs.schema.json#/$defs/unix_account.
        if user and not tokens.UNIX_USER.fullmatch(user):
            raise AnsibleParserError(f"bastion_user {user!r} is not a user name")
        for gw in sorted(inv.of("gateway").values(), key=lambda r: r.key):
            if gw.site not in sites:
                continue
            host = gw.key
            try:
                hostvars = gateway_vars.for_gateway(inv, host)
            except ConfigError as exc:
                raise AnsibleParserError(f"gateway {host}: {exc}") from exc
            self.inventory.add_host(host)
            for group in (
                "gateways",
                group_name("site", gw.site),
                group_name("zone", gw.site, gw.data["zone"]),
            ) + (("collector_hosts",) if hostvars["plantctl_collectors"] else ()):
                self.inventory.add_group(group)
                self.inventory.add_child(group, host)
            bastion = hostvars["plantctl_bastion"]
            if jump and bastion:
                hop = f"{bastion['address']}:{bastion['port']}"
                if user:
                    hop = f"{user}@{hop}"
                hostvars["ansible_ssh_common_args"] = f"-o ProxyJump={hop}"
            for key, value in hostvars.items():
                self.inventory.set_variable(host, key, wrap_var(value))
