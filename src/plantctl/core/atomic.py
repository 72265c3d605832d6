"""Files replaced whole: written beside the target, then renamed, so no reader ever sees half.

The one implementation for the controller (reports, importers, rendered files, the lab's keys);
the collector, which runs alone on gateways, keeps its own three lines (collector/service.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Replace `path` by `data`; with `mode`, the file has it before it is visible. A path that
    is not a regular file (/dev/null, a pipe) is written to, never renamed over."""
    if path.exists() and not path.is_file():
        with path.open("wb") as handle:
            handle.write(data)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str, mode: int | None = None) -> Path:
    return write_bytes(path, text.encode("utf-8"), mode)
