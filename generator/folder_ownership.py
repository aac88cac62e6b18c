"""Whose files an export folder holds: take it over for an export run, or refuse.

Rules (the export holds the folder's lock while they run):

- nothing is followed through a symbolic link, and a folder holding one is refused;
- a file that the record (``generator.export_record``) neither lists nor claims is
  someone else's: the folder is refused, ``--force`` or not, and the file is not touched;
- an export made with other parameters is refused unless ``--force``, which removes
  only the files that export wrote;
- a claimed file that is not recorded (a killed run wrote it, or began to) is removed,
  to be written again;
- a recorded file whose bytes differ from the record is repaired: removed, to be
  written again (``check_kept_files``).

The folder is a local ``Path`` or a ``generator.storage.UrlFolder``; the rules are the same.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from generator.contract import GenerationParameters
from generator.export_files import FORMAT_ENTRIES, claims
from generator.export_record import ExportRecord, RecordError
from generator.files import PARTIAL_SUFFIX
from generator.folder_scan import scan_folder
from generator.layout import MANIFEST_FILE, RECORD_FILE
from generator.manifest import URL_HASH_THREADS, sha256_file
from generator.storage import UrlFolder

#: ``generation.json``'s key for the pixel spacing of every modality, mm (derived from
#: the image size; the other keys are ``GenerationParameters.as_dict()``).
PIXEL_SPACING_KEY = "pixel_spacing_mm"


class OwnershipError(Exception):
    """The folder cannot be taken over; the one-line message says why and what to do."""


def listing(paths: Sequence[str], limit: int = 3) -> str:
    """``"a, b, c and 4 more"``: the first ``limit`` of ``paths`` and how many others."""
    shown = ", ".join(paths[:limit])
    return shown if len(paths) <= limit else f"{shown} and {len(paths) - limit} more"


def recorded_parameters(record: ExportRecord) -> GenerationParameters | None:
    """The parameters a record names, or ``None`` if they are not this generator's."""
    values = {k: v for k, v in record.parameters.items() if k != PIXEL_SPACING_KEY}
    try:
        return GenerationParameters.from_mapping(values)
    except (TypeError, ValueError):
        return None


def _partial_target(relative: str) -> str:
    """The file an atomic write's leftover was for: ``images/.PAT_0001_MRI.npy.123.partial``
    -> ``images/PAT_0001_MRI.npy``."""
    folder, _, name = relative.rpartition("/")
    stem = name[1 : -len(PARTIAL_SUFFIX)].rpartition(".")[0]
    return f"{folder}/{stem}" if folder else stem


def take_over(
    out: Path | UrlFolder, parameters: GenerationParameters, formats: Sequence[str], *, force: bool
) -> ExportRecord:
    """Check ``out`` for an export of ``parameters``; return its record, saved and claiming
    ``formats``. Raise ``OwnershipError`` before touching anything if the folder is not
    the export's to write."""
    out = out if isinstance(out, UrlFolder) else Path(out)
    scan = out.scan() if isinstance(out, UrlFolder) else scan_folder(out)
    if scan.unreadable:
        raise OwnershipError(
            f"cannot read {out}/{listing(scan.unreadable)}; fix its permissions and rerun"
        )
    if scan.links:
        raise OwnershipError(
            f"{out}/{scan.links[0]} is a symbolic link: an export writes only regular files "
            "inside --out and never follows a link; replace it by a folder or use another --out"
        )
    try:
        record = ExportRecord.read(out)
    except RecordError as error:
        raise OwnershipError(
            f"{error}; the folder cannot be resumed: remove it or use another --out"
        ) from None
    if record is None:
        record = ExportRecord.from_manifest(out, FORMAT_ENTRIES)
    # A partial of the record itself is the leftover of a killed save: bookkeeping.
    partials = [p for p in scan.partials if _partial_target(p) != RECORD_FILE]
    present = list(scan.files) + [_partial_target(p) for p in partials]
    if record is None:
        if present:
            raise OwnershipError(
                f"{out} holds {len(present)} file(s) that no export wrote "
                f"({listing(present)}); use an empty folder or another --out"
            )
        record = ExportRecord(out, {})
    previous = recorded_parameters(record)
    foreign = [
        relative
        for relative in present
        if relative not in record.digests
        and (previous is None or not claims(relative, previous, record.formats))
    ]
    if foreign:
        raise OwnershipError(
            f"{out} holds {len(foreign)} file(s) that this export did not write "
            f"({listing(foreign)}); move them out of {out} (nothing was changed)"
        )
    fresh = not record.parameters
    if not fresh and previous != parameters:
        described = ", ".join(
            f"{k}={v}" for k, v in record.parameters.items() if k != PIXEL_SPACING_KEY
        )
        if not force:
            raise OwnershipError(
                f"{out} holds an export made with other parameters ({described}); "
                "use another --out or pass --force to replace it"
            )
        _remove(out, present + list(scan.partials))
        fresh = True
    if fresh:
        _remove(out, scan.partials)  # only the record's, or the replaced export's
        record = ExportRecord(out, parameters.as_dict())
        record.save()
    else:
        unrecorded = [p for p in present if p not in record.digests and p != MANIFEST_FILE]
        _remove(out, unrecorded + list(scan.partials))
        record.save()  # compacts the journal (and writes a record taken from a manifest)
    record.claim(formats)
    return record


def _remove(out: Path | UrlFolder, relative_paths: Sequence[str]) -> None:
    """Delete these files of ``out`` (regular files only: links were refused)."""
    if isinstance(out, UrlFolder):
        out.remove(relative_paths)
        return
    for relative in relative_paths:
        with contextlib.suppress(FileNotFoundError):
            (out / relative).unlink()


def check_kept_files(
    record: ExportRecord,
    *,
    workers: int,
    quiet: bool,
    say: Callable[[str], object],
) -> None:
    """Hash every recorded file; remove (and unrecord) those whose bytes differ or that
    are gone, saying so for the former. ``workers`` threads hash (``URL_HASH_THREADS``
    at least, at a URL)."""
    folder = record.folder
    remote = isinstance(folder, UrlFolder)
    recorded = sorted(record.digests.items())

    def differs(item: tuple[str, str]) -> bool | None:
        relative, digest = item
        try:
            actual = folder.sha256(relative) if remote else sha256_file(folder / relative)
        except FileNotFoundError:
            return None
        return actual != digest

    gone, repaired = [], []
    threads = max(workers, URL_HASH_THREADS) if remote else max(1, workers)
    pool = concurrent.futures.ThreadPoolExecutor(threads)
    try:
        with tqdm(total=len(recorded), unit="file", desc="checking", disable=quiet) as bar:
            results = pool.map(differs, recorded)
            for (relative, _), result in zip(recorded, results, strict=True):
                if result is None:
                    gone.append(relative)
                elif result:
                    repaired.append(relative)
                bar.update()
    finally:
        pool.shutdown(cancel_futures=True)  # Ctrl-C: no hashing of the rest
    for relative in repaired:
        say(f"repairing {folder}/{relative}: its bytes are not those this export wrote")
        if not remote:
            (folder / relative).unlink()
    if remote:
        folder.remove(repaired)
    record.removed(gone + repaired)
