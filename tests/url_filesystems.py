"""A test-only fsspec filesystem: a local folder under the protocol ``omlctest://``.

The export sees it as any non-local filesystem: it is not in
``generator.storage.OBJECT_STORE_PROTOCOLS``, so every file is written under a temporary
name and renamed. Registered by its dotted class path (``register``), so that Ray's
workers import it too. If ``OMLC_TEST_WRITERS`` names a file, every rename appends
``<pid> <target>`` to it: which process wrote which file.
"""

from __future__ import annotations

import os

import fsspec
from fsspec.implementations.local import LocalFileSystem

PROTOCOL = "omlctest"
WRITERS_VARIABLE = "OMLC_TEST_WRITERS"


class RenamingTestFileSystem(LocalFileSystem):
    protocol = (PROTOCOL,)

    def mv(self, path1, path2, **kwargs):
        super().mv(path1, path2, **kwargs)
        log = os.environ.get(WRITERS_VARIABLE)
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {self._strip_protocol(path2)}\n")


def register() -> None:
    """Register ``omlctest://`` in this process."""
    fsspec.register_implementation(
        PROTOCOL, f"{__name__}.{RenamingTestFileSystem.__qualname__}", clobber=True
    )


def url(path: os.PathLike | str) -> str:
    """``omlctest://`` URL of a local absolute path."""
    return f"{PROTOCOL}://{os.fspath(path)}"
