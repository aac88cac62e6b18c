"""What an export folder holds: its files, links, unreadable folders and leftovers.

The walk never follows a symbolic link; ``IGNORED_ENTRIES`` at the top (git's, the
Hub's, the export's own bookkeeping), the manifest and leftovers of interrupted atomic
writes are kept out of ``files``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from generator.files import PARTIAL_SUFFIX
from generator.layout import IGNORED_ENTRIES, MANIFEST_FILE


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
