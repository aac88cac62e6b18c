"""The export's record of what it wrote: ``<folder>/.export-record.jsonl``.

An export folder belongs to its export, file by file: the record names the parameters,
the parts (``--formats``) each run was asked for, and the SHA-256 of every file the
export wrote. A rerun keeps only files whose bytes are still the recorded ones,
``--force`` removes only recorded or claimed files, and any other file is refused,
never adopted (``generator.export``). Only the export's driver writes the record,
under the folder's lock, as a journal of JSON lines:

- ``{"record": 1, "parameters": {...}}``: first, ``GenerationParameters.as_dict()``;
- ``{"formats": [...]}``: a run's parts; the paths they name are claimed (written by
  the export, perhaps before they are recorded: a killed run leaves such files);
- ``{"wrote": {path: sha256}}``: files written, after each job;
- ``{"removed": [path, ...]}``: files the export deleted.

A torn last line (a run killed while appending) is dropped. A folder with no record
but a manifest (an export downloaded from the Hub, or made before the record) is taken
as recorded by its manifest.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from generator.files import write_text
from generator.layout import PARAMETERS_FILE, RECORD_FILE
from generator.manifest import ManifestError, read_manifest, sha256_file

RECORD_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Written:
    """What one job did: ``count`` patients (a chunk task) or rows (a Parquet file), and
    ``digests``, the files it is responsible for (relative path -> hex SHA-256)."""

    count: int
    digests: dict[str, str]


def digest_files(folder: Path, paths: Iterable[Path]) -> dict[str, str]:
    """Relative POSIX path -> hex SHA-256 of each file ``paths`` (below ``folder``)."""
    folder = Path(folder)
    return {Path(p).relative_to(folder).as_posix(): sha256_file(Path(p)) for p in paths}


_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_relative_path(relative: object) -> None:
    """Raise ``ValueError`` unless ``relative`` is a POSIX path strictly inside a folder:
    not absolute, no ``..``, ``.`` or empty part, no backslash or control character."""
    if not isinstance(relative, str) or not relative or relative.startswith("/"):
        raise ValueError(f"not a relative path: {relative!r}")
    if any(part in ("", ".", "..") for part in relative.split("/")):
        raise ValueError(f"not a plain relative path: {relative!r}")
    if "\\" in relative or any(ord(character) < 32 for character in relative):
        raise ValueError(f"unsafe path: {relative!r}")


class RecordError(Exception):
    """The record cannot be read; the message names the file and the line."""


@dataclasses.dataclass
class ExportRecord:
    """The record of the export in ``folder``, in memory; its methods also append to the file.

    ``parameters``: ``GenerationParameters.as_dict()`` of the export; ``formats``: every
    part a run was asked for; ``digests``: relative path -> hex SHA-256 of the files
    written and not removed since.
    """

    folder: Path
    parameters: dict[str, object]
    formats: set[str] = dataclasses.field(default_factory=set)
    digests: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> ExportRecord | None:
        """The folder's record; ``None`` if it has none; ``RecordError`` if it is damaged."""
        path = Path(folder) / RECORD_FILE
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise RecordError(f"{path} cannot be read: {error}") from None
        if lines and not lines[-1].endswith("\n"):
            lines.pop()  # torn: the run was killed while appending it
        record = None
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                if record is None:
                    record = cls._header(Path(folder), entry)
                else:
                    record._apply(entry)
            except (ValueError, TypeError, KeyError):
                raise RecordError(
                    f"{path}:{number}: not a line of a version {RECORD_VERSION} export record"
                ) from None
        if record is None:
            raise RecordError(f"{path} is empty")
        return record

    @classmethod
    def _header(cls, folder: Path, entry: object) -> ExportRecord:
        """The record its first line starts; ``ValueError`` if it is not one."""
        if not isinstance(entry, dict) or entry.get("record") != RECORD_VERSION:
            raise ValueError("not a record header")
        if not isinstance(entry["parameters"], dict):
            raise ValueError("parameters are not a mapping")
        return cls(folder, dict(entry["parameters"]))

    def _apply(self, entry: object) -> None:
        """Fold one journal line in; ``ValueError`` if it is malformed (a path that is not
        a plain relative path below the folder included)."""
        if not isinstance(entry, dict):
            raise ValueError("not a mapping")
        formats, wrote = entry.get("formats", []), entry.get("wrote", {})
        removed = entry.get("removed", [])
        if not (
            isinstance(formats, list) and isinstance(wrote, dict) and isinstance(removed, list)
        ):
            raise ValueError("malformed entry")
        for relative in [*wrote, *removed]:
            check_relative_path(relative)
        if not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in wrote.values()):
            raise ValueError("not a SHA-256 digest")
        self.formats.update(str(name) for name in formats)
        self.digests.update(wrote)
        for relative in removed:
            self.digests.pop(relative, None)

    @classmethod
    def from_manifest(cls, folder: Path, format_entries: Mapping[str, str]) -> ExportRecord | None:
        """The record a finished export's manifest amounts to; ``None`` without a usable one.

        The manifest must list ``generation.json`` with its bytes unchanged. A part of
        ``format_entries`` (format -> top entry, e.g. ``"npy"`` -> ``"images"``) counts as
        asked for when the manifest lists a file below or at its entry.
        """
        folder = Path(folder)
        try:
            listed = read_manifest(folder)
            if sha256_file(folder / PARAMETERS_FILE) != listed.get(PARAMETERS_FILE):
                return None
            parameters = json.loads((folder / PARAMETERS_FILE).read_text(encoding="utf-8"))
        except (ManifestError, OSError, ValueError):
            return None
        try:
            for relative in listed:
                check_relative_path(relative)
        except ValueError:
            return None
        if not isinstance(parameters, dict):
            return None
        tops = {relative.split("/")[0] for relative in listed}
        formats = {name for name, entry in format_entries.items() if entry in tops}
        return cls(folder, parameters, formats, dict(listed))

    def save(self) -> None:
        """Write the whole record anew (atomically), as three lines."""
        lines = [
            {"record": RECORD_VERSION, "parameters": self.parameters},
            {"formats": sorted(self.formats)},
            {"wrote": dict(sorted(self.digests.items()))},
        ]
        write_text(self.folder / RECORD_FILE, "".join(json.dumps(x) + "\n" for x in lines))

    def claim(self, formats: Iterable[str]) -> None:
        """Record that this run writes the parts ``formats``, before it writes any."""
        new = sorted(set(formats) - self.formats)
        if new:
            self.formats.update(new)
            self._append({"formats": new})

    def wrote(self, digests: Mapping[str, str]) -> None:
        """Record files written: relative path -> hex SHA-256."""
        if digests:
            self.digests.update(digests)
            self._append({"wrote": dict(digests)})

    def removed(self, paths: Iterable[str]) -> None:
        """Record files deleted (recorded or not)."""
        paths = sorted(set(paths))
        if paths:
            for relative in paths:
                self.digests.pop(relative, None)
            self._append({"removed": paths})

    def _append(self, entry: Mapping[str, object]) -> None:
        with open(self.folder / RECORD_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
