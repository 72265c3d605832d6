"""One source per fact (issue 13): each fact is written once, and every copy that cannot read the
source (the collector, shipped alone to gateways; the gateway roles' YAML; the Rego policies;
the role READMEs and defaults) is compared with it here, so a copy that drifts fails this test.

- Identifiers, Unix accounts, SSH key types: the inventory's JSON Schemas (inventory/schema/),
  read by plantctl.model.tokens.
- The MQTT topic of a sample, <site>/<zone>/<machine>/<data class>/<signal>: the collector's
  plantctl.collector.config (topic_prefix, topic, class_subscription).
- A role's variables: its meta/argument_specs.yml (defaults/main.yml, README.md).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plantctl.collector import config
from plantctl.gate import engine, facts
from plantctl.model import tokens
from plantctl.model.loader import load
from plantctl.plant import broker_access, collector_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "inventory" / "schema"
ROLES = ROOT / "roles"
sys.path.insert(0, str(ROOT / "tools"))
import role_docs  # noqa: E402


def schema(file: str, *pointer: str) -> str:
    node = json.loads((SCHEMA / file).read_text(encoding="utf-8"))
    for part in pointer:
        node = node[part]
    return node["pattern"]


ID = schema("defs.schema.json", "$defs", "id")
ACCOUNT = schema("defs.schema.json", "$defs", "unix_account")
PERSON_KEY = schema(
    "people.schema.json", "properties", "people", "items", "properties", "ssh_public_key"
)


def core(pattern: str) -> str:
    """A pattern without its anchors: ^ in front, $ or \\Z (the same, at the very end) behind."""
    return re.sub(r"(\$|\\Z)$", "", pattern.removeprefix("^"))


@pytest.fixture(scope="module")
def inv():
    return load(ROOT / "inventory")


# 1. Identifiers, Unix accounts and SSH key types ------------------------------------------------


def test_tokens_reads_its_shapes_from_the_schemas():
    assert tokens.ID.pattern == core(ID)
    assert tokens.UNIX_USER.pattern == core(ACCOUNT)
    key_types = tokens.SSH_KEY_TYPE.pattern
    assert PERSON_KEY.startswith(f"^{key_types} "), (key_types, PERSON_KEY)


def test_the_collector_copies_equal_the_schemas():
    """The collector reads no schema (it is shipped alone); its copies are checked here."""
    assert config._ID.pattern == core(ID)
    tag = schema(
        "collectors.schema.json",
        *("properties", "collectors", "items", "properties", "signals", "items"),
        *("properties", "logix", "properties", "tag"),
    )
    assert core(config._LOGIX_TAG.pattern) == core(tag)
    group = schema(
        "gateways.schema.json",
        *("properties", "gateways", "items", "properties", "sparkplug_group"),
    )
    assert core(config._SPARKPLUG_GROUP.pattern) == core(group)


# The pattern each role assert holds, by the value it checks, and the source it copies.
ROLE_COPIES = {
    ("collector", "collector_user"): ACCOUNT,
    ("gateway_base", "item.account"): ACCOUNT,
    ("gateway_base", "item.ssh_public_key"): PERSON_KEY,
    ("gateway_firewall", "gateway_firewall_broker.id"): ID,
    ("gateway_firewall", "item.machine"): ID,
}
MATCH = re.compile(r"(?P<subject>[\w.]+) is match\('(?P<pattern>[^']*)'\)")


def role_matches(role: str) -> dict[str, list[str]]:
    """subject -> the patterns its `is match(...)` asserts in tasks/validate.yml use."""
    tasks = yaml.safe_load((ROLES / role / "tasks" / "validate.yml").read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for task in tasks:
        for condition in task.get("ansible.builtin.assert", {}).get("that", []):
            for m in MATCH.finditer(condition):
                found.setdefault(m["subject"], []).append(m["pattern"])
    return found


@pytest.mark.parametrize(("role", "subject"), sorted(ROLE_COPIES))
def test_the_role_asserts_equal_the_schemas(role, subject):
    source = ROLE_COPIES[role, subject]
    patterns = role_matches(role).get(subject)
    assert patterns, f"roles/{role}/tasks/validate.yml no longer checks {subject}"
    for pattern in patterns:
        # \Z, not $: Python's $ lets a final newline through (the asserts' match is re.match).
        assert pattern.startswith("^") and pattern.endswith("\\Z"), pattern
        assert core(pattern) == core(source), (
            f"roles/{role}/tasks/validate.yml checks {subject} with {pattern!r}; the source "
            f"(inventory/schema) says {source!r}"
        )


def test_other_copies_of_the_id_equal_the_schema():
    """Modules above the model that still spell the id out (they could use tokens instead)."""
    from plantctl.configs import mosquitto
    from plantctl.importers import induform
    from plantctl.providers import lab_pki

    assert core(induform.ID_PATTERN.pattern) == core(ID)
    for account in (mosquitto.ACCOUNT, lab_pki.ACCOUNT):
        assert account is broker_access.ACCOUNT  # one definition, imported
    assert broker_access.ACCOUNT.pattern == r"(gateway|role)\." + core(ID)


def test_no_python_copy_where_the_source_can_be_imported():
    for path in ("plugins/inventory/plantctl.py", "src/plantctl/plant/gateway_vars.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "re.compile" not in text, f"{path} spells a pattern out; use plantctl.model.tokens"
        assert "tokens.UNIX_USER" in text, path


def test_account_names_are_the_schemas():
    assert tokens.unix_user("_apt") == "_apt"
    for bad in ("Root", "9lives", "a" * 33, "a b", "a\n"):
        with pytest.raises(tokens.UnsafeToken):
            tokens.unix_user(bad)


# 2. The MQTT topic format ----------------------------------------------------------------------

FORMAT = "<site>/<zone>/<machine>/<data class>/<signal>"


def mqtt_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching, for the single-level wildcard `+` (the ACL uses no `#`)."""
    want, have = topic_filter.split("/"), topic.split("/")
    return len(want) == len(have) and all(w in ("+", h) for w, h in zip(want, have, strict=True))


def test_the_format_is_the_collectors():
    shown = config.topic(
        config.topic_prefix("<site>", "<zone>", "<machine>"), "<data class>", "<signal>"
    )
    assert shown == FORMAT
    assert broker_access.TOPIC_LEVEL is config.TOPIC_LEVEL
    # The prose that states the format says the same.
    for path in (
        "src/plantctl/plant/broker_access.py",
        "roles/collector/README.md",
        "policies/collectors/collectors.rego",
    ):
        assert FORMAT in (ROOT / path).read_text(encoding="utf-8"), path


def test_the_broker_acl_allows_what_the_collector_publishes(inv):
    """Topics from the rendered collector configuration (what a gateway publishes) and from the
    broker's accounts (what Mosquitto allows) are one and the same."""
    checked = read = 0
    for site in inv.sites():
        try:
            access = broker_access.build(inv, site)
        except KeyError:
            continue
        for gateway in sorted(g.key for g in inv.of("gateway").values() if g.site == site):
            doc = collector_config.render(inv, gateway)
            if doc.get("payload", "json") != "json" or not doc["sources"]:
                continue
            # one process, one certificate: the gateway's account allows its sources' topics
            account = access.account(broker_access.gateway_account(gateway))
            assert doc["broker"]["account"] == account.username
            sources = config.parse(doc).sources
            published = {src.topic(s) for src in sources for s in src.signals}
            assert published == set(account.write), gateway
            for src in sources:
                checked += 1
                for sig in src.signals:
                    readers = {
                        a.subject
                        for a in access.accounts
                        if a.kind == "role" and any(mqtt_matches(f, src.topic(sig)) for f in a.read)
                    }
                    viewers = set(inv.get("data_class", sig.data_class).data.get("viewers", []))
                    assert readers == viewers & set(inv.of("role")), (src.id, sig.name)
                    read += len(readers)
    assert checked and read, (checked, read)


def col006(document: dict) -> set[str]:
    """The collectors policy COL-006 flags, by collector id, with the real policies and OPA."""
    proc = subprocess.run(
        [
            engine.opa_binary(),
            *("eval", "--format", "json", "--data", str(ROOT / "policies")),
            *("--stdin-input", "data.plant.collectors.deny"),
        ],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [result] = json.loads(proc.stdout)["result"]
    return {v["id"] for v in result["expressions"][0]["value"] if v["rule"] == "COL-006"}


def test_the_policy_wants_the_prefix_the_collector_publishes_under(inv):
    """COL-006 (policies/collectors/collectors.rego) spells <site>/<zone>/<machine> out in Rego;
    a publish_prefix equal to what broker_access derives passes it, any other is flagged."""
    document = facts.build(inv)
    collectors = document["collectors"]
    assert collectors
    for key, col in collectors.items():
        rec = inv.get("collector", key)
        plain = {k: v for k, v in rec.data.items() if k != "publish_prefix"}
        col["publish_prefix"] = broker_access.topic_prefix(inv, plain, rec.site)
    assert col006(document) == set()
    wrong = copy.deepcopy(document)
    first = sorted(wrong["collectors"])[0]
    site, zone, machine = wrong["collectors"][first]["publish_prefix"].split("/")
    wrong["collectors"][first]["publish_prefix"] = "/".join((site, machine, zone))
    assert col006(wrong) == {first}


# 3. Role variables -----------------------------------------------------------------------------

ROLE_NAMES = sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))


def test_every_role_has_a_spec():
    assert sorted(p.name for p in ROLES.iterdir() if p.is_dir()) == ROLE_NAMES


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_defaults_equal_the_spec(role):
    options = role_docs.spec_of(ROLES / role)["options"]
    spec = {name: o["default"] for name, o in options.items() if "default" in o}
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text("utf-8")) or {}
    assert sorted(defaults) == sorted(spec), (
        f"roles/{role}: defaults/main.yml and the spec's options with a default differ: "
        f"only in defaults {sorted(set(defaults) - set(spec))}, "
        f"only in the spec {sorted(set(spec) - set(defaults))}"
    )
    for name, value in spec.items():
        assert defaults[name] == value, (
            f"roles/{role}: {name} is {defaults[name]!r}, spec {value!r}"
        )


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_readme_is_generated_from_the_spec(role):
    now, wanted = role_docs.render(ROLES / role)
    assert now == wanted, f"roles/{role}/README.md: run tools/role_docs.py"


def test_role_docs_check_fails_on_a_drifted_readme(tmp_path):
    roles = tmp_path / "roles"
    (roles / "r" / "meta").mkdir(parents=True)
    (roles / "r" / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      r_port: {type: int, default: 22, "
        "description: C(sshd) port.}\n"
    )
    readme = roles / "r" / "README.md"
    readme.write_text(f"# r\n\n{role_docs.BEGIN}\nold\n{role_docs.END}\n\nkept\n")
    assert role_docs.main(["--check", "--roles", str(roles)]) == 1
    assert role_docs.main(["--roles", str(roles)]) == 0
    text = readme.read_text()
    assert "| `r_port` | int | `22` | `sshd` port. |" in text and text.endswith("\n\nkept\n")
    assert role_docs.main(["--check", "--roles", str(roles)]) == 0
    readme.write_text("# r\n")
    assert role_docs.main(["--check", "--roles", str(roles)]) == 2


def test_the_firewall_knows_every_protocol_a_collector_reads():
    spec = role_docs.spec_of(ROLES / "gateway_firewall")["options"]
    choices = spec["gateway_firewall_plc_endpoints"]["options"]["protocol"]["choices"]
    assert tuple(choices) == config.PROTOCOLS


# 4. No dead defaults where the schema requires the field --------------------------------------


def test_no_port_default_the_schema_makes_dead():
    for path in ("src/plantctl/plant/broker_access.py", "src/plantctl/plant/gateway_vars.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert not re.search(r"""\.get\(["']port["'],""", text), path
