"""Atomic writes and byte counts for people."""

from __future__ import annotations

import errno
import shutil
from types import SimpleNamespace

import pytest

from generator.files import atomic_writer, human_size, write_text


def test_failed_write_leaves_neither_file_nor_partial(tmp_path):
    target = tmp_path / "labels.csv"
    with pytest.raises(RuntimeError), atomic_writer(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_old_file(tmp_path):
    target = tmp_path / "labels.csv"
    write_text(target, "old\n")
    with pytest.raises(KeyboardInterrupt), atomic_writer(target, "w") as handle:
        handle.write("new")
        raise KeyboardInterrupt
    assert target.read_text() == "old\n"


def test_short_write_on_a_full_disk_names_the_file_and_enospc(tmp_path, monkeypatch):
    """numpy reports a short write without errno or file name; the error gets both."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
    target = tmp_path / "PAT_0001_MRI.npy"
    with pytest.raises(OSError) as raised, atomic_writer(target) as handle:
        handle.write(b"\x93NUMPY")
        raise OSError("4096 requested and 4064 written")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_keep_their_errno_and_gain_the_file(tmp_path):
    target = tmp_path / "labels.csv"
    with pytest.raises(OSError) as raised, atomic_writer(target, "w"):
        raise OSError(errno.EIO, "Input/output error")
    assert raised.value.errno == errno.EIO and raised.value.filename == str(target)


@pytest.mark.parametrize(
    ("num_bytes", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.00 kB"),
        (12_345, "12.3 kB"),
        (1_175_000_000, "1.18 GB"),
    ],
)
def test_human_size(num_bytes, text):
    assert human_size(num_bytes) == text
