"""References between inventory objects: every name used must name something that exists.

These are identity links (people, teams, sites, zones, machines, gateways, windows). Whether a
link is allowed (a vendor approving their own grant, a collector reading another site) is a
policy question, answered by policies/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from plantctl.core.problems import Problem
from plantctl.model.inventory import Inventory, Record

RULE = "INV-REF"


def check(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    for check_one in (
        _logins,
        _teams,
        _ownership,
        _people_links,
        _site_links,
        _zoned,
        _conduits,
        _collectors,
        _grants,
        _waivers,
        _goals,
    ):
        problems.extend(check_one(inv))
    return problems


def _missing(record: Record, what: str, value: str, fix: str, *sub: str | int) -> Problem:
    return record.problem(f"{what} {value!r} does not exist; {fix}", RULE, *sub)


def _need(
    inv: Inventory, record: Record, kind: str, key: str, what: str, fix: str, *sub: str | int
) -> Iterator[Problem]:
    if inv.get(kind, key) is not None:
        return
    if kind == "person" and (person := _by_folded_login(inv).get(key.casefold())) is not None:
        yield record.problem(
            f"{what} {key!r} is written {person.key!r} in {person.file}; logins are compared "
            "without regard to case, write it the same way",
            RULE,
            *sub,
        )
        return
    yield _missing(record, what, key.split("/")[-1], fix, *sub)


def _by_folded_login(inv: Inventory) -> dict[str, Record]:
    """People by login without case: code hosts treat RKessler and rkessler as one account."""
    folded: dict[str, Record] = {}
    for login, person in inv.of("person").items():
        folded.setdefault(login.casefold(), person)
    return folded


def _logins(inv: Inventory) -> Iterator[Problem]:
    """Two people whose logins differ only in case would be one code-host account with two
    sets of rules (an employee's entry for a vendor's account)."""
    folded = _by_folded_login(inv)
    for login, person in inv.of("person").items():
        first = folded[login.casefold()]
        if first is not person:
            yield person.problem(
                f"login {login!r} is the same code-host account as {first.key!r} "
                f"({first.file}:{first.line}); logins are unique without regard to case, "
                "remove the copy",
                "INV-DUPID",
                "login",
            )


def _teams(inv: Inventory) -> Iterator[Problem]:
    for team in inv.of("team").values():
        if not team.data["members"]:
            yield team.problem(
                f"team {team.key!r} has no members; add at least one person's "
                "login, or remove the team",
                RULE,
                "members",
            )
        for i, login in enumerate(team.data["members"]):
            yield from _need(
                inv,
                team,
                "person",
                login,
                "member",
                "add the person to org/people.yaml or fix the login",
                "members",
                i,
            )


def _ownership_map(
    inv: Inventory, rec: Record, mapping: dict[str, Any], *keys: str | int
) -> Iterator[Problem]:
    for resp, value in mapping.items():
        teams = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, team in teams:
            at = (*keys, resp) if sub is None else (*keys, resp, sub)
            yield from _need(
                inv,
                rec,
                "team",
                team,
                f"team for {resp}",
                "add it to org/teams.yaml or name an existing team",
                *at,
            )


def _ownership(inv: Inventory) -> Iterator[Problem]:
    rec = inv.ownership
    yield from _ownership_map(inv, rec, rec.data["defaults"], "defaults")
    for site, over in rec.data.get("sites", {}).items():
        if inv.get("site", site) is None:
            yield _missing(rec, "site", site, "use the id of a site under sites/", "sites", site)
            continue
        yield from _ownership_map(
            inv, rec, over.get("responsibilities", {}), "sites", site, "responsibilities"
        )
        for zone, mapping in over.get("zones", {}).items():
            if inv.get("zone", f"{site}/{zone}") is None:
                yield _missing(
                    rec,
                    f"zone of {site}",
                    zone,
                    f"use a zone id from sites/{site}/zones.yaml",
                    "sites",
                    site,
                    "zones",
                    zone,
                )
                continue
            yield from _ownership_map(inv, rec, mapping, "sites", site, "zones", zone)


def _people_links(inv: Inventory) -> Iterator[Problem]:
    fix_person = "add the person to org/people.yaml or fix the login"
    for rec in inv.of("training").values():
        yield from _need(inv, rec, "person", rec.data["person"], "person", fix_person, "person")
        yield from _need(
            inv, rec, "role", rec.data["role"], "role", "use a role from org/roles.yaml", "role"
        )
    for rec in inv.of("binding").values():
        yield from _need(inv, rec, "person", rec.data["person"], "person", fix_person, "person")
        yield from _need(
            inv, rec, "role", rec.data["role"], "role", "use a role from org/roles.yaml", "role"
        )
        yield from _need(
            inv, rec, "site", rec.data["site"], "site", "use a site id from sites/", "site"
        )
    for rec in inv.of("term").values():
        for i, team in enumerate(rec.data["agreed_by"]):
            yield from _need(
                inv, rec, "team", team, "team", "name a team from org/teams.yaml", "agreed_by", i
            )
    for rec in inv.of("data_class").values():
        for key in ("owner", "report_approver", "correction_owner", "dashboard_change_approver"):
            if key in rec.data:
                yield from _need(
                    inv,
                    rec,
                    "team",
                    rec.data[key],
                    f"{key} team",
                    "name a team from org/teams.yaml",
                    key,
                )


def _site_links(inv: Inventory) -> Iterator[Problem]:
    for site, rec in inv.of("site").items():
        data = rec.data
        for i, login in enumerate(data.get("survey", {}).get("attendees", [])):
            yield from _need(
                inv,
                rec,
                "person",
                login,
                "survey attendee",
                "add the person to org/people.yaml or fix the login",
                "survey",
                "attendees",
                i,
            )
        for i, machine in enumerate(data.get("pilot", {}).get("machines", [])):
            m = inv.get("machine", machine)
            if m is None or m.site != site:
                yield _missing(
                    rec,
                    f"pilot machine of {site}",
                    machine,
                    f"list machines from sites/{site}/machines.yaml",
                    "pilot",
                    "machines",
                    i,
                )
        for i, so in enumerate(data.get("signoffs", [])):
            yield from _need(
                inv,
                rec,
                "team",
                so["team"],
                "sign-off team",
                "name a team from org/teams.yaml",
                "signoffs",
                i,
                "team",
            )
            yield from _need(
                inv,
                rec,
                "person",
                so["person"],
                "sign-off person",
                "add the person to org/people.yaml",
                "signoffs",
                i,
                "person",
            )
        for i, window in enumerate(data["maintenance_windows"]):
            for j, zone in enumerate(window.get("zones", [])):
                yield from _need(
                    inv,
                    rec,
                    "zone",
                    f"{site}/{zone}",
                    "zone",
                    f"use a zone id from sites/{site}/zones.yaml",
                    "maintenance_windows",
                    i,
                    "zones",
                    j,
                )
        for name, svc in data.get("services", {}).items():
            yield from _need(
                inv,
                rec,
                "zone",
                f"{site}/{svc['zone']}",
                f"{name} zone",
                f"use a zone id from sites/{site}/zones.yaml",
                "services",
                name,
                "zone",
            )
        for i, cls in enumerate(data.get("bridge", {}).get("classes", [])):
            yield from _need(
                inv,
                rec,
                "data_class",
                cls,
                "bridged data class",
                "use a class id from data_classes.yaml",
                "bridge",
                "classes",
                i,
            )
        ids = [w["id"] for w in data["maintenance_windows"]]
        for i, wid in enumerate(ids):
            if wid in ids[:i]:
                yield rec.problem(
                    f"duplicate maintenance window {wid!r}; give each its own id",
                    "INV-DUPID",
                    "maintenance_windows",
                    i,
                )


def _zoned(inv: Inventory) -> Iterator[Problem]:
    for kind in ("machine", "gateway", "device"):
        for rec in inv.of(kind).values():
            yield from _need(
                inv,
                rec,
                "zone",
                f"{rec.site}/{rec.data['zone']}",
                "zone",
                f"use a zone id from sites/{rec.site}/zones.yaml",
                "zone",
            )
            window = rec.data.get("maintenance_window")
            site = inv.get("site", cast(str, rec.site))  # written under sites/<site>/
            if (
                window
                and site
                and window not in {w["id"] for w in site.data["maintenance_windows"]}
            ):
                yield _missing(
                    rec,
                    "maintenance window",
                    window,
                    f"use a window id from sites/{rec.site}/site.yaml",
                    "maintenance_window",
                )


def _services(inv: Inventory, rec: Record) -> Iterator[Problem]:
    """A service naming an application protocol names one of the catalogue."""
    for i, service in enumerate(rec.data.get("services", [])):
        if "app" in service:
            yield from _need(
                inv,
                rec,
                "protocol",
                service["app"],
                "application protocol",
                "use an id from protocols.yaml, or add the protocol there",
                "services",
                i,
                "app",
            )


def _safety_zones(inv: Inventory) -> Iterator[Problem]:
    for rec in inv.of("zone").values():
        if "serves" in rec.data:
            yield from _need(
                inv,
                rec,
                "zone",
                f"{rec.site}/{rec.data['serves']}",
                "served zone",
                f"use a cell zone id from sites/{rec.site}/zones.yaml",
                "serves",
            )


def _conduits(inv: Inventory) -> Iterator[Problem]:
    yield from _safety_zones(inv)
    for rec in inv.of("grant").values():
        yield from _services(inv, rec)
    for rec in inv.of("conduit").values():
        yield from _services(inv, rec)
        for end in ("from", "to"):
            zone = rec.data[end]
            if zone != "internet":
                yield from _need(
                    inv,
                    rec,
                    "zone",
                    f"{rec.site}/{zone}",
                    f"{end} zone",
                    f"use a zone id from sites/{rec.site}/zones.yaml or 'internet'",
                    end,
                )


def _collectors(inv: Inventory) -> Iterator[Problem]:
    for rec in inv.of("collector").values():
        yield from _need(
            inv,
            rec,
            "gateway",
            rec.data["gateway"],
            "gateway",
            "use a gateway id from a gateways.yaml",
            "gateway",
        )
        yield from _need(
            inv,
            rec,
            "machine",
            rec.data["machine"],
            "machine",
            "use a machine id from a machines.yaml",
            "machine",
        )


def _grants(inv: Inventory) -> Iterator[Problem]:
    for rec in inv.of("grant").values():
        data = rec.data
        yield from _need(
            inv,
            rec,
            "person",
            data["person"],
            "person",
            "add the person to org/people.yaml or fix the login",
            "person",
        )
        yield from _need(
            inv, rec, "site", data["site"], "site", "use a site id from sites/", "site"
        )
        if (
            inv.get("machine", data["target"]) is None
            and inv.get("gateway", data["target"]) is None
        ):
            yield _missing(rec, "target", data["target"], "name a machine or gateway id", "target")
        for i, approval in enumerate(data["approvals"]):
            yield from _need(
                inv,
                rec,
                "person",
                approval["person"],
                "approver",
                "add the person to org/people.yaml",
                "approvals",
                i,
                "person",
            )
            yield from _need(
                inv,
                rec,
                "team",
                approval["team"],
                "approving team",
                "name a team from org/teams.yaml",
                "approvals",
                i,
                "team",
            )


def _waivers(inv: Inventory) -> Iterator[Problem]:
    for rec in inv.of("waiver").values():
        yield from _need(
            inv,
            rec,
            "person",
            rec.data["approver"],
            "approver",
            "add the person to org/people.yaml or fix the login",
            "approver",
        )


def _goals(inv: Inventory) -> Iterator[Problem]:
    """A goal's site, machines, lines, teams, people and glossary terms exist; what names a goal
    (a collector's serves, a pilot's goals) names one of its own site."""
    fix_person = "add the person to org/people.yaml or fix the login"
    fix_team = "name a team from org/teams.yaml"
    for rec in inv.of("goal").values():
        data = rec.data
        site = data["site"]
        yield from _need(inv, rec, "site", site, "site", "use a site id from sites/", "site")
        metric = data["metric"]
        for field, terms in (("meaning", [metric["meaning"]]), ("from", metric.get("from", []))):
            for i, term in enumerate(terms):
                at: tuple[str | int, ...] = (
                    ("metric", field)
                    if field == "meaning"
                    else (
                        "metric",
                        field,
                        i,
                    )
                )
                yield from _need(
                    inv, rec, "term", term, "glossary term", "use a term id of glossary.yaml", *at
                )
        for i, machine in enumerate(metric.get("machines", [])):
            m = inv.get("machine", machine)
            if m is None or m.site != site:
                yield _missing(
                    rec,
                    f"machine of {site}",
                    machine,
                    f"list machines from sites/{site}/machines.yaml",
                    "metric",
                    "machines",
                    i,
                )
        lines = {m.data.get("line") for m in inv.site_objects("machine", site)}
        for i, line in enumerate(metric.get("lines", [])):
            if line not in lines:
                yield _missing(
                    rec,
                    f"line of {site}",
                    line,
                    f"use a line of a machine in sites/{site}/machines.yaml",
                    "metric",
                    "lines",
                    i,
                )
        for i, data_class in enumerate(data.get("data_classes", [])):
            yield from _need(
                inv,
                rec,
                "data_class",
                data_class,
                "data class",
                "use a class id of data_classes.yaml",
                "data_classes",
                i,
            )
        for key in ("owners", "sponsors"):
            for i, team in enumerate(data[key]):
                yield from _need(inv, rec, "team", team, "team", fix_team, key, i)
        for i, agreed in enumerate(data["agreed_by"]):
            yield from _need(
                inv, rec, "team", agreed["team"], "team", fix_team, "agreed_by", i, "team"
            )
            yield from _need(
                inv, rec, "person", agreed["person"], "person", fix_person, "agreed_by", i, "person"
            )
    for rec in inv.of("collector").values():
        for i, goal in enumerate(rec.data.get("serves", [])):
            yield from _goal_of_site(inv, rec, goal, cast(str, rec.site), "serves", i)
    for site, rec in inv.of("site").items():
        for i, goal in enumerate(rec.data.get("pilot", {}).get("goals", [])):
            yield from _goal_of_site(inv, rec, goal, site, "pilot", "goals", i)


def _goal_of_site(
    inv: Inventory, rec: Record, goal: str, site: str, *sub: str | int
) -> Iterator[Problem]:
    found = inv.get("goal", goal)
    if found is None or found.data["site"] != site:
        yield _missing(
            rec, f"goal of {site}", goal, f"use a goal id of {site} from goals.yaml", *sub
        )
