"""A pull request evaluated by what it can affect (src/plantctl/gate/scoped.py) gets the decision
the whole-inventory query gives, violation for violation: every domain declares its scope, the
rules that read the clock are marked and never cached, the decision cache is never trusted
blindly, and a property test (hypothesis) over generated inventories and random edits compares
the scoped decision with the whole one through a real OPA server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plantctl.core.problems import InvalidInput
from plantctl.gate import changes, check, rules, scoped
from plantctl.gate.decision_cache import DecisionCache
from plantctl.gate.engine import OpaServer, opa_binary
from plantctl.model.loader import load
from plantctl.model.sources import MemorySource

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
SAMPLE = ROOT / "inventory"
SCHEMA = SAMPLE / "schema"
sys.path.insert(0, str(ROOT / "bench"))
from generate import _goal, _site  # noqa: E402 - the benchmark's generator, one site at a time

GENERATED_SITES = 2
NOWS = (
    "2026-01-05T00:00:00Z",  # before the generated sites' survey date
    "2026-11-22T12:00:00Z",
    "2026-12-20T08:00:00Z",  # after the seeded waiver's expiry
    "2027-08-20T00:00:00Z",  # a training record expires within 30 days (TRN-003 warns)
)


def domain_names() -> set[str]:
    done = subprocess.run(
        [
            opa_binary(),
            "eval",
            "--format",
            "raw",
            "--ignore",
            "*_test.rego",
            "-d",
            str(POLICIES),
            "data.plant.lib.domains.names",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(yaml.safe_load(done.stdout))


def package_files(name: str) -> list[Path]:
    return [
        p
        for p in POLICIES.rglob("*.rego")
        if not p.name.endswith("_test.rego")
        and re.search(rf"^package plant\.{name}$", p.read_text(), re.M)
    ]


# -- the declarations ---------------------------------------------------------------------------


def test_every_domain_declares_its_scope_and_its_clock_rules():
    names = domain_names()
    found = rules.domains(POLICIES, names)
    assert set(found) == names
    assert {d.scope for d in found.values()} <= {"site", "global"}
    by_id = {r.id: r for r in rules.read(POLICIES)}
    for name, domain in found.items():
        text = "\n".join(p.read_text() for p in package_files(name))
        reads_clock = "data.plant.lib.clock" in text or "input.now" in text
        # a package reads the clock exactly when some rule of it says so ...
        assert bool(domain.clock_rules) == reads_clock, name
        for rid in domain.clock_rules:
            assert by_id[rid].clock and by_id[rid].package == f"plant.{name}"
        # ... and its clock input names tables of the policy input
        assert set(domain.clock_input) <= set(check.policy_input(load(SAMPLE)).keys())
    assert {n for n, d in found.items() if d.clock_rules} == {"phases", "remote_access", "training"}


def test_a_global_domain_reads_only_what_it_declares():
    """A global domain is evaluated on the tables it names: every input table its files (and
    the lib packages they import) mention is among them."""
    for name, domain in rules.domains(POLICIES, domain_names()).items():
        if domain.scope != "global":
            continue
        files = package_files(name)
        for text in [p.read_text() for p in files]:
            for lib in re.findall(r"^import data\.plant\.lib\.([a-z_]+)", text, re.M):
                files.append(POLICIES / "lib" / f"{lib}.rego")
        read = {t for p in files for t in re.findall(r"\binput\.([a-z_]+)", p.read_text())}
        read |= {t for p in files for t in re.findall(r'\binput\[\s*"([a-z_]+)"', p.read_text())}
        # a table read through a computed path would escape the check above
        assert not any(re.search(r"object\.get\(input,", p.read_text()) for p in files), name
        assert read - {"now"} <= set(domain.reads), (name, sorted(read - set(domain.reads)))


def test_a_domain_without_a_scope_is_refused_with_its_file(tmp_path):
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    target = copy / "glossary" / "glossary.rego"
    target.write_text(target.read_text().replace("# custom:\n#   scope: site\n", "", 1))
    with pytest.raises(InvalidInput) as caught:
        rules.domains(copy, domain_names())
    assert any(
        "domain glossary" in p.message and "custom.scope" in p.message
        for p in caught.value.problems
    )
    target.write_text(
        target.read_text().replace("# schemas:", "# custom:\n#   scope: city\n# schemas:")
    )
    with pytest.raises(InvalidInput) as caught:
        rules.domains(copy, domain_names())
    assert any(
        p.file.endswith("glossary.rego") and "city" in p.message for p in caught.value.problems
    )


def test_the_clock_rules_need_a_clock_input(tmp_path):
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    target = copy / "phases" / "phases.rego"
    target.write_text(re.sub(r"#   clock_input: .*\n", "", target.read_text(), count=1))
    with pytest.raises(InvalidInput) as caught:
        rules.domains(copy, domain_names())
    assert any("PHA-001" in p.message and "clock_input" in p.message for p in caught.value.problems)


# -- the decision cache -------------------------------------------------------------------------

ENTRY = {"glossary.deny": [{"rule": "GLO-001", "kind": "machine", "id": "m1", "msg": "x"}]}


def test_a_cache_entry_is_read_back_and_a_damaged_one_is_a_miss(tmp_path):
    cache = DecisionCache(tmp_path)
    cache.put("k1", ENTRY)
    assert cache.get("k1") == ENTRY
    assert cache.get("k2") is None
    (path,) = (tmp_path / "decisions").glob("??/*")
    good = path.read_bytes()
    for damaged in (good[:-5], good[:40], good[:-1] + b"X", b"", good.replace(b"k1", b"k2")):
        path.write_bytes(damaged)
        assert cache.get("k1") is None
    # a foreign user's key: the same bytes do not verify
    path.write_bytes(good)
    other = tmp_path / "other"
    other.mkdir()
    (other / "decisions").mkdir()
    shutil.copytree(tmp_path / "decisions", other / "decisions", dirs_exist_ok=True)
    assert DecisionCache(other).get("k1") is None
    assert DecisionCache(tmp_path).get("k1") == ENTRY


def test_a_signed_entry_that_is_not_a_result_list_is_a_miss(tmp_path):
    cache = DecisionCache(tmp_path)
    cache.put("k", {"glossary.deny": [{"rule": "GLO-001"}]})  # no msg, kind, id
    assert cache.get("k") is None
    cache.put("k", {"glossary.deny": "not a list"})
    assert cache.get("k") is None


# -- the same decision --------------------------------------------------------------------------


class _Strings(yaml.SafeLoader):
    """YAML as the inventory reads it: dates and instants stay text."""


_Strings.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml(text: str):
    return yaml.load(text, Loader=_Strings)  # noqa: S506 - a SafeLoader


def _text(value) -> str:
    return yaml.safe_dump(value, sort_keys=False, width=1000)


def _edit(files: dict[str, str], rel: str, change) -> dict[str, str]:
    out = dict(files)
    doc = _yaml(out[rel])
    change(doc)
    out[rel] = _text(doc)
    return out


def base_files() -> dict[str, str]:
    """The sample inventory (two sites, grants, role bindings, site overrides) plus generated
    sites with their goals, two machines of a kind the glossary lacks (GLO-001), one of them
    waived until 2026-12-15."""
    files = {
        p.relative_to(SAMPLE).as_posix(): p.read_text()
        for p in SAMPLE.rglob("*.yaml")
        if "schema" not in p.relative_to(SAMPLE).parts
    }
    goals = _yaml(files["goals.yaml"])
    for index in range(GENERATED_SITES):
        files.update(_site(index, 24))
        goals["goals"] += _yaml("goals:\n" + _goal(index))["goals"]
    files["goals.yaml"] = _text(goals)
    machines = _yaml(files["sites/site-001/machines.yaml"])
    machines["machines"][1]["kind"] = "lathe-x"
    files["sites/site-001/machines.yaml"] = _text(machines)
    files = _edit(
        files, "sites/site-000/machines.yaml", lambda d: d["machines"][2].update(kind="lathe-y")
    )
    # a grant of one site whose target is another site's machine (the loader allows it)
    grants = _yaml(files["access/grants.yaml"])
    grants["grants"].append(
        {**grants["grants"][0], "id": "g-cross", "site": "site-000", "target": "rw-hmi-01"}
        | {"via": "site-000-bastion"}
    )
    files["access/grants.yaml"] = _text(grants)
    files["waivers.yaml"] = _text(
        {
            "waivers": [
                {
                    "id": "w-1",
                    "rule": "GLO-001",
                    "kind": "machine",
                    "object": machines["machines"][1]["id"],
                    "reason": "the term is being agreed",
                    "approver": "tberg",
                    "expires": "2026-12-15",
                }
            ]
        }
    )
    return files


BASE = base_files()
SITES = ["lakeside", "ridgeway", *(f"site-{i:03d}" for i in range(GENERATED_SITES))]


def _machines(files, site) -> list[dict]:
    return _yaml(files.get(f"sites/{site}/machines.yaml", "machines: []"))["machines"]


def edit(files: dict[str, str], what: str, site: str, pick: int) -> dict[str, str]:
    """One random edit of a pull request: a device, a site-level field or a global field."""
    machines_rel = f"sites/{site}/machines.yaml"
    machines = _machines(files, site)
    i = pick % max(1, len(machines))
    if what == "machine-criticality":
        return _edit(files, machines_rel, lambda d: d["machines"][i].update(criticality="standard"))
    if what == "machine-kind":
        return _edit(files, machines_rel, lambda d: d["machines"][i].update(kind="unknown-kind"))
    if what == "machine-added":

        def add(d):
            new = dict(d["machines"][i], id=f"{site}-new{pick}")
            new["controller"] = dict(new["controller"])
            parts = new["controller"]["address"].split(".")
            new["controller"]["address"] = ".".join([*parts[:3], str(240 + pick % 10)])
            d["machines"].append(new)

        return _edit(files, machines_rel, add)
    if what == "machine-removed":
        gone = machines[i]["id"]
        out = _edit(files, machines_rel, lambda d: d["machines"].pop(i))
        rel = f"sites/{site}/collectors.yaml"
        if rel in out:
            out = _edit(
                out,
                rel,
                lambda d: d.update(collectors=[c for c in d["collectors"] if c["machine"] != gone]),
            )
        return out
    if what == "collector-data-class":
        rel = f"sites/{site}/collectors.yaml"
        if rel not in files:
            return files
        return _edit(
            files,
            rel,
            lambda d: d["collectors"][pick % len(d["collectors"])]["signals"][0].update(
                data_class="no-such-class"
            ),
        )
    if what == "conduit-names-another-site":
        # a conduit listing a device address of another site (SEG: the address of that device)
        other = SITES[(SITES.index(site) + 1) % len(SITES)]
        theirs = _machines(files, other)
        if not theirs:
            return files
        address = theirs[pick % len(theirs)]["controller"]["address"]
        return _edit(
            files,
            f"sites/{site}/conduits.yaml",
            lambda d: d["conduits"][pick % len(d["conduits"])].update(destinations=[address]),
        )
    if what == "collector-reads-another-site":
        rel = f"sites/{site}/collectors.yaml"
        other = SITES[(SITES.index(site) + 1 + pick) % len(SITES)]
        theirs = _machines(files, other)
        if rel not in files or not theirs or other == site:
            return files
        return _edit(
            files,
            rel,
            lambda d: d["collectors"][pick % len(d["collectors"])].update(
                machine=theirs[pick % len(theirs)]["id"]
            ),
        )
    site_rel = f"sites/{site}/site.yaml"
    if what == "site-phase":
        return _edit(files, site_rel, lambda d: d["site"].update(phase="pilot"))
    if what == "site-survey-date":
        return _edit(
            files, site_rel, lambda d: d["site"].setdefault("survey", {}).update(date="2026-12-01")
        )
    if what == "site-signoffs":
        return _edit(files, site_rel, lambda d: d["site"].pop("signoffs", None))
    if what == "site-bridge-class":  # a class that may not leave its site (BRG, global scope)
        kept = [
            c["id"]
            for c in _yaml(files["data_classes.yaml"])["classes"]
            if not c.get("leaves_site")
        ]
        return _edit(
            files,
            site_rel,
            lambda d: (
                d["site"]
                .setdefault("bridge", {"classes": [], "outage_minutes": 240})["classes"]
                .append(kept[pick % len(kept)])
            ),
        )
    if what == "site-enterprise-broker":  # a second site hosting the enterprise broker
        if not site.startswith("site-"):
            return files
        octet = 10 + int(site.split("-")[1])
        broker = {"id": f"{site}-ent", "zone": "enterprise", "address": f"10.{octet}.212.20"}
        return _edit(
            files,
            site_rel,
            lambda d: d["site"]["services"].update(enterprise_broker={**broker, "port": 8883}),
        )
    if what == "global-glossary":
        return _edit(
            files,
            "glossary.yaml",
            lambda d: d.update(terms=[t for t in d["terms"] if t["id"] != "injection-molder"]),
        )
    if what == "global-team-kind":
        return _edit(files, "org/teams.yaml", lambda d: d["teams"][pick % 3].update(kind="quality"))
    if what == "global-waiver":
        return _edit(files, "waivers.yaml", lambda d: d["waivers"][0].update(expires="2027-12-31"))
    raise AssertionError(what)


EDITS = (
    "machine-criticality",
    "machine-kind",
    "machine-added",
    "machine-removed",
    "collector-data-class",
    "conduit-names-another-site",
    "collector-reads-another-site",
    "site-phase",
    "site-survey-date",
    "site-signoffs",
    "site-bridge-class",
    "site-enterprise-broker",
    "global-glossary",
    "global-team-kind",
    "global-waiver",
)


def inventory(files: dict[str, str]):
    return load(MemorySource(files), schema_root=SCHEMA, cache=False)


def pull_request(base, head, base_files_, head_files_) -> check.PullRequest:
    changed = sorted(
        f"inventory/{rel}"
        for rel in base_files_.keys() | head_files_.keys()
        if base_files_.get(rel) != head_files_.get(rel)
    )
    return check.PullRequest(
        base="base",
        head="head",
        changes=changes.diff(base, head),
        files=changed,
        reviews=[],
        author=None,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def engine():
    with OpaServer(POLICIES) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def base_inventory():
    return inventory(BASE)


def test_the_base_is_valid_and_judged_with_findings(engine, base_inventory):
    """The property test starts from an inventory with violations, warnings and a waiver."""
    decision = engine.decide(check.policy_input(base_inventory, at(NOWS[1])))
    assert decision["violations"] and decision["waived"]
    later = engine.decide(check.policy_input(base_inventory, at(NOWS[-1])))
    assert later["warnings"] or later["violations"] != decision["violations"]
    assert sorted(base_inventory.sites()) == sorted(SITES)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(EDITS), st.sampled_from(SITES), st.integers(0, 50)),
        min_size=1,
        max_size=2,
    ),
    warmed_at=st.sampled_from(NOWS),
    judged_at=st.sampled_from(NOWS),
)
def test_the_scoped_decision_is_the_whole_decision(
    engine, base_inventory, edits, warmed_at, judged_at
):
    head_files = BASE
    for what, site, pick in edits:
        head_files = edit(head_files, what, site, pick)
    try:
        head = inventory(head_files)
    except InvalidInput:  # an edit the loader refuses never reaches the policies
        return
    pr = pull_request(base_inventory, head, BASE, head_files)
    with tempfile.TemporaryDirectory(prefix="plantctl-scoped-") as tmp:
        scope = scoped.Scope(POLICIES, None, DecisionCache(Path(tmp)))
        # the base's run fills the cache at one instant, the pull request is judged at another
        warm_up = check.PullRequest("base", "base", [], [], [], None)
        scoped.decide(
            base_inventory,
            engine,
            check.policy_input(base_inventory, at(warmed_at), warm_up),
            warm_up,
            scope,
        )
        assert scope.stats["mode"] == "cold"
        got = scoped.decide(head, engine, check.policy_input(head, at(judged_at), pr), pr, scope)
        stats = dict(scope.stats)
    want = engine.decide(check.policy_input(head, at(judged_at), pr))
    assert got["violations"] == want["violations"]
    assert got["warnings"] == want["warnings"]
    assert got["waived"] == want["waived"]
    assert got["counts"] == want["counts"]
    assert got["approvals"] == want["approvals"]
    if scoped.is_global(pr):
        assert stats["mode"] == "whole"
    else:
        document = check.policy_input(head, at(judged_at), pr)
        sums = scoped.digests(document, scoped.slices(document), "any")
        touched = sums.with_references({c.site for c in pr.changes})
        assert stats["mode"] == ("cold" if touched >= set(SITES) else "scoped")
        # the sites the change cannot reach came from the cache, judged at another instant
        assert stats["hits"] >= len(set(SITES) - touched)


def test_the_rules_not_marked_clock_give_the_same_results_at_every_instant(engine, base_inventory):
    """What the cache keeps must not depend on input.now: every rule that does is marked."""
    judge = {n: d.clock_rules for n, d in rules.domains(POLICIES, domain_names()).items()}
    seen = []
    for now in NOWS:
        bindings = engine.query(scoped.WHOLE_QUERY, check.policy_input(base_inventory, at(now)))
        seen.append(
            {
                name: sorted(
                    (v["rule"], v["kind"], v["id"], v["msg"])
                    for level in ("deny", "warn")
                    for v in part[level]
                    if v["rule"] not in judge[name]
                )
                for name, part in bindings["parts"].items()
            }
        )
    assert all(s == seen[0] for s in seen)
    assert any(seen[0].values())


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_plantctl_check_of_a_pull_request_is_the_same_cold_warm_and_without_cache(tmp_path):
    """The gate end to end (`plantctl check --base --head`, its own OPA): with the caches off,
    cold, warm (the same pull request again) and for another pull request on a cached base."""
    repo = tmp_path / "repo"
    for rel, text in BASE.items():
        (repo / "inventory" / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / "inventory" / rel).write_text(text)
    shutil.copytree(SCHEMA, repo / "inventory" / "schema")
    shutil.copytree(POLICIES, repo / "policies")
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    subprocess.run(
        [sys.executable, "-m", "plantctl", "codeowners", "--inventory", "inventory"],
        cwd=repo,
        check=True,
        capture_output=True,
    )

    def commit(files: dict[str, str], message: str) -> str:
        for rel, text in files.items():
            (repo / "inventory" / rel).write_text(text)
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", message)
        return git(repo, "rev-parse", "HEAD")

    base = commit({}, "base")
    one = commit(edit(BASE, "machine-kind", "site-000", 4), "a machine's kind")
    git(repo, "checkout", "-q", base)
    other = commit(edit(BASE, "site-survey-date", "ridgeway", 0), "a survey date")
    cache = tmp_path / "cache"
    check_args = [sys.executable, "-m", "plantctl", "check", "--format", "json"]

    def run(head: str, **env: str) -> tuple[int, str]:
        done = subprocess.run(
            [*check_args, "--now", NOWS[2], "--base", base, "--head", head],
            cwd=repo,
            capture_output=True,
            text=True,
            env={**os.environ, "PLANTCTL_CACHE_DIR": str(cache), **env},
            timeout=300,
        )
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, done.stdout

    plain = run(one, PLANTCTL_CACHE="off")
    assert plain[0] == 1 and "GLO-001" in plain[1]
    assert run(one) == plain  # cold: fills the caches
    assert list((cache / "decisions").glob("??/*"))
    assert run(one) == plain  # warm
    assert run(other) == run(other, PLANTCTL_CACHE="off")  # another site changed
