"""Per-site policy results, cached by content (issue 15 item 2): what the site-scoped rules said
of one site, keyed by the digests of the policies, the global facts and that site's facts
(gate/scoped.py makes the key; this module only stores and checks entries).

Same integrity rules as the parse cache (model/parse_cache.py), in its folder (`decisions/`),
signed with its per-user key: an entry carries its key and an HMAC-SHA256 over all of it; a
corrupt, truncated, foreign or malformed entry is a miss (and is replaced), never trusted.
Entries are JSON and written whole (core/atomic.py), so concurrent gate runs read a whole entry
or none. PLANTCTL_CACHE=off turns it off with the parse cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from pathlib import Path

from plantctl.core import atomic
from plantctl.model import parse_cache

MAGIC = b"plantctl-decision-1\n"  # bump when an entry's layout or what it holds changes
FOLDER = "decisions"


class DecisionCache:
    """get/put one site's results (a dict of lists of violation objects) under a hex key."""

    def __init__(self, directory: Path):
        # The parse cache makes (or reads) the per-user key in its folder; ours is beside it.
        self._key = parse_cache.ParseCache(directory, FOLDER)._key
        self.dir = directory / FOLDER
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.hits = 0
        self.misses = 0

    @classmethod
    def open(cls, directory: Path | None = None) -> DecisionCache | None:
        """The cache, or None when off or not usable (never an error: only slower)."""
        directory = directory or parse_cache.default_dir()
        if directory is None:
            return None
        try:
            return cls(directory)
        except OSError:
            return None

    def _path(self, key: str) -> tuple[Path, bytes]:
        head = MAGIC + key.encode() + b"\n"
        name = hashlib.sha256(head).hexdigest()
        return self.dir / name[:2] / name[2:], head

    def get(self, key: str, well_formed=None) -> dict | None:
        """The entry under `key` if it verifies and is well formed (by default: a site's
        results), else None."""
        well_formed = well_formed or _well_formed
        path, head = self._path(key)
        try:
            entry = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        mac, body = entry[:32], entry[32:]
        value = None
        if (
            len(entry) > 32 + len(head)
            and body.startswith(head)
            and hmac.compare_digest(mac, hmac.new(self._key, body, "sha256").digest())
        ):
            with contextlib.suppress(ValueError):
                value = json.loads(body[len(head) :])
        if not well_formed(value):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: dict) -> None:
        path, head = self._path(key)
        body = head + json.dumps(value, separators=(",", ":")).encode()
        mac = hmac.new(self._key, body, "sha256").digest()
        with contextlib.suppress(OSError):  # a full disk costs speed, never a decision
            path.parent.mkdir(exist_ok=True, mode=0o700)
            atomic.write_bytes(path, mac + body, 0o600)


def _well_formed(value: object) -> bool:
    """An entry is {name: [violation, ...]} with every violation an object with its keys."""
    if not isinstance(value, dict):
        return False
    for results in value.values():
        if not isinstance(results, list):
            return False
        for v in results:
            if not isinstance(v, dict) or not {"rule", "msg", "kind", "id"} <= set(v):
                return False
    return True
