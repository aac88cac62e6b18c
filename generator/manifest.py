"""The SHA-256 manifest of an export folder, in ``sha256sum`` format.

``manifest-sha256.txt`` holds one ``<hex digest>  <relative/path>`` line per file, so
``sha256sum -c manifest-sha256.txt`` run inside the folder checks it; :func:`verify_manifest`
does the same in Python and also reports files that the manifest does not list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from generator.files import PARTIAL_SUFFIX, write_text
from generator.layout import IGNORED_ENTRIES, MANIFEST_FILE

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S(?:.*\S)?)$")
_CHUNK_BYTES = 1 << 20


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


@dataclasses.dataclass(frozen=True)
class FolderScan:
    """What a folder holds, walked without following links (relative POSIX paths, sorted).

    ``IGNORED_ENTRIES`` at the top, the manifest and leftovers of interrupted atomic
    writes are left out of ``files``; see :func:`scan_folder`.
    """

    files: tuple[str, ...]  # regular files
    links: tuple[str, ...]  # symbolic links, to files or folders (not followed)
    unreadable: tuple[str, ...]  # "path (reason)" of folders that could not be listed
    partials: tuple[str, ...]  # leftovers of interrupted atomic writes


def scan_folder(folder: Path) -> FolderScan:
    """Walk ``folder`` (not following links) and sort what it holds into a ``FolderScan``."""
    folder = Path(folder)
    files, links, unreadable, partials = [], [], [], []

    def on_error(error: OSError) -> None:
        relative = Path(error.filename).relative_to(folder).as_posix()
        unreadable.append(f"{relative} ({error.strerror or error})")

    for root, dirs, names in os.walk(folder, onerror=on_error):
        base = Path(root).relative_to(folder)
        if base == Path("."):
            dirs[:] = [name for name in dirs if name not in IGNORED_ENTRIES]
            names = [name for name in names if name not in IGNORED_ENTRIES]
        for name in sorted(dirs):
            if (Path(root) / name).is_symlink():
                links.append((base / name).as_posix())
        dirs[:] = sorted(name for name in dirs if not (Path(root) / name).is_symlink())
        for name in names:
            relative = (base / name).as_posix()
            if (Path(root) / name).is_symlink():
                links.append(relative)
            elif name.endswith(PARTIAL_SUFFIX):
                partials.append(relative)
            elif relative != MANIFEST_FILE:
                files.append(relative)
    return FolderScan(
        files=tuple(sorted(files)),
        links=tuple(sorted(links)),
        unreadable=tuple(sorted(unreadable)),
        partials=tuple(sorted(partials)),
    )


def write_manifest(folder: Path, digests: Mapping[str, str]) -> Path:
    """Write the manifest of ``digests`` (relative path -> hex SHA-256) atomically; return
    its path."""
    lines = []
    for relative, digest in sorted(digests.items()):
        if "\n" in relative or "\\" in relative:
            raise ValueError(f"path cannot be written to a sha256sum manifest, got {relative!r}")
        lines.append(f"{digest}  {relative}\n")
    manifest = Path(folder) / MANIFEST_FILE
    write_text(manifest, "".join(lines))
    return manifest


def read_manifest(folder: Path) -> dict[str, str]:
    """Map of relative path -> hex digest from ``folder``'s manifest.

    Raises ``ManifestError`` if the manifest is absent, malformed, or names a path that
    leaves the folder.
    """
    manifest = Path(folder) / MANIFEST_FILE
    try:
        text = manifest.read_text(encoding="utf-8")
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


def verify_manifest(
    folder: Path, *, on_progress: Callable[[int], object] = lambda done: None
) -> Verification:
    """Check every file of ``folder`` against its manifest; raise ``ManifestError`` if unreadable.

    ``on_progress(1)`` is called after each listed file.
    """
    folder = Path(folder)
    entries = read_manifest(folder)
    missing, corrupted, unreadable = [], [], []
    for relative, digest in sorted(entries.items()):
        path = folder / relative
        try:
            if path.is_symlink() or not path.is_file():
                missing.append(relative)
            elif sha256_file(path) != digest:
                corrupted.append(relative)
        except OSError as error:
            unreadable.append(f"{relative} ({error.strerror or error})")
        on_progress(1)
    scan = scan_folder(folder)
    return Verification(
        missing=tuple(missing),
        corrupted=tuple(corrupted),
        extra=tuple(relative for relative in scan.files if relative not in entries),
        checked=len(entries),
        unreadable=tuple(unreadable) + scan.unreadable,
        links=scan.links,
    )
