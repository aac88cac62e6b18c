"""The SHA-256 manifest of an export folder, in ``sha256sum`` format.

``manifest-sha256.txt`` holds one ``<hex digest>  <relative/path>`` line per file, so
``sha256sum -c manifest-sha256.txt`` run inside the folder checks it; :func:`verify_manifest`
does the same in Python and also reports files that the manifest does not list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from generator.files import PARTIAL_SUFFIX, write_text
from generator.layout import MANIFEST_FILE

#: Folders that tools put into a dataset folder and that are not part of it:
#: ``.cache/huggingface`` is the bookkeeping of ``hf download --local-dir``.
IGNORED_DIRS = (".git", ".cache")
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

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupted or self.extra)

    def describe(self) -> str:
        """One line per problem, or a one-line success message."""
        if self.ok:
            return f"all {self.checked} files match {MANIFEST_FILE}"
        lines = [f"missing: {path}" for path in self.missing]
        lines += [f"corrupted: {path}" for path in self.corrupted]
        lines += [f"extra: {path}" for path in self.extra]
        return "\n".join(lines)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: Path) -> list[str]:
    """Relative POSIX paths of every file below ``folder`` except the manifest itself.

    Leftovers of interrupted atomic writes and the folders in ``IGNORED_DIRS`` are skipped.
    """
    folder = Path(folder)
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if relative.parts[0] in IGNORED_DIRS or not path.is_file():
            continue
        if path.name.endswith(PARTIAL_SUFFIX) or relative.as_posix() == MANIFEST_FILE:
            continue
        found.append(relative.as_posix())
    return sorted(found)


def write_manifest(
    folder: Path,
    paths: Iterable[str],
    *,
    on_progress: Callable[[int], object] = lambda done: None,
) -> Path:
    """Hash ``paths`` (relative to ``folder``) and write the manifest atomically; return its path.

    ``on_progress(1)`` is called after each file.
    """
    folder = Path(folder)
    lines = []
    for relative in sorted(paths):
        if "\n" in relative or "\\" in relative:
            raise ValueError(f"path cannot be written to a sha256sum manifest, got {relative!r}")
        lines.append(f"{sha256_file(folder / relative)}  {relative}\n")
        on_progress(1)
    manifest = folder / MANIFEST_FILE
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
    missing, corrupted = [], []
    for relative, digest in sorted(entries.items()):
        path = folder / relative
        if not path.is_file():
            missing.append(relative)
        elif sha256_file(path) != digest:
            corrupted.append(relative)
        on_progress(1)
    extra = [relative for relative in list_files(folder) if relative not in entries]
    return Verification(
        missing=tuple(missing),
        corrupted=tuple(corrupted),
        extra=tuple(extra),
        checked=len(entries),
    )
