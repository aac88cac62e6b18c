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

At a URL (``generator.storage.UrlFolder``) nothing can be appended to: the journal's
lines are kept in memory and written as whole objects, ``.export-record.d/<n>.jsonl``,
at most every ``JOURNAL_FLUSH_SECONDS`` (a run's parts at once, since they claim what
it writes), and read after the record in order; saving the record folds them in and
deletes them. A killed driver loses at most the last seconds of lines: the files they
named are then claimed but not recorded, so the next run removes and rewrites them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from generator.files import write_text
from generator.layout import PARAMETERS_FILE, RECORD_FILE, RECORD_JOURNAL_DIR
from generator.manifest import ManifestError, read_manifest, sha256_file
from generator.storage import UrlFolder

RECORD_VERSION = 1
#: Longest a line of the journal at a URL waits in memory before it is written, s.
JOURNAL_FLUSH_SECONDS = 5.0
_SEGMENT = re.compile(r"^(\d{12})\.jsonl$")


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

    ``folder``: a local ``Path`` or a ``UrlFolder``; ``parameters``:
    ``GenerationParameters.as_dict()`` of the export; ``formats``: every part a run was
    asked for; ``digests``: relative path -> hex SHA-256 of the files written and not
    removed since.
    """

    folder: Path | UrlFolder
    parameters: dict[str, object]
    formats: set[str] = dataclasses.field(default_factory=set)
    digests: dict[str, str] = dataclasses.field(default_factory=dict)
    #: At a URL: journal lines not yet written, the next segment's number, the last write.
    _pending: list[str] = dataclasses.field(default_factory=list, repr=False, compare=False)
    _next_segment: int = dataclasses.field(default=1, repr=False, compare=False)
    _flushed_at: float = dataclasses.field(
        default_factory=time.monotonic, repr=False, compare=False
    )

    @classmethod
    def read(cls, folder: Path | UrlFolder) -> ExportRecord | None:
        """The folder's record; ``None`` if it has none; ``RecordError`` if it is damaged."""
        remote = isinstance(folder, UrlFolder)
        folder = folder if remote else Path(folder)
        path = f"{folder}/{RECORD_FILE}" if remote else folder / RECORD_FILE
        try:
            text = folder.read_text(RECORD_FILE) if remote else path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise RecordError(f"{path} cannot be read: {error}") from None
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines.pop()  # torn: the run was killed while appending it
        record = cls._parse(folder, path, lines, None)
        if record is None:
            raise RecordError(f"{path} is empty")
        try:
            segments = _journal_segments(folder) if remote else {}
        except OSError as error:
            raise RecordError(f"{folder}/{RECORD_JOURNAL_DIR} cannot be listed: {error}") from None
        for number, segment in sorted(segments.items()):
            try:
                text = folder.read_text(segment)
            except (OSError, UnicodeDecodeError) as error:
                raise RecordError(f"{folder}/{segment} cannot be read: {error}") from None
            cls._parse(folder, f"{folder}/{segment}", text.splitlines(keepends=True), record)
            record._next_segment = number + 1
        return record

    @classmethod
    def _parse(
        cls, folder: Path | UrlFolder, path: object, lines: list[str], record: ExportRecord | None
    ) -> ExportRecord | None:
        """Fold ``lines`` of the file ``path`` into ``record`` (``None``: they start one)."""
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                if record is None:
                    record = cls._header(folder, entry)
                else:
                    record._apply(entry)
            except (ValueError, TypeError, KeyError):
                raise RecordError(
                    f"{path}:{number}: not a line of a version {RECORD_VERSION} export record"
                ) from None
        return record

    @classmethod
    def _header(cls, folder: Path | UrlFolder, entry: object) -> ExportRecord:
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
    def from_manifest(
        cls, folder: Path | UrlFolder, format_entries: Mapping[str, str]
    ) -> ExportRecord | None:
        """The record a finished export's manifest amounts to; ``None`` without a usable one.

        The manifest must list ``generation.json`` with its bytes unchanged. A part of
        ``format_entries`` (format -> top entry, e.g. ``"npy"`` -> ``"images"``) counts as
        asked for when the manifest lists a file below or at its entry.
        """
        remote = isinstance(folder, UrlFolder)
        folder = folder if remote else Path(folder)
        try:
            listed = read_manifest(folder)
            if remote:
                data = folder.read_bytes(PARAMETERS_FILE)
                if hashlib.sha256(data).hexdigest() != listed.get(PARAMETERS_FILE):
                    return None
                parameters = json.loads(data.decode("utf-8"))
            else:
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
        """Write the whole record anew (atomically), as three lines; at a URL, then delete
        the journal's segments, which it holds."""
        lines = [
            {"record": RECORD_VERSION, "parameters": self.parameters},
            {"formats": sorted(self.formats)},
            {"wrote": dict(sorted(self.digests.items()))},
        ]
        text = "".join(json.dumps(x) + "\n" for x in lines)
        if not isinstance(self.folder, UrlFolder):
            write_text(self.folder / RECORD_FILE, text)
            return
        self.folder.write_text(RECORD_FILE, text)
        self._pending.clear()
        self.folder.remove(list(_journal_segments(self.folder).values()))

    def claim(self, formats: Iterable[str]) -> None:
        """Record that this run writes the parts ``formats``, before it writes any."""
        new = sorted(set(formats) - self.formats)
        if new:
            self.formats.update(new)
            self._append({"formats": new})
            self.flush()

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

    def flush(self) -> None:
        """Write the journal's pending lines at a URL as its next segment (locally, every
        line is already in the file)."""
        if self._pending:
            segment = f"{RECORD_JOURNAL_DIR}/{self._next_segment:012d}.jsonl"
            self.folder.write_text(segment, "".join(self._pending))
            self._pending.clear()
            self._next_segment += 1
        self._flushed_at = time.monotonic()

    def _append(self, entry: Mapping[str, object]) -> None:
        if isinstance(self.folder, UrlFolder):
            self._pending.append(json.dumps(entry) + "\n")
            if time.monotonic() - self._flushed_at >= JOURNAL_FLUSH_SECONDS:
                self.flush()
            return
        with open(self.folder / RECORD_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def _journal_segments(folder: UrlFolder) -> dict[int, str]:
    """The journal's segments at ``folder``: number -> relative path."""
    segments = {}
    for relative, info in folder.listing(RECORD_JOURNAL_DIR).items():
        match = _SEGMENT.match(relative.rpartition("/")[2])
        if match and info["type"] == "file" and relative.startswith(f"{RECORD_JOURNAL_DIR}/"):
            segments[int(match[1])] = relative
    return segments
