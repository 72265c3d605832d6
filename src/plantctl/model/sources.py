"""Where inventory files come from: a folder on disk, or one git revision (never the work tree)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath
from typing import Protocol


class Source(Protocol):
    """Files of one inventory, named relative to the inventory root with '/' separators."""

    label: str  # e.g. "inventory" or "HEAD:inventory", used in messages

    def files(self) -> list[str]: ...

    def links(self) -> list[str]:
        """Entries that are symbolic links: never read, the loader refuses them."""
        ...

    def read(self, rel: str) -> bytes: ...

    def shown(self, rel: str) -> str: ...


class DirectorySource:
    def __init__(self, root: Path, shown_prefix: str | None = None):
        self.root = Path(root)
        self.label = str(root)
        self._prefix = shown_prefix if shown_prefix is not None else _shown_prefix(self.root)

    def files(self) -> list[str]:
        return self._walk()[0]

    def links(self) -> list[str]:
        return self._walk()[1]

    def _walk(self) -> tuple[list[str], list[str]]:
        """(regular files, symbolic links) below the root, hidden entries left out. Links are
        never followed: what the gate read from git is what every other consumer reads."""
        files: list[str] = []
        links: list[str] = []
        if not self.root.is_dir() or self.root.is_symlink():
            return files, links
        for top, dirs, names in os.walk(self.root, followlinks=False):
            here = Path(top)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in [*dirs, *names]:
                if name.startswith("."):
                    continue
                path = here / name
                rel = path.relative_to(self.root).as_posix()
                if path.is_symlink():
                    links.append(rel)
                elif name in names and path.is_file():
                    files.append(rel)
        return sorted(files), sorted(links)

    def read(self, rel: str) -> bytes:
        path = self.root / rel
        # O_NOFOLLOW: a file swapped for a link after the walk is refused, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def shown(self, rel: str) -> str:
        return str(PurePosixPath(self._prefix, rel)) if self._prefix else rel


def _shown_prefix(root: Path) -> str:
    """Paths in messages are relative to the current directory when the inventory is below it."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return root.as_posix()


class GitSource:
    """The inventory as committed at one revision: read with git, the work tree is never touched."""

    def __init__(self, repo: Path, rev: str, subdir: str = "inventory"):
        self.repo = Path(repo)
        self.rev = rev
        self.subdir = subdir.strip("/")
        self.label = f"{rev[:12]}:{self.subdir}"
        self._blobs: dict[str, str] | None = None
        self._links: list[str] = []
        self._cache: dict[str, bytes] = {}

    def _git(self, *args: str, data: bytes | None = None) -> bytes:
        done = subprocess.run(
            ["git", "-C", str(self.repo), *args], input=data, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def files(self) -> list[str]:
        if self._blobs is None:
            out = self._git("ls-tree", "-r", "-z", self.rev, "--", self.subdir + "/")
            blobs = {}
            links = []
            for entry in out.split(b"\0"):
                if not entry:
                    continue
                meta, name = entry.split(b"\t", 1)
                mode, kind, sha = meta.split()
                rel = name.decode()[len(self.subdir) + 1 :]
                if mode == b"120000":  # a symbolic link: its blob is a path, never data
                    links.append(rel)
                elif kind == b"blob":
                    blobs[rel] = sha.decode()
            self._blobs = blobs
            self._links = sorted(links)
            self._load_all()
        return sorted(self._blobs)

    def links(self) -> list[str]:
        self.files()
        return self._links

    def _load_all(self) -> None:
        """One `git cat-file --batch` for all blobs instead of a process per file."""
        assert self._blobs is not None
        shas = list(self._blobs.values())
        if not shas:
            return
        out = self._git("cat-file", "--batch", data=("\n".join(shas) + "\n").encode())
        by_sha: dict[str, bytes] = {}
        pos = 0
        for _ in shas:
            header_end = out.index(b"\n", pos)
            sha, _kind, size = out[pos:header_end].split()
            start = header_end + 1
            by_sha[sha.decode()] = out[start : start + int(size)]
            pos = start + int(size) + 1
        self._cache = {rel: by_sha[sha] for rel, sha in self._blobs.items()}

    def read(self, rel: str) -> bytes:
        self.files()
        return self._cache[rel]

    def shown(self, rel: str) -> str:
        return f"{self.subdir}/{rel}"


class GitError(Exception):
    pass


class MemorySource:
    """Files held in memory (generated inventories, tests)."""

    def __init__(
        self, files: dict[str, bytes | str], label: str = "memory", shown_prefix: str = "inventory"
    ):
        self._files = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
        self.label = label
        self._prefix = shown_prefix

    def files(self) -> list[str]:
        return sorted(self._files)

    def links(self) -> list[str]:
        return []

    def read(self, rel: str) -> bytes:
        return self._files[rel]

    def shown(self, rel: str) -> str:
        return f"{self._prefix}/{rel}" if self._prefix else rel
