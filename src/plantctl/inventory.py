"""The inventory model and its one loader.

Every consumer (policies, stacks, Ansible, generated files) reads an `Inventory` made here.
Loading parses each file once, checks it against its schema, builds records, then checks
references between records and the address plan; any problem stops it with InvalidInput.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plantctl import schemas
from plantctl.documents import Document, parse
from plantctl.problems import InvalidInput, Problem
from plantctl.sources import DirectorySource, Source


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
    keys: tuple  # path of the object inside its document
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


def _kind_for(rel: str) -> FileKind | None:
    for fk in FILE_KINDS:
        if fnmatch.fnmatchcase(rel, fk.pattern) and rel.count("/") == fk.pattern.count("/"):
            return fk
    return None


def _is_tool_file(rel: str) -> bool:
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in TOOL_FILES)


def load(source: Source | Path | str, schema_root: Path | None = None) -> Inventory:
    """Load and check an inventory. Raises InvalidInput listing every problem found."""
    if not hasattr(source, "files"):
        source = DirectorySource(Path(source))
    if schema_root is None:
        schema_root = schemas.schema_dir(Path(getattr(source, "root", default_root())))
    problems: list[Problem] = []
    documents: dict[str, Document] = {}
    records: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
    files = source.files()
    present = set()
    memo: dict = {}  # plain scalar text -> meaning, shared: equal keys and values are one object
    for rel in source.links():
        # Never read: a link could point anywhere (a secret, another folder), and the gate,
        # which reads git objects, would not see what it points to.
        problems.append(
            Problem(
                source.shown(rel),
                1,
                1,
                "is a symbolic link; inventory files are plain files inside inventory/ "
                "(replace the link by the file itself)",
                "INV-FILE",
            )
        )

    for rel in files:
        shown = source.shown(rel)
        if _is_tool_file(rel):
            continue
        fk = _kind_for(rel)
        if fk is None:
            problems.append(
                Problem(
                    shown,
                    1,
                    1,
                    "not an inventory file; expected one of "
                    + ", ".join(k.pattern for k in FILE_KINDS)
                    + " (check the file name and folder)",
                    "INV-FILE",
                )
            )
            continue
        present.add(fk.pattern)
        try:
            raw = source.read(rel)
            text = raw.decode("utf-8")
            doc = parse(text, shown, memo)
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(
                    shown,
                    1,
                    1,
                    f"not UTF-8 text ({exc.reason}); save the file as UTF-8",
                    "INV-YAML",
                )
            )
            continue
        except InvalidInput as exc:
            problems.extend(exc.problems)
            continue
        documents[shown] = doc
        found = schemas.validate(doc, fk.schema, schema_root)
        if found:
            problems.extend(found)
            continue
        site = rel.split("/")[1] if rel.startswith("sites/") else None
        problems.extend(_collect(doc, fk, site, records))

    for fk in FILE_KINDS:
        if fk.required and fk.pattern not in present:
            problems.append(
                Problem(
                    source.shown(fk.pattern),
                    1,
                    1,
                    "required inventory file is "
                    "missing; create it (see inventory/schema/"
                    f"{fk.schema}.schema.json)",
                    "INV-FILE",
                )
            )
    problems.extend(_site_folders(source, files, records))
    if problems:
        raise InvalidInput(problems)

    inventory = Inventory(source.label, documents, records)
    # Imported here: both modules read the model defined above.
    from plantctl import addressing, references

    problems.extend(references.check(inventory))
    problems.extend(addressing.check(inventory))
    if problems:
        raise InvalidInput(problems)
    return inventory


def _site_folders(source: Source, files: list[str], records) -> list[Problem]:
    """Each folder under sites/ is one site: it needs its site.yaml and zones.yaml."""
    folders: dict[str, list[str]] = {}
    for rel in files:
        parts = rel.split("/")
        if parts[0] == "sites" and len(parts) == 3:
            folders.setdefault(parts[1], []).append(parts[2])
    problems = []
    for folder, names in sorted(folders.items()):
        for needed in ("site.yaml", "zones.yaml"):
            if needed not in names:
                problems.append(
                    Problem(
                        source.shown(f"sites/{folder}/{sorted(names)[0]}"),
                        1,
                        1,
                        f"site folder sites/{folder}/ has no {needed}; add it",
                        "INV-FILE",
                    )
                )
    return problems


def _collect(doc: Document, fk: FileKind, site: str | None, records) -> list[Problem]:
    problems = []
    table = records[fk.kind]
    if fk.list_key is None:
        table["ownership"] = Record(fk.kind, "ownership", doc.data, doc, ())
        return problems
    body = doc.data[fk.list_key]
    items = (
        [(fk.list_key,)] if isinstance(body, dict) else [(fk.list_key, i) for i in range(len(body))]
    )
    for keys in items:
        data = doc.data[keys[0]] if len(keys) == 1 else body[keys[1]]
        key = _key_of(fk, data, site)
        if fk.kind == "site" and site is not None and data["id"] != site:
            line, col = doc.locate((*keys, "id"))
            problems.append(
                Problem(
                    doc.path,
                    line,
                    col,
                    f"site id {data['id']!r} differs from its "
                    f"folder sites/{site}/; make them the same",
                    "INV-ID",
                )
            )
        if key in table:
            first = table[key]
            line, col = doc.locate(keys)
            problems.append(
                Problem(
                    doc.path,
                    line,
                    col,
                    f"duplicate {fk.kind} {key!r}, first "
                    f"defined at {first.file}:{first.line}; give each its own id "
                    "or remove the copy",
                    "INV-DUPID",
                )
            )
            continue
        table[key] = Record(fk.kind, key, data, doc, keys, site)
    return problems


def _key_of(fk: FileKind, data: dict, site: str | None) -> str:
    if fk.kind == "training":
        return f"{data['person']}/{data['role']}/{data['completed']}"
    if fk.kind == "binding":
        return f"{data['person']}/{data['role']}/{data['site']}"
    ident = data[fk.id_field]
    return f"{site}/{ident}" if fk.site_scoped else ident


def default_root() -> Path:
    """The repository's inventory/: PLANTCTL_INVENTORY, else ./inventory."""
    import os

    return Path(os.environ.get("PLANTCTL_INVENTORY", "inventory"))
