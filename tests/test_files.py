"""Atomic writes and byte counts for people."""

from __future__ import annotations

import pytest

from generator.files import atomic_writer, human_size, remove_partial_files, write_text


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


def test_partial_leftovers_are_swept(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / ".PAT_0001_CT.npy.77.partial").write_bytes(b"x")
    (tmp_path / "keep.txt").write_text("")
    assert remove_partial_files(tmp_path) == 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["keep.txt"]


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
