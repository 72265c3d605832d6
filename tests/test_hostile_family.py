"""A generated family of hostile edits over every field of the sample plant (issue 12).

For each kind of field the schema has (one occurrence of each field path per file kind), the
edits a careless or malicious pull request could make: for text, a trailing newline, a newline
with a second line in the syntax of the generated files (CODEOWNERS, nftables, authorized_keys),
a comment character, a wildcard and path separators; for numbers, NaN, infinity, huge and
negative values; for every list of services, port ranges of every wrong shape. Each edit must
end in exit 2 (validation) or a named rule (the real policies through a real OPA server), never
a traceback and never "engine unavailable".

The one exception is prose (fields of the schema's `text` type, for people: names, purposes,
descriptions), where `#`, `*` and `/` are ordinary writing: such edits may pass, and then every
renderer must write exactly what it writes for the sample (prose never reaches a configuration)
or refuse. Line breaks and control characters are refused in prose too. A signed number (a
signal's declared range) may likewise be negative, under the same condition.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from plantctl.collector.config import ConfigError
from plantctl.configs import authorized_keys, mosquitto, nftables
from plantctl.core.problems import InvalidInput
from plantctl.gate import check, codeowners
from plantctl.model.documents import parse
from plantctl.model.inventory import FILE_KINDS, kind_for
from plantctl.model.loader import load
from plantctl.model.schemas import _validators, schema_dir
from plantctl.model.sources import DirectorySource, MemorySource
from plantctl.plant import broker_access, gateway_vars, grants, segmentation

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inventory"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
MARK = "pwned"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

STRING_EDITS = {
    "trailing newline": lambda v: v + "\n",
    "second line": lambda v: v + f"\n* @{MARK}/owner accept ssh-ed25519 AAAA {MARK}",
    "comment": lambda v: v + f" # {MARK}",
    "wildcard": lambda v: v + "*",
    "path separators": lambda v: f"../{v}/../{MARK}",
    "control character": lambda v: v + "\x1b[2J",
}
PROSE_MAY_PASS = {"comment", "wildcard", "path separators"}
# A signed quantity (a signal's declared range: -20 degC is a temperature) may be negative: such
# an edit may pass, and then, like prose, it must reach no configuration.
SIGNED_MAY_PASS = {"negative"}
NUMBER_EDITS = {
    "NaN": float("nan"),
    "infinity": float("inf"),
    "negative infinity": float("-inf"),
    "huge float": 1e300,
    "huge integer": 10**30,
    "negative": -1,
    "huge negative": -(10**30),
}
SERVICE_EDITS = {
    "every port as a range": {"protocol": "tcp", "port": 1, "port_end": 65535},
    "backwards range": {"protocol": "tcp", "port": 443, "port_end": 1},
    "wide range": {"protocol": "udp", "port": 1000, "port_end": 2000},
    "range without a start": {"protocol": "tcp", "port_end": 22},
    "port zero": {"protocol": "tcp", "port": 0},
    "port past the last": {"protocol": "tcp", "port": 65536},
    "any protocol": {"protocol": "any"},
    "every tcp port": {"protocol": "tcp"},
}


@dataclass(frozen=True)
class Edit:
    file: str  # relative to inventory/
    path: tuple  # inside the file's data
    what: str
    value: Any
    prose: bool  # prose text, or a signed number: may pass its *_MAY_PASS edits

    def __str__(self) -> str:
        return f"{self.file}:{'.'.join(map(str, self.path))}: {self.what}"


def _schema_at(schema: dict, path: tuple) -> dict:
    """The (inlined) schema of the value at `path`."""
    node = schema
    for key in path:
        if isinstance(key, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(key) or node.get("additionalProperties") or {}
    return node


def _is_prose(node: dict) -> bool:
    return node.get("type") == "string" and node.get("maxLength") == 2000


def _is_signed(node: dict) -> bool:
    return node.get("type") == "number" and node.get("minimum", 0) < 0


def _leaves(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*path, i))
    else:
        yield path, data


def edits() -> list[Edit]:
    """One occurrence of every field path of every file kind, and its hostile edits."""
    validators = _validators(str(schema_dir(SAMPLE).resolve()))
    source = DirectorySource(SAMPLE)
    out: list[Edit] = []
    seen: set[tuple] = set()
    for rel in source.files():
        kind = kind_for(rel)
        if kind is None:
            continue
        data = _data(rel, source.read(rel))
        schema = validators[kind.schema].schema
        for path, value in _leaves(data):
            shape = (kind.schema, tuple("*" if isinstance(p, int) else p for p in path))
            if shape in seen:
                continue
            seen.add(shape)
            node = _schema_at(schema, path)
            if isinstance(value, str):
                prose = _is_prose(node)
                out += [Edit(rel, path, w, f(value), prose) for w, f in STRING_EDITS.items()]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                signed = _is_signed(node)
                out += [Edit(rel, path, w, v, signed) for w, v in NUMBER_EDITS.items()]
        for path, _services in _service_lists(data):
            shape = (kind.schema, "services", tuple("*" if isinstance(p, int) else p for p in path))
            if shape in seen:
                continue
            seen.add(shape)
            out += [Edit(rel, (*path, 0), w, s, False) for w, s in SERVICE_EDITS.items()]
    return out


def _service_lists(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, list]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "services" and isinstance(value, list) and value:
                yield (*path, key), value
            else:
                yield from _service_lists(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _service_lists(value, (*path, i))


def _data(rel: str, text: bytes) -> Any:
    """A file's data with the loader's own (YAML 1.2) meanings; dumped again by PyYAML, which
    quotes whatever YAML 1.1 would read otherwise (dates, times, yes/no)."""
    return parse(text.decode(), rel).data


def _apply(files: dict[str, bytes], edit: Edit) -> dict[str, bytes]:
    data = _data(edit.file, files[edit.file])
    node = data
    for key in edit.path[:-1]:
        node = node[key]
    node[edit.path[-1]] = edit.value
    return {**files, edit.file: yaml.safe_dump(data, sort_keys=False).encode()}


def _broker(access) -> str:
    return mosquitto.render_conf(access) + mosquitto.render_acl(access)


def _render(inv, host_vars: bool = True) -> dict[str, str]:
    """Every generated file the inventory drives, or the renderer's refusal."""
    out: dict[str, str] = {}

    def each(name: str, make) -> None:
        try:
            out[name] = make()
        except (ValueError, ConfigError) as exc:  # UnsafeToken, a time that is not one, ...
            out[name] = f"refused: {type(exc).__name__}"

    each("CODEOWNERS", lambda: codeowners.render(inv))
    keys = {login: KEY for login in inv.of("person")}
    for site in inv.sites():
        services = inv.get("site", site).data.get("services", {})
        each(f"nft {site}", lambda s=site: nftables.render(segmentation.build(inv, s)))
        if services.get("broker"):
            each(f"broker {site}", lambda s=site: _broker(broker_access.build(inv, s)))
        if services.get("bastion"):
            each(
                f"bastion {site}",
                lambda s=site: "".join(
                    authorized_keys.render(e, KEY)
                    for e in grants.build(inv, s, keys, now=NOW).entries
                ),
            )
    for gw in sorted(inv.of("gateway")) if host_vars else ():
        each(f"host vars {gw}", lambda g=gw: json.dumps(gateway_vars.for_gateway(inv, g)))
    return out


def _only_as_data(before: str | None, after: str, value: str) -> bool:
    """Host variables are data for Ansible (marked unsafe, never templated): prose may be
    there, but only as a whole value in the place of the old one."""
    if before is None or not before.startswith("{"):
        return False
    old, new = list(_leaves(json.loads(before))), list(_leaves(json.loads(after)))
    if [path for path, _ in old] != [path for path, _ in new]:
        return False
    return all(b == value for (_, a), (_, b) in zip(old, new, strict=True) if a != b)


@pytest.fixture(scope="module")
def engine():
    with check.engine(ROOT / "policies") as endpoint:
        yield endpoint


def _sample_files() -> dict[str, bytes]:
    source = DirectorySource(SAMPLE)
    return {rel: source.read(rel) for rel in source.files()}


def test_the_family_covers_every_file_kind_and_the_dumped_sample_is_clean(engine):
    files = _sample_files()
    dumped = {
        rel: yaml.safe_dump(_data(rel, text), sort_keys=False).encode() if kind_for(rel) else text
        for rel, text in files.items()
    }
    inv = load(MemorySource(dumped), schema_root=schema_dir(SAMPLE))
    report = check.evaluate(inv, engine, NOW)
    assert report.findings == []
    covered = {e.file for e in edits()}
    assert {fk.pattern for fk in FILE_KINDS if any(kind_for(f) is fk for f in covered)} >= {
        fk.pattern for fk in FILE_KINDS if fk.required
    }


def test_every_hostile_edit_is_refused(engine, capsys):
    files = _sample_files()
    baseline = _render(load(SAMPLE))
    family = edits()
    passed: list[str] = []
    outcomes = {"exit 2": 0, "rule": 0, "prose, renderers unchanged": 0}
    for edit in family:
        edited = _apply(files, edit)
        try:
            inv = load(MemorySource(edited), schema_root=schema_dir(SAMPLE))
        except InvalidInput as exc:
            assert exc.problems, str(edit)
            outcomes["exit 2"] += 1
            continue
        report = check.evaluate(inv, engine, NOW)  # EngineUnavailable here fails the test
        if report.findings:
            outcomes["rule"] += 1
            continue
        if edit.prose and edit.what in PROSE_MAY_PASS | SIGNED_MAY_PASS:
            rendered = _render(inv)
            changed = {
                name
                for name, text in rendered.items()
                if text != baseline.get(name)
                and not text.startswith("refused:")
                and not _only_as_data(baseline.get(name), text, edit.value)
            }
            assert not changed, f"{edit}: prose reached {sorted(changed)}"
            outcomes["prose, renderers unchanged"] += 1
            continue
        passed.append(str(edit))
    with capsys.disabled():
        print(
            f"\nhostile family: {len(family)} edits over "
            f"{len({(e.file, e.path) for e in family})} fields tried: "
            + ", ".join(f"{n} {what}" for what, n in outcomes.items())
        )
    assert not passed, f"{len(passed)} hostile edits passed:\n" + "\n".join(passed[:40])


def test_the_renderers_refuse_hostile_text_that_skipped_validation(capsys):
    """The second lock: the same string edits put straight into a validated inventory (as if
    validation had let them through) never reach a generated configuration file; each renderer
    refuses or writes what it writes for the sample. Host variables are data and left out."""
    baseline = _render(load(SAMPLE), host_vars=False)
    tried = 0
    for edit in edits():
        if not isinstance(edit.value, str) or edit.prose:
            continue
        inv = load(SAMPLE)
        doc = inv.documents[f"inventory/{edit.file}"]
        node = doc.data
        for key in edit.path[:-1]:
            node = node[key]
        node[edit.path[-1]] = edit.value
        try:
            rendered = _render(inv, host_vars=False)
        except KeyError:  # an id the edit renamed: its object is gone, nothing is written
            continue
        tried += 1
        for name, text in rendered.items():
            if text.startswith("refused:"):
                continue
            assert MARK not in text and "\x1b" not in text, f"{edit} reached {name}"
            assert text == baseline[name] or "\n* @" not in text, f"{edit} reached {name}"
    with capsys.disabled():
        print(f"\nhostile family, renderers: {tried} edits put past validation, none written")
    assert tried > 100
