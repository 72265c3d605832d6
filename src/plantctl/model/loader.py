"""The loader: the one way an inventory is read.

Loading parses each file once, checks it against its schema, builds records, then checks
references between records and the address plan; any problem stops it with InvalidInput.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from plantctl.core.problems import InvalidInput, Problem
from plantctl.model import addressing, parsing, references, schemas
from plantctl.model.documents import Document
from plantctl.model.inventory import (
    FILE_KINDS,
    KINDS,
    FileKind,
    Inventory,
    Record,
    default_root,
    is_tool_file,
    kind_for,
)
from plantctl.model.parse_cache import ParseCache, blob_id
from plantctl.model.sources import DirectorySource, Source


def load(
    source: Source | Path | str,
    schema_root: Path | None = None,
    *,
    cache: ParseCache | bool | None = True,
) -> Inventory:
    """Load and check an inventory. Raises InvalidInput listing every problem found.

    Files that parsed and passed their schema before are taken from the parse cache
    (model/parse_cache.py; `cache=False` reads without it); every check after that runs."""
    if not hasattr(source, "files"):
        source = DirectorySource(Path(source))
    source = cast(Source, source)  # a Source now: it has files() (a path was opened above)
    if schema_root is None:
        schema_root = schemas.schema_dir(Path(getattr(source, "root", default_root())))
    if cache is True:
        cache = ParseCache.open(schema_root)
    elif cache is False:
        cache = None
    problems: list[Problem] = []
    documents: dict[str, Document] = {}
    records: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
    files = source.files()
    present = set()
    memo: dict[
        str, Any
    ] = {}  # plain scalar text -> meaning, shared: equal keys and values are one object
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

    # Read every file first; what the cache has not seen is parsed and checked in one batch
    # (model/parsing.py: on every core when it is big); then records are collected in file order.
    pending: list[tuple[str, str, FileKind, str, str]] = []  # rel, shown, kind, text, blob
    outcomes: dict[str, tuple[Document, bool]] = {}  # shown -> document, from the cache
    unreadable: dict[str, Problem] = {}
    for rel in files:
        shown = source.shown(rel)
        if is_tool_file(rel):
            continue
        fk = kind_for(rel)
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
        raw = source.read(rel)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            unreadable[shown] = Problem(
                shown, 1, 1, f"not UTF-8 text ({exc.reason}); save the file as UTF-8", "INV-YAML"
            )
            pending.append((rel, shown, fk, "", ""))
            continue
        blob = blob_id(raw) if cache else ""
        hit = cache.get(blob, fk.schema) if cache else None
        if hit is not None:
            outcomes[shown] = (Document(shown, hit[0], hit[1], text), True)
        pending.append((rel, shown, fk, text, blob))
    todo = [
        parsing.Item(shown, text, fk.schema)
        for _rel, shown, fk, text, _blob in pending
        if shown not in outcomes and shown not in unreadable
    ]
    parsed = dict(
        zip((item.shown for item in todo), parsing.parse_all(todo, schema_root, memo), strict=True)
    )
    for rel, shown, fk, text, blob in pending:
        if shown in unreadable:
            problems.append(unreadable[shown])
            continue
        if shown in outcomes:
            doc = outcomes[shown][0]
        else:
            outcome = parsed[shown]
            if not outcome.parsed:
                problems.extend(outcome.problems)
                continue
            doc = Document(shown, outcome.data, outcome.tree, text)
            if outcome.problems:
                problems.extend(outcome.problems)
                continue
            if cache:
                cache.put(blob, fk.schema, doc.data, doc.tree)
        documents[shown] = doc
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
    problems.extend(references.check(inventory))
    problems.extend(addressing.check(inventory))
    if problems:
        raise InvalidInput(problems)
    return inventory


def _site_folders(
    source: Source, files: list[str], records: dict[str, dict[str, Record]]
) -> list[Problem]:
    """Each folder under sites/ is one site: it needs its site.yaml and zones.yaml."""
    folders: dict[str, list[str]] = {}
    for rel in files:
        parts = rel.split("/")
        if parts[0] == "sites" and len(parts) == 3:
            folders.setdefault(parts[1], []).append(parts[2])
    problems: list[Problem] = []
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


def _collect(
    doc: Document, fk: FileKind, site: str | None, records: dict[str, dict[str, Record]]
) -> list[Problem]:
    problems: list[Problem] = []
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


def _key_of(fk: FileKind, data: dict[str, Any], site: str | None) -> str:
    if fk.kind == "training":
        return f"{data['person']}/{data['role']}/{data['completed']}"
    if fk.kind == "binding":
        return f"{data['person']}/{data['role']}/{data['site']}"
    ident = data[cast(str, fk.id_field)]  # the kinds without an id field are handled above
    return f"{site}/{ident}" if fk.site_scoped else ident
