"""The card of an export at a URL, drawn by the driver in a local view of the folder.

``generator.card`` and ``generator.croissant`` read an export as a local folder: the
tables, the Parquet files' footers (schemas, row counts, Arrow sizes) and the count and
size of every file. :func:`local_view` makes a temporary folder that holds exactly
that: the tables' bytes, every Parquet file as a sparse file of its size that ends in
its real footer, and every other file as a sparse file of its size. Nothing else is
downloaded: one listing of the folder and one read of each Parquet file's tail. The
card's SHA-256 come from the export's record, and its pictures from images read at
the URL (``generator.export``).
"""

from __future__ import annotations

import contextlib
import errno
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from generator.export_files import TABLE_FILES
from generator.storage import UrlFolder

#: A Parquet file ends with its footer's length (little-endian uint32) and ``PAR1``.
_PARQUET_TAIL = struct.Struct("<I4s")


@contextlib.contextmanager
def local_view(folder: UrlFolder, relative_paths: Iterable[str]) -> Iterator[Path]:
    """A temporary local folder standing for these files of ``folder`` (see above);
    removed after the block."""
    sizes = folder.sizes()
    with tempfile.TemporaryDirectory(prefix="omlc-card-") as scratch:
        view = Path(scratch)
        for relative in relative_paths:
            if relative not in sizes:
                raise FileNotFoundError(errno.ENOENT, "no such file", f"{folder}/{relative}")
            target = view / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative in TABLE_FILES:
                folder.download(relative, target)
            else:
                tail = _parquet_footer(folder, relative) if relative.endswith(".parquet") else b""
                _sparse_file(target, sizes[relative], tail)
        yield view


def _parquet_footer(folder: UrlFolder, relative: str) -> bytes:
    """The last bytes of a Parquet file: its footer, its length and ``PAR1``."""
    length, magic = _PARQUET_TAIL.unpack(folder.read_bytes(relative, start=-_PARQUET_TAIL.size))
    if magic != b"PAR1":
        raise OSError(errno.EIO, "not a Parquet file", f"{folder}/{relative}")
    return folder.read_bytes(relative, start=-(length + _PARQUET_TAIL.size))


def _sparse_file(path: Path, size: int, tail: bytes) -> None:
    """A file of ``size`` bytes, zeros (a hole) but for ``tail`` at its end."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        if tail:
            handle.seek(size - len(tail))
            handle.write(tail)
