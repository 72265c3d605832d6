"""The inventory model: its file kinds, records and the validated inventory.

Every consumer (policies, stacks, Ansible, generated files) reads an `Inventory` made by the
one loader (`plantctl.model.loader`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plantctl.core.problems import Problem
from plantctl.model.documents import Document


@dataclass(frozen=True)
class FileKind:
    """One kind of inventory file: its schema, where its objects are, what they are called."""

    pattern: str  # relative to the inventory root
    schema: str
    kind: str  # record kind
    list_key: str | None  # top-level key holding a list of objects; None: one object
    id_field: str | None = "id"
    required: bool = False
    site_scoped: bool = False  # ids are unique per site, keys are "<site>/<id>"


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("org/teams.yaml", "teams", "team", "teams", required=True),
    FileKind("org/people.yaml", "people", "person", "people", "login", required=True),
    FileKind("org/roles.yaml", "roles", "role", "roles", required=True),
    FileKind("org/ownership.yaml", "ownership", "ownership", None, None, required=True),
    FileKind("org/training.yaml", "training", "training", "records", None, required=True),
    FileKind("org/role_bindings.yaml", "role_bindings", "binding", "bindings", None, required=True),
    FileKind("glossary.yaml", "glossary", "term", "terms", required=True),
    FileKind("data_classes.yaml", "data_classes", "data_class", "classes", required=True),
    FileKind("protocols.yaml", "protocols", "protocol", "protocols", required=True),
    FileKind("goals.yaml", "goals", "goal", "goals"),
    FileKind("access/grants.yaml", "grants", "grant", "grants"),
    FileKind("waivers.yaml", "waivers", "waiver", "waivers"),
    FileKind("sites/*/site.yaml", "site", "site", "site"),
    FileKind("sites/*/zones.yaml", "zones", "zone", "zones", site_scoped=True),
    FileKind("sites/*/conduits.yaml", "conduits", "conduit", "conduits", site_scoped=True),
    FileKind("sites/*/machines.yaml", "machines", "machine", "machines"),
    FileKind("sites/*/gateways.yaml", "gateways", "gateway", "gateways"),
    FileKind("sites/*/collectors.yaml", "collectors", "collector", "collectors"),
    FileKind("sites/*/devices.yaml", "devices", "device", "devices"),
)

# Files under inventory/ that are not inventory data (tool configuration) and are not loaded.
TOOL_FILES: tuple[str, ...] = ("README.md", "schema/*", "plantctl.ansible.yml")

KINDS = tuple(dict.fromkeys(k.kind for k in FILE_KINDS))


@dataclass
class Record:
    """One inventory object: its data and where it is written."""

    kind: str
    key: str  # unique within its kind
    data: dict[str, Any]
    doc: Document = field(repr=False)
    keys: tuple[str | int, ...]  # path of the object inside its document
    site: str | None = None

    @property
    def id(self) -> str:
        return self.key.split("/")[-1] if self.kind in ("zone", "conduit") else self.key

    @property
    def file(self) -> str:
        return self.doc.path

    @property
    def line(self) -> int:
        return self.doc.locate(self.keys)[0]

    def locate(self, *sub: str | int) -> tuple[str, int, int]:
        line, col = self.doc.locate((*self.keys, *sub))
        return self.doc.path, line, col

    def problem(self, message: str, rule: str, *sub: str | int) -> Problem:
        return Problem(*self.locate(*sub), message, rule)


@dataclass
class Inventory:
    """The validated inventory: records by kind and key, and the documents they came from."""

    source_label: str
    documents: dict[str, Document]
    records: dict[str, dict[str, Record]]

    def of(self, kind: str) -> dict[str, Record]:
        return self.records.get(kind, {})

    def get(self, kind: str, key: str) -> Record | None:
        return self.records.get(kind, {}).get(key)

    @property
    def ownership(self) -> Record:
        return next(iter(self.of("ownership").values()))

    def sites(self) -> list[str]:
        return sorted(self.of("site"))

    def site_objects(self, kind: str, site: str) -> list[Record]:
        return [r for r in self.of(kind).values() if r.site == site]

    def zone_of(self, record: Record) -> Record | None:
        return self.get("zone", f"{record.site}/{record.data.get('zone')}")


def kind_for(rel: str) -> FileKind | None:
    for fk in FILE_KINDS:
        if fnmatch.fnmatchcase(rel, fk.pattern) and rel.count("/") == fk.pattern.count("/"):
            return fk
    return None


def is_tool_file(rel: str) -> bool:
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in TOOL_FILES)


def default_root() -> Path:
    """The repository's inventory/: PLANTCTL_INVENTORY, else ./inventory."""
    import os

    return Path(os.environ.get("PLANTCTL_INVENTORY", "inventory"))
