#!/usr/bin/env python3
"""Each role README's variables table, generated from the role's meta/argument_specs.yml.

The argument spec is the one source of a role's variables (name, type, default, meaning): Ansible
checks the variables against it when the role starts, defaults/main.yml holds the same defaults
(tests/test_single_sources.py), and this writes the README's table between the marker comments,
keeping the rest of the README as it is.

    tools/role_docs.py [--check] [--roles DIR] [ROLE ...]

--check writes nothing and exits 1 (showing a diff) when a README differs from what the spec
gives; `make lint` runs it. Exit 2: a role has no spec, or its README no markers.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- role_docs: begin (generated from meta/argument_specs.yml by tools/role_docs.py) -->"
END = "<!-- role_docs: end -->"
_MARKUP = re.compile(r"\b([CIOVB])\(([^()]*)\)")
_STYLE = {"C": "`{}`", "O": "`{}`", "V": "`{}`", "I": "*{}*", "B": "**{}**"}


class RoleDocsError(Exception):
    """A role whose README cannot be generated (exit 2)."""


def _text(description: Any) -> str:
    """An argument spec description (text or list of paragraphs) as one Markdown table cell."""
    parts = description if isinstance(description, list) else [description or ""]
    text = " ".join(" ".join(str(p).split()) for p in parts)
    text = _MARKUP.sub(lambda m: _STYLE[m.group(1)].format(m.group(2)), text)
    # Outside code spans, < and > are text, never an HTML tag (`releases/<build id>`).
    spans = text.split("`")
    spans[::2] = [s.replace("<", "&lt;").replace(">", "&gt;") for s in spans[::2]]
    return "`".join(spans).replace("|", "\\|")


def _value(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)
    return "`" + shown.replace("|", "\\|") + "`"


def _kind(spec: dict) -> str:
    kind = spec.get("type", "str")
    return f"{kind} of {spec['elements']}" if spec.get("elements") else kind


def _rows(options: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, spec in options.items():
        if spec.get("required"):
            default = "(required)"
        elif "default" in spec:
            default = _value(spec["default"])
        else:
            default = "(none)"
        meaning = _text(spec.get("description"))
        if spec.get("choices"):
            meaning += " One of " + ", ".join(_value(c) for c in spec["choices"]) + "."
        rows.append(f"| `{prefix}{name}` | {_kind(spec)} | {default} | {meaning} |")
        if spec.get("options"):
            inner = f"{prefix}{name}[]." if spec.get("type") == "list" else f"{prefix}{name}."
            rows += _rows(spec["options"], inner)
    return rows


def spec_of(role: Path) -> dict:
    path = role / "meta" / "argument_specs.yml"
    if not path.is_file():
        raise RoleDocsError(f"{path}: no argument spec")
    return yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"]


def table(role: Path) -> str:
    """The generated block, markers included."""
    lines = [
        BEGIN,
        "",
        "Described, typed and defaulted in `meta/argument_specs.yml` (Ansible checks the variables",
        "against it when the role starts); `defaults/main.yml` holds the same defaults. This table",
        "is generated from the spec: edit the spec, then run `tools/role_docs.py`.",
        "",
        "| variable | type | default | meaning |",
        "| --- | --- | --- | --- |",
        *_rows(spec_of(role).get("options", {})),
        "",
        END,
    ]
    return "\n".join(lines)


def render(role: Path) -> tuple[str, str]:
    """(the README now, the README as the spec gives it)."""
    path = role / "README.md"
    text = path.read_text(encoding="utf-8")
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise RoleDocsError(f"{path}: no {BEGIN!r} ... {END!r} markers")
    return text, text[:start] + table(role) + text[stop + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    parser.add_argument("--roles", type=Path, default=ROOT / "roles", help="the roles folder")
    parser.add_argument("role", nargs="*", help="role names (default: every role with a spec)")
    args = parser.parse_args(argv)
    names = args.role or sorted(
        p.parent.parent.name for p in args.roles.glob("*/meta/argument_specs.yml")
    )
    drifted = []
    try:
        for name in names:
            role = args.roles / name
            old, new = render(role)
            if old == new:
                continue
            readme = role / "README.md"
            if args.check:
                drifted.append(name)
                sys.stdout.writelines(
                    difflib.unified_diff(
                        old.splitlines(keepends=True),
                        new.splitlines(keepends=True),
                        f"{readme} (now)",
                        f"{readme} (from meta/argument_specs.yml)",
                    )
                )
            else:
                readme.write_text(new, encoding="utf-8")
                print(f"{readme}: variables table written")
    except (RoleDocsError, OSError, KeyError, yaml.YAMLError) as exc:
        print(f"role_docs: {exc}", file=sys.stderr)
        return 2
    if drifted:
        print(
            f"role_docs: the variables table of {', '.join(drifted)} differs from "
            "meta/argument_specs.yml; run tools/role_docs.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
