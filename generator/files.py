"""Atomic file writes: a temporary name in the target folder, then ``os.replace``.

A reader never sees a half-written file; an interrupted write leaves at most a
``.<name>.<pid>.partial`` file beside it, which the export's next run removes
(``generator.folder_ownership``). A failed write raises an ``OSError`` that names the
file (and says ``ENOSPC`` when the disk is full, which some writers do not).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
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
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _naming(error, path) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


#: Free bytes below which a failed write is taken for a full disk.
_NEARLY_FULL_BYTES = 1 << 20


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` with ``path`` as its file name, and ``ENOSPC`` if the disk is full and the
    writer did not say so (numpy's "4096 requested and 4064 written")."""
    code = error.errno
    if code is None:
        with contextlib.suppress(OSError):
            if shutil.disk_usage(path.parent).free < _NEARLY_FULL_BYTES:
                code = errno.ENOSPC
    if code == error.errno and error.filename is not None:
        return error
    reason = os.strerror(code) if code is not None else str(error)
    return OSError(code, reason, str(path))


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
