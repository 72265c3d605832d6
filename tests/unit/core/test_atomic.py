"""plantctl.core.atomic: a file is replaced whole or not at all (and the rendered-files provider
writes through it)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from plantctl.core import atomic
from plantctl.providers import files


def test_replaced_whole_with_its_mode(tmp_path):
    target = tmp_path / "deep" / "key.pem"
    atomic.write_bytes(target, b"one", 0o600)
    atomic.write_bytes(target, b"two", 0o600)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["key.pem"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    atomic.write_text(target, "old\n")

    def full(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_rendered_files_are_written_whole_and_readable(tmp_path):
    digests = files._write(tmp_path, {"hosts": "10.20.0.1 gw\n"})
    assert (tmp_path / "hosts").read_text() == "10.20.0.1 gw\n"
    assert stat.S_IMODE((tmp_path / "hosts").stat().st_mode) == 0o644
    assert set(digests) == {"hosts"}
    with pytest.raises(ValueError, match="not a plain file name"):
        files._write(tmp_path, {"../escape": "x"})


def test_a_device_or_a_pipe_is_written_to_never_renamed_over(tmp_path):
    atomic.write_text(Path("/dev/null"), "nothing\n")
    assert Path("/dev/null").is_char_device()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic.write_text(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
