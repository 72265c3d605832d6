"""RenderedFiles: generated configuration files written into a directory, atomically.

The production target writes the broker's and bastion's configuration here for the Ansible roles
that install those hosts; `pulumi preview` shows the diff of the configuration before it ships.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from plantctl.core import atomic

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write(directory: Path, files: dict[str, str]) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if not NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"file name {name!r} is not a plain file name")
        atomic.write_text(directory / name, text, 0o644)
    return {name: _digest(text) for name, text in files.items()}


class RenderedFilesProvider(ResourceProvider):
    def create(self, props):
        digests = _write(Path(props["directory"]), props["files"])
        return CreateResult(id_=props["directory"], outs={**props, "digests": digests})

    def diff(self, _id, olds, news):
        changed = [k for k in ("directory", "files", "declares") if olds.get(k) != news.get(k)]
        return DiffResult(
            changes=bool(changed),
            replaces=["directory"] if "directory" in changed else [],
            delete_before_replace=True,
        )

    def update(self, _id, olds, news):
        directory = Path(news["directory"])
        for gone in set(olds.get("files", {})) - set(news["files"]):
            (directory / gone).unlink(missing_ok=True)
        digests = _write(directory, news["files"])
        return UpdateResult(outs={**news, "digests": digests})

    def delete(self, _id, props):
        directory = Path(props["directory"])
        for name in props.get("files", {}):
            if NAME.fullmatch(name):
                (directory / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()


class RenderedFiles(pulumi.dynamic.Resource):
    """`files` (name -> text) in `directory`.

    `declares` is what the files configure as plain data ({"kind": "broker", "listeners": ...}),
    the form the plan policy (policies/plan/) reads from `pulumi preview --json`.
    """

    def __init__(self, name, directory, files, declares, opts=None):
        super().__init__(
            RenderedFilesProvider(),
            name,
            {"directory": directory, "files": files, "declares": declares, "digests": None},
            opts,
        )
