"""Parsed and schema-checked inventory files, cached by content (issue: the gate at scale).

An entry is keyed by the file's git blob id (sha1 of `blob <size>\\0<content>`: the id git gives
the file, computed the same way for the work tree) and by the digest of the schema folder that
checked it, so a pull request's base and head share every file they have in common, and a
schema change is a new key. Only files that parsed and passed their schema are cached: every
problem is found again, with its own message, each time.

Never trusted: an entry carries its blob id, the schema digest and an HMAC-SHA256 under a
per-user key (`<cache>/key`, 0600) over all of it; a corrupt, truncated, foreign or stale entry
is ignored (and replaced). Entries are written beside their final name and renamed, so
concurrent gate runs read a whole entry or none. The cache lives outside the repository:
$PLANTCTL_CACHE_DIR, else $XDG_CACHE_HOME/plantctl/parse, else ~/.cache/plantctl/parse;
PLANTCTL_CACHE=off turns it off. It never changes a decision (tests/test_parse_cache.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
from pathlib import Path
from typing import Any

from plantctl.core import atomic

MAGIC = b"plantctl-parse-1\n"  # bump when Document's data or tree layout changes
KEY_BYTES = 32


def blob_id(raw: bytes) -> str:
    """The git blob id of `raw` (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def schema_digest(schema_root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(schema_root.glob("*.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def default_dir() -> Path | None:
    if os.environ.get("PLANTCTL_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    if os.environ.get("PLANTCTL_CACHE_DIR"):
        return Path(os.environ["PLANTCTL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plantctl" / "parse"


class ParseCache:
    """Get and put (data, tree) of one file's Document under (blob id, schema digest, kind)."""

    def __init__(self, directory: Path, schemas: str):
        self.dir = directory
        self.schemas = schemas
        self.hits = 0
        self.misses = 0
        self._key = self._secret()

    @classmethod
    def open(cls, schema_root: Path, directory: Path | None = None) -> ParseCache | None:
        """The cache for this schema folder, or None when off or not usable (never an error:
        without a cache the loader only takes longer)."""
        directory = directory or default_dir()
        if directory is None:
            return None
        try:
            return cls(directory, schema_digest(schema_root))
        except OSError:
            return None

    def _secret(self) -> bytes:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.dir / "key"
        with contextlib.suppress(FileNotFoundError):
            key = path.read_bytes()
            if len(key) == KEY_BYTES:
                return key
        # First run (or a damaged key): publish a new key atomically; a concurrent run that
        # won the race has its key read back, so every run signs with the same one.
        tmp = self.dir / f".key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(KEY_BYTES))
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = path.read_bytes()
            if len(key) != KEY_BYTES:  # damaged: replace it (old entries then fail their HMAC)
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_bytes()

    def _path(self, blob: str, kind: str) -> tuple[Path, bytes]:
        head = MAGIC + f"{blob} {self.schemas} {kind}\n".encode()
        name = hashlib.sha256(head).hexdigest()
        return self.dir / name[:2] / name[2:], head

    def get(self, blob: str, kind: str) -> tuple[Any, Any] | None:
        path, head = self._path(blob, kind)
        try:
            entry = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        mac, body = entry[:32], entry[32:]
        good = (
            len(entry) > 32 + len(head)
            and body.startswith(head)
            and hmac.compare_digest(mac, hmac.new(self._key, body, "sha256").digest())
        )
        if not good:
            self.misses += 1
            return None
        try:
            # Safe to unpickle: the HMAC proves this process's user wrote exactly these bytes.
            data, tree = pickle.loads(body[len(head) :])  # noqa: S301
        except Exception:  # a valid MAC over a payload another version wrote: a miss
            self.misses += 1
            return None
        self.hits += 1
        return data, tree

    def put(self, blob: str, kind: str, data: Any, tree: Any) -> None:
        path, head = self._path(blob, kind)
        body = head + pickle.dumps((data, tree), protocol=pickle.HIGHEST_PROTOCOL)
        mac = hmac.new(self._key, body, "sha256").digest()
        with contextlib.suppress(OSError):  # a full disk costs speed, never a decision
            path.parent.mkdir(exist_ok=True, mode=0o700)
            atomic.write_bytes(path, mac + body, 0o600)
