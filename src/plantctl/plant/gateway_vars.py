"""What a gateway needs to know about itself, from the validated inventory: the Ansible host
variables the inventory plugin (plugins/inventory/plantctl.py) hands to the gateway roles.

Nothing here is written twice: addresses, the zone router, the site's broker and bastion, the
maintenance window, the admins (role bindings of admin roles at the gateway's site, with their
public keys) and the collector configuration are all derived from the inventory records.
"""

from __future__ import annotations

from typing import Any

from netaddr import IPAddress

from plantctl.collector.config import ConfigError
from plantctl.model import addressing, tokens
from plantctl.model.inventory import Inventory
from plantctl.plant import collector_config, gateway_grants


def account_name(login: str) -> str:
    """The Unix account of a code-host login: lower case; a leading digit gets a 'u'."""
    name = login.lower()
    if name[:1].isdigit():
        name = "u" + name
    if not tokens.UNIX_USER.fullmatch(name):  # defs.schema.json#/$defs/unix_account
        raise ConfigError(f"login {login!r} gives no valid account name")
    return name


def admins(inv: Inventory, site: str) -> list[dict[str, Any]]:
    """People bound to an admin role (roles.yaml `admin: true`) at `site`."""
    admin_roles = {key for key, rec in inv.of("role").items() if rec.data.get("admin")}
    people: dict[str, dict[str, Any]] = {}
    for binding in inv.of("binding").values():
        data = binding.data
        if data["site"] != site or data["role"] not in admin_roles:
            continue
        person = inv.of("person")[data["person"]].data  # the loader checked the binding
        if person.get("external"):
            # RA-014 refuses this binding; the admin list never holds it either way.
            raise ConfigError(
                f"{person['login']} is external and bound to admin role {data['role']}: "
                "external people reach gateways only through time-bound grants"
            )
        entry = people.setdefault(
            person["login"],
            {
                "login": person["login"],
                "account": account_name(person["login"]),
                "name": person["name"],
                "roles": [],
                "ssh_public_key": person.get("ssh_public_key"),
            },
        )
        entry["roles"] = sorted({*entry["roles"], data["role"]})
    return [people[login] for login in sorted(people)]


def _service(site_data: dict, name: str) -> dict[str, Any] | None:
    svc = site_data.get("services", {}).get(name)
    if svc is None:
        return None
    return {"id": svc["id"], "address": svc["address"], "port": svc["port"], "zone": svc["zone"]}


def for_gateway(inv: Inventory, gateway: str) -> dict[str, Any]:
    gw = inv.get("gateway", gateway)
    if gw is None:
        raise KeyError(f"no gateway {gateway!r} in the inventory")
    site_id = str(gw.site)  # gateways are written under their site
    site = inv.of("site")[site_id].data
    zone = gw.data["zone"]
    network = addressing.zone_networks(inv)[f"{gw.site}/{zone}"]
    window = None
    if gw.data.get("maintenance_window"):
        found = next(
            w for w in site["maintenance_windows"] if w["id"] == gw.data["maintenance_window"]
        )
        window = {
            "id": found["id"],
            "days": list(found["days"]),
            "start": found["start"],
            "hours": found["hours"],
            "timezone": site["timezone"],
        }
    collectors = sorted(
        rec.key for rec in inv.of("collector").values() if rec.data["gateway"] == gateway
    )
    config = collector_config.render(inv, gateway) if collectors else None
    endpoints = []
    if config:
        seen = set()
        for src in config["sources"]:
            key = (src["address"], src["port"])
            if key not in seen:
                seen.add(key)
                endpoints.append(
                    {
                        "machine": src["machine"],
                        "protocol": src["protocol"],
                        "address": src["address"],
                        "port": src["port"],
                    }
                )
    return {
        "ansible_host": gw.data["address"],
        "plantctl_site": gw.site,
        "plantctl_zone": zone,
        "plantctl_address": gw.data["address"],
        "plantctl_zone_network": str(network.cidr),
        "plantctl_router": str(IPAddress(network.first + 1)),
        "plantctl_timezone": site["timezone"],
        "plantctl_maintenance_window": window,
        "plantctl_bastion": _service(site, "bastion"),
        "plantctl_broker": _service(site, "broker"),
        "plantctl_admins": admins(inv, site_id),
        "plantctl_grants": gateway_grants.for_gateway(inv, gateway),
        "plantctl_collectors": collectors,
        "plantctl_collector_config": config,
        "plantctl_plc_endpoints": endpoints,
    }
