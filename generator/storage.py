"""An export folder at an fsspec URL (``s3://bucket/omlc``, ``gs://...``, ``file:///abs``).

``--out`` is a local path or a URL; a URL becomes a :class:`UrlFolder`, which the
driver and the workers use to read and write the export's files by their paths
relative to the folder (POSIX). A ``UrlFolder`` pickles as its URL: every process
opens the filesystem itself (fsspec caches one instance per process), so Ray workers
and pool workers write to the URL directly.

Atomic writes: an object store's put of a whole object is atomic, so on the object
stores of ``OBJECT_STORE_PROTOCOLS`` a file is written in full with one put (a large
file by a multipart upload, which the store makes visible only when complete). On any
other filesystem (``file://``, SFTP, HDFS, ...) a file is written under a temporary
name, ``.<name>.<pid>-<token>.partial``, then renamed (``mv``); the export's next run
removes such leftovers, as on a local folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

import fsspec
from fsspec.registry import known_implementations

from generator.files import PARTIAL_SUFFIX
from generator.folder_scan import FolderScan
from generator.layout import IGNORED_ENTRIES, MANIFEST_FILE

#: Filesystems whose put of a whole object is atomic (a reader sees all of it or none).
OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
#: ``scheme://``: what tells a URL from a local path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CHUNK_BYTES = 1 << 20


class StorageError(Exception):
    """A URL that cannot be used (unknown protocol, missing backend); the message is one line."""


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL (``scheme://...``) rather than a local path."""
    return bool(_URL.match(str(text)))


def _protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def _backend_package(protocol: str) -> str:
    """The package fsspec needs for ``protocol`` (``s3`` -> ``s3fs``)."""
    return known_implementations.get(protocol, {}).get("class", protocol).split(".", 1)[0]


@dataclasses.dataclass(frozen=True)
class UrlFolder:
    """The export folder at ``url``; ``implementation``: the dotted class path of its
    filesystem, which a process that does not know the protocol registers (a Ray worker,
    for a filesystem the driver registered at run time). Make one with
    :func:`open_url_folder`."""

    url: str
    implementation: str

    def __str__(self) -> str:
        return self.url

    @property
    def protocol(self) -> str:
        return _protocol(self.url)

    def _filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        if self.protocol not in fsspec.available_protocols():
            fsspec.register_implementation(self.protocol, self.implementation)
        return fsspec.core.url_to_fs(self.url)

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        """This process's filesystem instance (fsspec's cache; renewed after a fork)."""
        return self._filesystem()[0]

    @property
    def object_store(self) -> bool:
        """Whether a write is one put (``OBJECT_STORE_PROTOCOLS``) rather than a rename."""
        protocols = self.fs.protocol
        protocols = {protocols} if isinstance(protocols, str) else set(protocols)
        return bool(protocols & OBJECT_STORE_PROTOCOLS)

    def path(self, relative: str = "") -> str:
        """The filesystem path of ``relative`` (the folder itself for ``""``)."""
        root = self._filesystem()[1].rstrip("/")
        return f"{root}/{relative}" if relative else root

    def prepare(self) -> None:
        """Refuse a URL naming a file; create the folder where folders exist."""
        fs, root = self.fs, self.path()
        if fs.isfile(root):
            raise StorageError(f"--out {self.url} exists and is not a folder")
        if not self.object_store:
            fs.makedirs(root, exist_ok=True)

    def read_bytes(self, relative: str, start: int | None = None) -> bytes:
        """The bytes of ``relative`` (from byte ``start`` on, if given; negative: from the
        end); ``FileNotFoundError`` if there is none."""
        return self.fs.cat_file(self.path(relative), start=start)

    def read_text(self, relative: str) -> str:
        return self.read_bytes(relative).decode("utf-8")

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write ``relative`` atomically: one put, or a temporary name and a rename."""
        self._commit(relative, lambda fs, target: fs.pipe_file(target, data))

    def write_text(self, relative: str, text: str) -> None:
        """Write UTF-8 ``text`` atomically."""
        self.write_bytes(relative, text.encode("utf-8"))

    def upload(self, relative: str, local: Path) -> None:
        """Copy the local file ``local`` to ``relative`` atomically."""
        self._commit(relative, lambda fs, target: fs.put_file(str(local), target))

    def download(self, relative: str, local: Path) -> None:
        """Copy ``relative`` to the local file ``local`` (its folder is created)."""
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self.path(relative), str(local))

    def open(self, relative: str):
        """``relative`` opened for binary reading (a file-like object)."""
        return self.fs.open(self.path(relative), "rb")

    def _commit(self, relative: str, put) -> None:
        fs, target = self.fs, self.path(relative)
        if self.object_store:
            put(fs, target)
            return
        directory, _, name = target.rpartition("/")
        fs.makedirs(directory, exist_ok=True)
        temporary = f"{directory}/.{name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        try:
            put(fs, temporary)
            fs.mv(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                fs.rm_file(temporary)
            raise

    def remove(self, relative_paths: Sequence[str]) -> None:
        """Delete these files (missing ones included), in one request where the store can."""
        paths = [self.path(relative) for relative in relative_paths]
        if not paths:
            return
        try:
            self.fs.rm(paths)
        except FileNotFoundError:
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(path)

    def remove_tree(self, relative: str) -> None:
        """Delete the folder ``relative`` and everything below it, if present."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path(relative), recursive=True)

    def sha256(self, relative: str) -> str:
        """Hex SHA-256 of ``relative``, streamed; ``FileNotFoundError`` if there is none."""
        digest = hashlib.sha256()
        with self.open(relative) as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()

    def listing(self, relative: str = "") -> dict[str, dict]:
        """Every entry below ``relative`` (folders too): relative path -> fsspec info."""
        root = f"{self.path()}/"
        found = self.fs.find(self.path(relative), withdirs=True, detail=True)
        return {
            name.removeprefix(root): info
            for name, info in found.items()
            if name.startswith(root)  # not the folder itself, nor a sibling sharing its prefix
        }

    def sizes(self) -> dict[str, int]:
        """Relative path -> size in bytes of every file of the folder."""
        return {
            relative: int(info["size"])
            for relative, info in self.listing().items()
            if info["type"] == "file"
        }

    def scan(self) -> FolderScan:
        """What the folder holds, sorted as :func:`generator.folder_scan.scan_folder`
        sorts a local one (object stores have no links and no unreadable folders)."""
        files, links, partials = [], [], []
        linked: list[str] = []
        for relative, info in sorted(self.listing().items()):
            if relative.split("/")[0] in IGNORED_ENTRIES:
                continue
            if any(relative.startswith(f"{link}/") for link in linked):
                continue
            if info.get("islink"):
                links.append(relative)
                linked.append(relative)
            elif info["type"] != "file":
                continue
            elif relative.rpartition("/")[2].endswith(PARTIAL_SUFFIX):
                partials.append(relative)
            elif relative != MANIFEST_FILE:
                files.append(relative)
        return FolderScan(tuple(files), tuple(links), (), tuple(partials))


def open_url_folder(url: str, flag: str = "--out") -> UrlFolder:
    """The ``UrlFolder`` of ``url``; ``StorageError`` for an unknown protocol, a missing
    fsspec backend (naming the package to install) or a URL without a path (the message
    names the option ``flag``)."""
    protocol, _, rest = url.partition("://")
    url = f"{protocol}://{rest.rstrip('/')}"
    protocol = protocol.lower()
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise StorageError(
            f"{flag} {url}: fsspec knows no protocol {protocol!r}; use a local path or a URL "
            "such as s3://bucket/folder, gs://bucket/folder or file:///absolute/path"
        ) from None
    except ImportError:
        package = _backend_package(protocol)
        raise StorageError(
            f"{flag} {url}: fsspec needs {package} for {protocol}:// URLs: pip install {package}"
        ) from None
    folder = UrlFolder(url, f"{cls.__module__}.{cls.__qualname__}")
    if not folder.path().strip("/"):
        raise StorageError(f"{flag} {url}: give a folder below the root, e.g. {url}/omlc")
    return folder


def as_location(out: str | Path | UrlFolder, flag: str = "--out") -> Path | UrlFolder:
    """``out`` as the export's location: a ``UrlFolder`` for a URL, else a ``Path``
    (``open_url_folder``'s errors name the option ``flag``)."""
    if isinstance(out, (Path, UrlFolder)):
        return out
    return open_url_folder(out, flag) if is_url(out) else Path(out)
