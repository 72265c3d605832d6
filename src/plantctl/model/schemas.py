"""The inventory's JSON Schemas (inventory/schema/), and schema errors as plain advice."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

from plantctl.core.problems import InvalidInput, Problem
from plantctl.model.documents import Document

_YAML11_WORDS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


def schema_dir(inventory_root: Path) -> Path:
    return inventory_root / "schema"


def _inline(node: Any, files: dict[str, dict[str, Any]], current: str) -> Any:
    """Replace every $ref by the schema it names. Our schemas are not recursive, and a
    validator without references is several times faster than one resolving them per value."""
    if isinstance(node, list):
        return [_inline(item, files, current) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, _, pointer = node["$ref"].partition("#")
        name = target or current
        resolved: Any = files[name]
        for part in filter(None, pointer.split("/")):
            resolved = resolved[part]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        # The referenced definition's own words (e.g. its format description) win.
        return {**_inline(siblings, files, current), **_inline(resolved, files, name)}
    out = {k: _inline(v, files, current) for k, v in node.items() if k != "$defs"}
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _anchored(out["pattern"])
    return out


# An unescaped `$` matches before a final newline in Python's re (jsonschema searches with it),
# and at the very end only in fastjsonschema (which rewrites it as \Z). Both validators get
# the \Z spelling, so "g-rw-0007\n" is refused by both and they never disagree.
_DOLLAR = re.compile(r"(?<!\\)\$")


def _anchored(pattern: str) -> str:
    return _DOLLAR.sub(r"\\Z", pattern)


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# What ipaddress.IPv4Address accepts as text: four decimal octets of ASCII digits, 0-255,
# without leading zeros. Matched first; anything else still goes to ipaddress, which decides.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DOTTED_QUAD.fullmatch(value) is not None:
        return True
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


@dataclass
class _Checker:
    """A compiled fast check that answers valid or not, and the jsonschema validator that says
    why when it is not (made when first needed: most loads find nothing to explain). Both read
    the same inlined schema with the same format rules."""

    fast: Callable[[Any], Any]
    schema: dict[str, Any]
    _explain: Draft202012Validator | None = None

    @property
    def explain(self) -> Draft202012Validator:
        if self._explain is None:
            from jsonschema import Draft202012Validator, FormatChecker

            checker = FormatChecker(formats=())
            checker.checks("date")(_is_date)
            checker.checks("ipv4")(_is_ipv4)
            self._explain = Draft202012Validator(self.schema, format_checker=checker)
        return self._explain


@cache
def _validators(directory: str) -> dict[str, _Checker]:
    base = Path(directory)
    links = [file for file in sorted(base.glob("*.schema.json")) if file.is_symlink()]
    if links:  # never followed, as inventory files are not (sources.DirectorySource)
        raise InvalidInput(
            [
                Problem(str(file), 1, 1, "is a symbolic link; schemas are plain files", "INV-FILE")
                for file in links
            ]
        )
    files = {
        file.name: json.loads(file.read_text(encoding="utf-8"))
        for file in sorted(base.glob("*.schema.json"))
    }
    out = {}
    for name, schema in files.items():
        inlined = _inline(schema, files, name)
        # fastjsonschema knows drafts up to 7; our schemas use nothing newer once inlined.
        compiled = fastjsonschema.compile(
            {**inlined, "$schema": "http://json-schema.org/draft-07/schema#"},
            formats={"date": _is_date, "ipv4": _is_ipv4, "date-time": lambda _value: True},
            use_default=False,
        )
        out[name.removesuffix(".schema.json")] = _Checker(compiled, inlined)
    return out


def validators(directory: Path) -> None:
    """Compiles the schemas of `directory` now (they are kept for every later validate)."""
    _validators(str(directory.resolve()))


def validate(doc: Document, kind: str, directory: Path) -> list[Problem]:
    checker = _validators(str(directory.resolve())).get(kind)
    if checker is None:
        return [
            Problem(doc.path, 1, 1, f"no schema {kind}.schema.json in {directory}", "INV-SCHEMA")
        ]
    try:
        checker.fast(doc.data)
    except fastjsonschema.JsonSchemaException as refused:
        # Invalid, whatever follows: jsonschema only says where and why. Should it find
        # nothing (the two ever disagreeing), the fast validator's own reason is reported,
        # so validation can only fail closed.
        problems = []
        for error in checker.explain.iter_errors(doc.data):
            for leaf in _leaves(error):
                problems.extend(_problems(doc, leaf))
        return sorted(set(problems)) or [_refused(doc, refused)]
    return []


def _refused(doc: Document, refused: fastjsonschema.JsonSchemaException) -> Problem:
    """A problem from the fast validator's answer: its path ("data.grants[0].id") and rule."""
    name = getattr(refused, "name", "") or ""
    path = tuple(int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|\.([^.\[]+)", name))
    line, col = doc.locate(path)
    where = ".".join(str(p) for p in path) or "(top level)"
    value = getattr(refused, "value", None)
    rule = getattr(refused, "rule", None) or "schema"
    return Problem(
        doc.path,
        line,
        col,
        f"{where}: {_describe(value)} breaks the schema's {rule!r} rule; see the schema's "
        "description of this field",
        "INV-SCHEMA",
    )


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """anyOf/oneOf errors carry their real reasons in context; report those."""
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    return "a list"


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys",
    "null": "null",
}


def _problems(doc: Document, error: ValidationError) -> list[Problem]:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        path = tuple(error.absolute_path)
        where = ".".join(str(p) for p in path) or "(top level)"
        allowed = sorted(error.schema.get("properties", {}))
        hint = f"allowed keys: {', '.join(allowed)}" if allowed else "no other keys are allowed"
        return [
            Problem(
                doc.path,
                *doc.locate((*path, key)),
                f"{where}: unknown key {key!r}; remove it or fix its spelling ({hint})",
                "INV-SCHEMA",
            )
            for key in sorted(set(error.instance) - set(allowed))
        ]
    return [_problem(doc, error)]


def _problem(doc: Document, error: ValidationError) -> Problem:
    path = tuple(error.absolute_path)
    line, col = doc.locate(path)
    where = ".".join(str(p) for p in path) or "(top level)"
    v = error.validator
    inst = error.instance
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return Problem(
            doc.path, line, col, f"{where}: missing required key {missing!r}; add it", "INV-SCHEMA"
        )
    if v == "type":
        wanted: list[str] | str = error.validator_value
        wanted = wanted if isinstance(wanted, list) else [wanted]
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        msg = f"{where}: expected {words}, found {_describe(inst)}"
        if "boolean" in wanted and isinstance(inst, str) and inst.lower() in _YAML11_WORDS:
            msg += f"; YAML 1.2 reads {inst} as text, write true or false"
        elif "string" in wanted and isinstance(inst, (int, float)) and not isinstance(inst, bool):
            text = _source_text(doc, path)
            msg += f'; quote it so it stays text: "{text or inst}"'
        else:
            msg += f"; write {words}"
        return Problem(doc.path, line, col, msg, "INV-SCHEMA")
    if v == "enum":
        options = ", ".join(json.dumps(o) for o in error.validator_value)
        return Problem(
            doc.path,
            line,
            col,
            f"{where}: {_describe(inst)} is not allowed; use one of {options}",
            "INV-SCHEMA",
        )
    if v in ("pattern", "format"):
        described = error.schema.get("description")
        if not described and "$ref" in error.schema:
            described = None
        hint = described or f"it must match {error.validator_value}"
        return Problem(
            doc.path, line, col, f"{where}: {_describe(inst)} is not valid; {hint}", "INV-SCHEMA"
        )
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return Problem(
            doc.path, line, col, f"{where}: {error.message}; use a value in range", "INV-SCHEMA"
        )
    if v in ("minItems", "maxItems", "minLength", "maxLength"):
        return Problem(doc.path, line, col, f"{where}: {error.message}", "INV-SCHEMA")
    return Problem(doc.path, line, col, f"{where}: {error.message}", "INV-SCHEMA")


def _source_text(doc: Document, path: tuple[Any, ...]) -> str | None:
    """The characters written in the file for a scalar, e.g. 1.10 for a value read as 1.1."""
    at = doc.locate_value(path)
    if at is None:
        return None
    line, col = at
    lines = doc.text.splitlines()
    if line > len(lines):
        return None
    token = lines[line - 1][col - 1 :].split("#")[0].strip().rstrip(",}] ")
    return token.split(",")[0].split("}")[0].strip() or None
