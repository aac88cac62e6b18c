"""Export the dataset to a folder: ``python generator/export.py [options]``.

The folder is a complete Hugging Face dataset repository and the seed's raw layout:

- ``images/PAT_0001_MRI.npy`` (and ``_CT``, ``_US``) for every patient (part ``npy``);
- ``labels.csv``, ``metadata.csv`` and ``generation.json`` (the parameters), always;
- ``data/<config>/<split>-NNNNN-of-NNNNN.parquet``, the builder's rows (part
  ``parquet``);
- ``README.md``, the dataset card rendered from ``dataset_card.md``,
  ``assets/sample_grid.png``, ``assets/anatomy.png``, ``assets/progression.png`` and
  ``croissant.json`` (part ``card``);
- ``dicom/`` and ``nifti/``, per patient (parts ``dicom`` and ``nifti``, opt-in);
- ``manifest-sha256.txt``, written last: the SHA-256 of every file above.

Each patient is rendered once, in chunk tasks (``generator.shards``) that an engine
(``generator.engines``: local processes or Ray) runs; the ``.npy`` files and the rows of
both Parquet configs come from that one render. Every file is written atomically;
rerunning an interrupted export resumes it from the finished tasks. ``--out`` is a local
folder or an fsspec URL (``generator.storage``): the same steps, with the lock, the
record, the jobs and the card written for an object store (``generator.folder_lock``,
``generator.export_record``, ``generator.url_jobs``, ``generator.url_card``).
``--verify DIR`` checks a folder against its manifest.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from generator.anatomy_figure import write_anatomy_figure
from generator.card import CardError, parquet_files, read_labels, write_card
from generator.contract import (
    BUILDER_SPLIT_NAMES,
    DATASET_NAME,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    MAX_NUM_PATIENTS,
    MAX_SEED,
    GenerationParameters,
)
from generator.croissant import write_croissant
from generator.encoding import quantize_to_uint8
from generator.engines import ENGINES, EngineError, open_engine
from generator.export_files import (
    CARD_FILES,
    DEFAULT_FORMATS,
    FORMATS,
    TABLE_FILES,
    expected_files,
)
from generator.export_record import ExportRecord, Written, digest_files
from generator.extras import MissingExtraError, require
from generator.files import write_text
from generator.folder_lock import FolderBusyError, folder_lock
from generator.folder_ownership import (
    PIXEL_SPACING_KEY,
    OwnershipError,
    check_kept_files,
    take_over,
)
from generator.layout import (
    LABELS_FILE,
    LOCK_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    PARAMETERS_FILE,
    PARTS_DIR,
)
from generator.manifest import (
    ManifestError,
    Verification,
    read_manifest,
    verify_manifest,
    write_manifest,
)
from generator.modalities import MODALITY_COLUMNS
from generator.parquet_export import assemble_file
from generator.physical_space import pixel_spacings_mm
from generator.progression_figure import write_progression_figure
from generator.raw import image_path, missing_patients, table_texts, write_tables
from generator.rows import CONFIG_NAMES
from generator.sample_grid import write_sample_grid
from generator.shards import assembly_jobs, export_tasks, run_task
from generator.storage import StorageError, UrlFolder, as_location
from generator.url_card import local_view
from generator.url_jobs import assemble_file_at_url, run_task_at_url

#: The optional module each format needs: (module, extra).
FORMAT_EXTRAS = {"dicom": ("pydicom", "medical"), "nifti": ("nibabel", "medical")}
#: Exit statuses (README.md): bad input, a failure to fix and resume from, Ctrl-C, SIGTERM.
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143


class ExportError(Exception):
    """A problem the user can fix; its message is printed as one line, and ``status`` is
    the exit status (``EXIT_BAD_INPUT`` unless the run failed and a rerun resumes it)."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not the usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="export.py",
        description="Generate the synthetic liver cirrhosis dataset into a folder.",
        epilog="example: python generator/export.py --out OpenMultiModalLiverCirrhosisDataset "
        "--num-patients 1000 --image-size 224 --seed 42",
    )
    parser.add_argument(
        "--out",
        default=DATASET_NAME,
        help="output folder: a path, or an fsspec URL such as s3://bucket/folder (with "
        f"its fsspec backend, e.g. pip install s3fs) (default: {DATASET_NAME})",
    )
    parser.add_argument(
        "--num-patients",
        type=int,
        default=DEFAULT_NUM_PATIENTS,
        help=f"number of patients, 1..{MAX_NUM_PATIENTS} (default: {DEFAULT_NUM_PATIENTS})",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=DEFAULT_IMAGE_SIZE,
        help=f"image side in pixels, 32..1024 (default: {DEFAULT_IMAGE_SIZE})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"random seed, 0..{MAX_SEED} (default: {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: all cores)",
    )
    parser.add_argument(
        "--formats",
        type=_formats,
        default=DEFAULT_FORMATS,
        metavar="LIST",
        help=f"comma-separated parts to write, from {','.join(FORMATS)} (default: "
        f"{','.join(DEFAULT_FORMATS)}); 'card' needs 'parquet'; dicom and nifti need "
        'pip install -e ".[medical]"',
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where the patients are rendered: local processes, or Ray (pip install -e "
        '".[ray]"; --out must then be storage that every node sees: a shared path or a URL) '
        "(default: local)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster to use with --engine ray (default: a local Ray with --workers CPUs)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--force", action="store_true", help="replace an export made with other parameters in --out"
    )
    parser.add_argument(
        "--verify",
        metavar="DIR",
        help="only check the export folder DIR against its manifest and report missing, "
        "extra or corrupted files (exit status 1 if any)",
    )
    return parser


def _formats(text: str) -> tuple[str, ...]:
    """Parse ``--formats``: known names, at least one, in ``FORMATS`` order."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(FORMATS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}"
        )
    if not names:
        raise argparse.ArgumentTypeError("give at least one format")
    return tuple(name for name in FORMATS if name in names)


def _check_output_folder(out: Path) -> None:
    """Refuse an output path that is a file or cannot be written."""
    if out.is_symlink() and not out.is_dir():
        raise ExportError(f"--out {out} is a symbolic link to no folder")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} exists and is not a folder")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(f"--out {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out}: {existing} is not writable")


def _check_url_folder(out: UrlFolder, engine: str, workers: int) -> None:
    """Refuse a URL that names a file or cannot be reached; create it where folders exist."""
    if out.protocol == "memory" and (engine != "local" or workers > 1):
        raise ExportError(
            f"--out {out}: memory:// is this process's memory; use --engine local --workers 1"
        )
    try:
        out.prepare()
    except StorageError as error:
        raise ExportError(str(error)) from None
    except Exception as error:  # the store's first answer: credentials, bucket, network
        raise ExportError(f"--out {out}: {type(error).__name__}: {error}") from None


def _check_arguments(
    workers: int, formats: tuple[str, ...], engine: str, ray_address: str | None
) -> None:
    """Refuse bad arguments and missing extras, before anything is written."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ExportError(f"--workers must be >= 1, got {workers!r}")
    if engine not in ENGINES:
        raise ExportError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if ray_address is not None and (engine != "ray" or not ray_address.strip()):
        raise ExportError("--ray-address needs --engine ray and a cluster address")
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ExportError(f"--formats must be names from {', '.join(FORMATS)}, got {formats}")
    if "card" in formats and "parquet" not in formats:
        raise ExportError("--formats: 'card' describes the Parquet configs; add 'parquet'")
    needed = [
        FORMAT_EXTRAS[name] + (f"--formats {name}",) for name in formats if name in FORMAT_EXTRAS
    ]
    if engine == "ray":
        needed.append(("ray", "ray", "--engine ray"))
    for module, extra, purpose in needed:
        try:
            require(module, extra, purpose)
        except MissingExtraError as error:
            raise ExportError(str(error)) from None


def is_finished(record: ExportRecord, parameters: GenerationParameters, formats) -> bool:
    """Whether the record lists every file of ``formats`` (and no Arrow part) and the
    folder's manifest is the one the record gives."""
    if any(relative.startswith(f"{PARTS_DIR}/") for relative in record.digests):
        return False
    if not all(name in record.digests for name in expected_files(parameters, formats)):
        return False
    try:
        return read_manifest(record.folder) == record.digests
    except ManifestError:
        return False


def _remove_recorded(record: ExportRecord, relative_paths: Sequence[str]) -> None:
    """Delete these files of the export and take them out of its record."""
    if isinstance(record.folder, UrlFolder):
        record.folder.remove(relative_paths)
    else:
        for relative in relative_paths:
            (record.folder / relative).unlink(missing_ok=True)
    record.removed(relative_paths)


def _write_recorded(record: ExportRecord, relative: str, text: str) -> None:
    """Write a text file of the export atomically and record it."""
    if isinstance(record.folder, UrlFolder):
        record.folder.write_text(relative, text)
        record.wrote({relative: hashlib.sha256(text.encode("utf-8")).hexdigest()})
        return
    write_text(record.folder / relative, text)
    record.wrote(digest_files(record.folder, [record.folder / relative]))


def _float32_cells(out: Path, remote: UrlFolder | None = None):
    """``read(index, column, dtype) -> ndarray``: patient ``index``'s cell of ``column`` in
    the ``float32`` Parquet config as ``dtype`` (images float32 (S, S), label maps uint8
    (S, S)); read at ``remote`` if ``out`` is its local view (``generator.url_card``)."""
    ids = [row["patient_id"] for row in read_labels(out)]
    files = [
        path
        for split in BUILDER_SPLIT_NAMES.values()
        for path in parquet_files(out, "float32", split)
    ]
    if not files:
        raise ExportError("the card's figures need the float32 Parquet config")

    def read(index: int, column: str, dtype: type) -> np.ndarray:
        for path in files:
            source = remote.path(path.relative_to(out).as_posix()) if remote else path
            table = pq.read_table(
                source,
                columns=[column],
                filters=[("patient_id", "==", ids[index])],
                filesystem=remote.fs if remote else None,
            )
            if table.num_rows:
                return np.asarray(table.column(column)[0].as_py(), dtype=dtype)
        raise ExportError(f"{ids[index]} is in labels.csv but not in the float32 Parquet")

    return read


def _image_loader(out: Path, num_patients: int, remote: UrlFolder | None = None):
    """``load(index, modality) -> uint8 image`` from the ``.npy`` files or, if absent, the
    ``float32`` Parquet config, quantised as the ``default`` config stores it; read at
    ``remote`` if ``out`` is its local view."""
    if not missing_patients(out, num_patients):

        def load(index: int, modality: str) -> np.ndarray:
            path = image_path(out, index, num_patients, modality)
            if remote is not None:
                path = io.BytesIO(remote.read_bytes(path.relative_to(out).as_posix()))
            return quantize_to_uint8(np.load(path, allow_pickle=False))

        return load
    read = _float32_cells(out, remote)
    return lambda index, modality: quantize_to_uint8(
        read(index, MODALITY_COLUMNS[modality], np.float32)
    )


def _label_map_loader(out: Path, remote: UrlFolder | None = None):
    """``load(index, modality) -> uint8 label map`` from the ``float32`` Parquet config (at
    ``remote`` if ``out`` is its local view)."""
    read = _float32_cells(out, remote)
    return lambda index, modality: read(index, f"{MODALITY_COLUMNS[modality]}_label_map", np.uint8)


def export(
    out: str | Path | UrlFolder,
    parameters: GenerationParameters,
    *,
    workers: int = 1,
    quiet: bool = False,
    force: bool = False,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    engine: str = "local",
    ray_address: str | None = None,
    say: Callable[[str], object] = lambda message: print(message, file=sys.stderr),
) -> None:
    """Write (or finish writing) the export folder ``out`` (a path, or an fsspec URL:
    ``generator.storage``); raise ``ExportError`` on bad input.

    ``parameters`` (validated when it was made) go into ``generation.json`` as
    ``parameters.as_dict()``. ``formats`` chooses the parts (``FORMATS``); parts already in
    the folder are kept and listed in the manifest, which is written last. Each patient
    is rendered once, by chunk tasks that ``engine`` (``ENGINES``) runs with ``workers``
    processes or CPUs, on the Ray cluster at ``ray_address`` if given. The folder must
    hold nothing but this export's files (``generator.folder_ownership``); a file whose
    bytes changed since the export wrote it is written again, and ``say`` tells so.
    """
    _check_arguments(workers, formats, engine, ray_address)
    try:
        out = as_location(out)
    except StorageError as error:
        raise ExportError(str(error)) from None
    if isinstance(out, UrlFolder):
        _check_url_folder(out, engine, workers)
        lock_existed = True  # a lock object is deleted when its holder ends
    else:
        _check_output_folder(out)
        out.mkdir(parents=True, exist_ok=True)
        lock_existed = (out / LOCK_FILE).exists()
    try:
        with folder_lock(out, say=say) as check_lock:
            try:
                record = take_over(out, parameters, formats, force=force)
            except OwnershipError as error:
                if not lock_existed:  # leave a refused folder as it was
                    (out / LOCK_FILE).unlink(missing_ok=True)
                raise ExportError(str(error)) from None
            check_kept_files(record, workers=workers, quiet=quiet, say=say)
            if not is_finished(record, parameters, formats):
                try:
                    _write_export(
                        record, parameters, formats, workers, quiet, engine, ray_address, check_lock
                    )
                finally:  # at a URL, what is done is kept for the next run (if it can be)
                    with contextlib.suppress(OSError):
                        record.flush()
    except FolderBusyError as error:
        raise ExportError(str(error)) from None


def _worker_count(workers: int, engine: str, jobs: int) -> int:
    """``--workers``, capped at the jobs to run and, for local processes, at this
    machine's CPUs (more processes than either only cost their start)."""
    count = min(workers, max(jobs, 1))
    return min(count, len(os.sched_getaffinity(0))) if engine == "local" else count


def _write_export(
    record: ExportRecord,
    parameters: GenerationParameters,
    formats: tuple[str, ...],
    workers: int,
    quiet: bool,
    engine: str,
    ray_address: str | None,
    check_lock: Callable[[], None],
) -> None:
    """Write what the record lacks of the export, then the manifest from the record;
    ``check_lock()`` raises ``FolderBusyError`` if the folder's lock was lost."""
    out = record.folder
    remote = isinstance(out, UrlFolder)
    # A folder with a manifest is a finished export; this run changes it, so the
    # manifest goes first and comes back last.
    _remove_recorded(record, [MANIFEST_FILE])
    if PARAMETERS_FILE not in record.digests:
        spacing = {m: round(mm, 6) for m, mm in pixel_spacings_mm(parameters.image_size).items()}
        record_text = {**parameters.as_dict(), PIXEL_SPACING_KEY: spacing}
        _write_recorded(record, PARAMETERS_FILE, json.dumps(record_text, indent=2) + "\n")
    num_patients = parameters.num_patients
    configs = CONFIG_NAMES if "parquet" in formats else ()
    jobs = [
        job for job in assembly_jobs(parameters, configs) if job.relative_path not in record.digests
    ]
    tasks = export_tasks(parameters, formats=formats, configs=sorted({j.config for j in jobs}))
    todo = [
        task
        for task in tasks
        if not all(path in record.digests for path in task.relative_outputs(parameters))
    ]
    try:
        with open_engine(
            engine if todo or jobs else "local",  # nothing to run: no Ray to start
            out,
            parameters,
            workers=_worker_count(workers, engine, max(len(todo), len(jobs))),
            ray_address=ray_address,
        ) as run:
            with tqdm(
                total=num_patients,
                initial=num_patients - sum(len(task.indices) for task in todo),
                unit="patient",
                desc="patients",
                disable=quiet,
            ) as bar:

                def task_done(done: Written) -> None:
                    check_lock()
                    record.wrote(done.digests)
                    bar.update(done.count)

                run(run_task_at_url if remote else run_task, todo, task_done)
            with tqdm(total=len(jobs), unit="file", desc="parquet", disable=quiet) as bar:

                def file_done(done: Written) -> None:
                    check_lock()
                    record.wrote(done.digests)
                    bar.update()

                run(assemble_file_at_url if remote else assemble_file, jobs, file_done)
    except EngineError as error:
        raise ExportError(str(error), EXIT_FAILED) from None
    except MissingExtraError as error:
        raise ExportError(str(error)) from None
    # The Arrow parts are not part of a finished export; nor is a part an earlier run
    # was asked for, this one was not, and that is incomplete.
    _remove_recorded(record, [p for p in record.digests if p.startswith(f"{PARTS_DIR}/")])
    if remote:
        out.remove_tree(PARTS_DIR)
    else:
        shutil.rmtree(out / PARTS_DIR, ignore_errors=True)
    for name in sorted(record.formats - set(formats)):
        wanted = [p for p in expected_files(parameters, (name,)) if p not in TABLE_FILES]
        if not all(p in record.digests for p in wanted):
            _remove_recorded(record, [p for p in wanted if p in record.digests])
    if not all(name in record.digests for name in (LABELS_FILE, METADATA_FILE)):
        if remote:
            for name, text in table_texts(parameters).items():
                _write_recorded(record, name, text)
        else:
            write_tables(out, parameters)
            record.wrote(digest_files(out, [out / LABELS_FILE, out / METADATA_FILE]))
    if "card" in formats and remote:
        with local_view(out, [p for p in record.digests if p not in CARD_FILES]) as view:
            _write_card(view, parameters, remote=out, digests=record.digests)
            for name in CARD_FILES:
                out.upload(name, view / name)
            record.wrote(digest_files(view, [view / name for name in CARD_FILES]))
    elif "card" in formats:
        _write_card(out, parameters, digests=record.digests)  # Parquet not read again
        record.wrote(digest_files(out, [out / name for name in CARD_FILES]))
    check_lock()
    record.flush()  # at a URL: every line before the manifest that says it is finished
    write_manifest(out, record.digests)


def _write_card(
    out: Path,
    parameters: GenerationParameters,
    *,
    remote: UrlFolder | None = None,
    digests: Mapping[str, str] | None = None,
) -> None:
    """Write the card's files (``CARD_FILES``) into the local folder ``out``: the export,
    or the local view (``generator.url_card``) of the export at ``remote``, whose images
    are read there. ``digests`` (the export's record) gives the SHA-256 of the files
    ``croissant.json`` lists."""
    labels = read_labels(out)
    stages = [row["fibrosis_stage"] for row in labels]
    patient_ids = [row["patient_id"] for row in labels]
    load_image = _image_loader(out, parameters.num_patients, remote)
    write_sample_grid(out, stages=stages, patient_ids=patient_ids, load_image=load_image)
    write_anatomy_figure(
        out,
        stages=stages,
        patient_ids=patient_ids,
        load_image=load_image,
        load_label_map=_label_map_loader(out, remote),
    )
    write_progression_figure(out, parameters)
    try:
        # before the card, whose files table lists it
        write_croissant(out, parameters, digests=digests)
        write_card(out, parameters)
    except (CardError, ValueError) as error:
        raise ExportError(str(error)) from None


def verify(folder: str | Path | UrlFolder, *, quiet: bool = False) -> Verification:
    """Check ``folder`` (a path or an fsspec URL) against its manifest; raise
    ``ExportError`` if it has none."""
    try:
        folder = as_location(folder, flag="--verify")
    except StorageError as error:
        raise ExportError(str(error)) from None
    if isinstance(folder, Path) and not folder.is_dir():
        raise ExportError(f"--verify {folder}: not a folder")
    try:
        total = len(read_manifest(folder))
        with tqdm(total=total, unit="file", desc="verify", disable=quiet) as bar:
            return verify_manifest(folder, on_progress=bar.update)
    except ManifestError as error:
        raise ExportError(str(error)) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the run stops as on Ctrl-C."""


#: Set by the SIGTERM handler. Ray's ``ray.wait`` and ``ray.get`` run signal handlers
#: themselves and turn any exception a handler raises into a plain ``KeyboardInterrupt``,
#: so the exception's type alone does not tell SIGTERM from Ctrl-C.
_sigterm_received = threading.Event()


def _raise_terminated(signum, frame) -> None:
    _sigterm_received.set()
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (``EXIT_*``)."""
    args = build_parser().parse_args(argv)
    if args.verify is not None:
        return _main_verify(args.verify, quiet=args.quiet)
    try:
        parameters = GenerationParameters(args.num_patients, args.image_size, args.seed)
    except ValueError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _sigterm_received.clear()
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        export(
            args.out,
            parameters,
            workers=args.workers,
            quiet=args.quiet,
            force=args.force,
            formats=args.formats,
            engine=args.engine,
            ray_address=args.ray_address,
        )
    except ExportError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        terminated = _sigterm_received.is_set()  # set before every Terminated is raised
        stopped = "terminated" if terminated else "interrupted"
        print(f"export.py: {stopped}; rerun the same command to resume", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except OSError as error:
        print(f"export.py: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if not args.quiet:
        print(f"wrote {parameters.num_patients} patients to {args.out}")
    return 0


def describe_os_error(error: OSError) -> str:
    """One line for a failed read or write: what, where, and that a rerun resumes."""
    if error.errno == errno.ENOSPC:
        where = f" writing {error.filename}" if error.filename else ""
        return f"disk full{where}; free some space (or use another --out) and rerun to resume"
    where = f" on {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}; fix it and rerun to resume"


def _main_verify(folder: str, *, quiet: bool) -> int:
    """``--verify DIR``: one line per problem on stderr; exit status 0 if the folder matches."""
    try:
        result = verify(folder, quiet=quiet)
    except ExportError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result.ok:
        print(f"{folder}: {result.describe()}")
        return 0
    print(result.describe(), file=sys.stderr)
    print(
        f"export.py: {folder} fails verification: {len(result.missing)} missing, "
        f"{len(result.corrupted)} corrupted, {len(result.extra)} extra, "
        f"{len(result.unreadable)} unreadable, {len(result.links)} link(s) "
        f"({result.problems} problem(s))",
        file=sys.stderr,
    )
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
