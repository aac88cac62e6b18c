"""The SHA-256 manifest of an export folder, in ``sha256sum`` format.

``manifest-sha256.txt`` holds one ``<hex digest>  <relative/path>`` line per file, so
``sha256sum -c manifest-sha256.txt`` run inside the folder checks it; :func:`verify_manifest`
does the same in Python and also reports files that the manifest does not list. A
folder is a local ``Path`` or a ``generator.storage.UrlFolder``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from generator.files import write_text
from generator.folder_scan import scan_folder
from generator.layout import MANIFEST_FILE
from generator.storage import UrlFolder

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S(?:.*\S)?)$")
_CHUNK_BYTES = 1 << 20
#: Files hashed at once in a folder at a URL (each read is a network round trip).
URL_HASH_THREADS = 16


class ManifestError(Exception):
    """The manifest is absent or unreadable; the message says which line."""


@dataclasses.dataclass(frozen=True)
class Verification:
    """Outcome of checking a folder against its manifest (relative POSIX paths, sorted)."""

    missing: tuple[str, ...]  # listed, not on disk
    corrupted: tuple[str, ...]  # listed, on disk, digest differs
    extra: tuple[str, ...]  # on disk, not listed
    checked: int  # files listed in the manifest
    unreadable: tuple[str, ...] = ()  # "path (reason)": a file or folder that cannot be read
    links: tuple[str, ...] = ()  # symbolic links (an export holds none)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupted or self.extra or self.unreadable or self.links)

    @property
    def problems(self) -> int:
        """How many files or folders fail."""
        groups = (self.missing, self.corrupted, self.extra, self.unreadable, self.links)
        return sum(len(group) for group in groups)

    def describe(self) -> str:
        """One line per problem, or a one-line success message."""
        if self.ok:
            return f"all {self.checked} files match {MANIFEST_FILE}"
        lines = [f"missing: {path}" for path in self.missing]
        lines += [f"corrupted: {path}" for path in self.corrupted]
        lines += [f"extra: {path}" for path in self.extra]
        lines += [f"unreadable: {item}" for item in self.unreadable]
        lines += [f"link: {path}" for path in self.links]
        return "\n".join(lines)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path | UrlFolder, digests: Mapping[str, str]) -> None:
    """Write the manifest of ``digests`` (relative path -> hex SHA-256) atomically."""
    lines = []
    for relative, digest in sorted(digests.items()):
        if "\n" in relative or "\\" in relative:
            raise ValueError(f"path cannot be written to a sha256sum manifest, got {relative!r}")
        lines.append(f"{digest}  {relative}\n")
    if isinstance(folder, UrlFolder):
        folder.write_text(MANIFEST_FILE, "".join(lines))
    else:
        write_text(Path(folder) / MANIFEST_FILE, "".join(lines))


def read_manifest(folder: Path | UrlFolder) -> dict[str, str]:
    """Map of relative path -> hex digest from ``folder``'s manifest.

    Raises ``ManifestError`` if the manifest is absent, malformed, or names a path that
    leaves the folder.
    """
    remote = isinstance(folder, UrlFolder)
    manifest = f"{folder}/{MANIFEST_FILE}" if remote else Path(folder) / MANIFEST_FILE
    try:
        text = folder.read_text(MANIFEST_FILE) if remote else manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{manifest} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{manifest} cannot be read: {error}") from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match is None:
            raise ManifestError(f"{manifest}:{number}: not a '<sha256>  <path>' line: {line!r}")
        digest, relative = match.groups()
        parts = relative.split("/")
        if relative.startswith("/") or ".." in parts or relative in entries:
            raise ManifestError(f"{manifest}:{number}: bad or repeated path {relative!r}")
        entries[relative] = digest
    if not entries:
        raise ManifestError(f"{manifest} lists no file")
    return entries


def _local_check(folder: Path, relative: str, digest: str) -> str | None:
    """``"missing"``, ``"corrupted"`` or ``None`` (it matches) for a file of a local folder."""
    path = folder / relative
    if path.is_symlink() or not path.is_file():
        return "missing"
    return "corrupted" if sha256_file(path) != digest else None


def _url_check(folder: UrlFolder, relative: str, digest: str) -> str | None:
    """``"missing"``, ``"corrupted"`` or ``None`` (it matches) for a file at a URL."""
    try:
        return "corrupted" if folder.sha256(relative) != digest else None
    except FileNotFoundError:
        return "missing"


def verify_manifest(
    folder: Path | UrlFolder, *, on_progress: Callable[[int], object] = lambda done: None
) -> Verification:
    """Check every file of ``folder`` against its manifest; raise ``ManifestError`` if unreadable.

    ``on_progress(1)`` is called after each listed file. A folder at a URL is read by
    ``URL_HASH_THREADS`` threads.
    """
    remote = isinstance(folder, UrlFolder)
    folder = folder if remote else Path(folder)
    entries = read_manifest(folder)
    check = _url_check if remote else _local_check

    def outcome(item: tuple[str, str]) -> str | None:
        try:
            return check(folder, *item)
        except OSError as error:
            return f"({error.strerror or error})"

    missing, corrupted, unreadable = [], [], []
    items = sorted(entries.items())
    pool = concurrent.futures.ThreadPoolExecutor(URL_HASH_THREADS) if remote else None
    try:
        results = pool.map(outcome, items) if pool else map(outcome, items)
        for (relative, _), result in zip(items, results, strict=True):
            if result == "missing":
                missing.append(relative)
            elif result == "corrupted":
                corrupted.append(relative)
            elif result is not None:
                unreadable.append(f"{relative} {result}")
            on_progress(1)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    scan = folder.scan() if remote else scan_folder(folder)
    return Verification(
        missing=tuple(missing),
        corrupted=tuple(corrupted),
        extra=tuple(relative for relative in scan.files if relative not in entries),
        checked=len(entries),
        unreadable=tuple(unreadable) + scan.unreadable,
        links=scan.links,
    )
