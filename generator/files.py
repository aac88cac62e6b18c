"""Atomic file writes: a temporary name in the target folder, then ``os.replace``.

A reader never sees a half-written file; an interrupted write leaves at most a
``*.partial`` file, which :func:`remove_partial_files` sweeps away on the next run.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PARTIAL_SUFFIX = ".partial"


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        with open(temporary, mode) as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file (no pickle) atomically."""
    with atomic_writer(path) as handle:
        np.save(handle, array, allow_pickle=False)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` atomically, with ``\\n`` line endings."""
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(data)


def remove_partial_files(folder: Path) -> int:
    """Delete leftovers of interrupted atomic writes below ``folder``; return how many."""
    removed = 0
    for leftover in Path(folder).rglob(f".*{PARTIAL_SUFFIX}"):
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def human_size(num_bytes: int) -> str:
    """A byte count for people, in decimal units: ``"532 B"``, ``"1.18 GB"``."""
    size = float(num_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if unit == "B" and size < 1000:
            return f"{num_bytes} B"
        if size < 1000 or unit == "GB":
            return f"{size:.2f} {unit}" if size < 10 else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
