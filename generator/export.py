"""Export the dataset to a folder: ``python generator/export.py [options]``.

The folder is a complete Hugging Face dataset repository and the seed's raw layout:

- ``images/PAT_0001_MRI.npy`` (and ``_CT``, ``_US``) for every patient (part ``npy``);
- ``labels.csv``, ``metadata.csv`` and ``generation.json`` (the parameters), always;
- ``data/<config>/<split>-NNNNN-of-NNNNN.parquet``, the builder's rows (part
  ``parquet``);
- ``README.md``, the dataset card rendered from ``dataset_card.md``,
  ``assets/sample_grid.png``, ``assets/progression.png`` and ``croissant.json`` (part
  ``card``);
- ``dicom/`` and ``nifti/``, per patient (parts ``dicom`` and ``nifti``, opt-in);
- ``manifest-sha256.txt``, written last: the SHA-256 of every file above.

Each patient is rendered once, in chunk tasks (``generator.shards``) that an engine
(``generator.engines``: local processes or Ray) runs; the ``.npy`` files and the rows of
both Parquet configs come from that one render. Every file is written atomically;
rerunning an interrupted export resumes it from the finished tasks.
``--verify DIR`` checks a folder against its manifest.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from generator.card import CARD_FILE, CardError, parquet_files, read_labels, write_card
from generator.contract import (
    BUILDER_SPLIT_NAMES,
    DATASET_NAME,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GenerationParameters,
)
from generator.croissant import CROISSANT_FILE, write_croissant
from generator.dicom_export import DICOM_DIR
from generator.encoding import quantize_to_uint8
from generator.engines import ENGINES, EngineError, open_engine
from generator.extras import MissingExtraError, require
from generator.files import remove_partial_files, write_text
from generator.layout import ASSETS_DIR, PARAMETERS_FILE
from generator.manifest import (
    MANIFEST_FILE,
    ManifestError,
    Verification,
    list_files,
    read_manifest,
    verify_manifest,
    write_manifest,
)
from generator.modalities import MODALITY_COLUMNS
from generator.nifti_export import NIFTI_DIR
from generator.parquet_export import (
    DATA_DIR,
    PARTS_DIR,
    assemble_file,
    config_is_complete,
    file_is_complete,
    file_names,
    remove_config,
    remove_parts,
)
from generator.physical_space import pixel_spacings_mm
from generator.progression_figure import PROGRESSION_FIGURE_FILE, write_progression_figure
from generator.raw import (
    IMAGES_DIR,
    LABELS_FILE,
    METADATA_FILE,
    image_path,
    missing_patients,
    write_tables,
)
from generator.rows import CONFIG_NAMES
from generator.sample_grid import SAMPLE_GRID_FILE, write_sample_grid
from generator.shards import PATIENT_FORMATS, assembly_jobs, export_tasks, run_task

#: ``generation.json``'s key for the pixel spacing of every modality, mm (derived from
#: the image size; the other keys are ``GenerationParameters.as_dict()``).
PIXEL_SPACING_KEY = "pixel_spacing_mm"
#: The card's pictures (part ``card``), all in ``ASSETS_DIR``.
ASSET_FILES = (SAMPLE_GRID_FILE, PROGRESSION_FIGURE_FILE)
#: Everything an export writes at the top of its folder; ``--force`` removes only these
#: (and inside the folders, only files named as the export names them).
EXPORT_ENTRIES = (
    IMAGES_DIR,
    LABELS_FILE,
    METADATA_FILE,
    PARAMETERS_FILE,
    DATA_DIR,
    CARD_FILE,
    ASSETS_DIR,
    CROISSANT_FILE,
    DICOM_DIR,
    NIFTI_DIR,
    MANIFEST_FILE,
)
#: The parts ``--formats`` chooses from; the tables and the manifest are always written.
FORMATS = ("npy", "parquet", "card", "dicom", "nifti")
#: What an export writes without ``--formats``: DICOM and NIfTI are opt-in (large, and
#: they need the ``medical`` extra).
DEFAULT_FORMATS = ("npy", "parquet", "card")
#: The optional module each format needs: (module, extra).
FORMAT_EXTRAS = {"dicom": ("pydicom", "medical"), "nifti": ("nibabel", "medical")}


class ExportError(Exception):
    """A problem the user can fix; its message is printed as one line."""


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
        type=Path,
        default=Path(DATASET_NAME),
        help=f"output folder (default: {DATASET_NAME})",
    )
    parser.add_argument(
        "--num-patients",
        type=int,
        default=DEFAULT_NUM_PATIENTS,
        help=f"number of patients, >= 1 (default: {DEFAULT_NUM_PATIENTS})",
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
        help=f"random seed, >= 0 (default: {DEFAULT_SEED})",
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
        '".[ray]"; --out must then be shared storage that every node sees) (default: local)',
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
        type=Path,
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
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} exists and is not a folder")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(f"--out {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out}: {existing} is not writable")


def _check_previous_export(out: Path, parameters: GenerationParameters, force: bool) -> None:
    """Refuse to mix with an export made with other parameters, unless ``force``."""
    parameters_path = out / PARAMETERS_FILE
    if parameters_path.is_file():
        try:
            previous = json.loads(parameters_path.read_text())
        except (OSError, ValueError):
            previous = None
        with contextlib.suppress(ValueError):  # not parameters of this generator
            if isinstance(previous, dict):  # the spacing is derived from the parameters
                previous = {k: v for k, v in previous.items() if k != PIXEL_SPACING_KEY}
            if GenerationParameters.from_mapping(previous) == parameters:
                return
        items = previous.items() if isinstance(previous, dict) else ()
        described = ", ".join(f"{k}={v}" for k, v in items) or "unreadable"
        if not force:
            raise ExportError(
                f"{out} holds an export made with other parameters ({described}); "
                "use another --out or pass --force to replace it"
            )
    elif out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(
            f"{out} is not empty and holds no export; use an empty folder or pass --force"
        )


def _remove_previous_export(out: Path) -> None:
    """Delete what an earlier export wrote (only the entries and files an export owns)."""
    for child in (out / IMAGES_DIR).glob("PAT_*.npy"):
        child.unlink()
    for config in CONFIG_NAMES:
        remove_config(out, config)
    for name in (LABELS_FILE, METADATA_FILE, PARAMETERS_FILE, CARD_FILE, MANIFEST_FILE):
        (out / name).unlink(missing_ok=True)
    for name in (*ASSET_FILES, CROISSANT_FILE):
        (out / name).unlink(missing_ok=True)
    for pattern in (f"{DICOM_DIR}/PAT_*/*.dcm", f"{NIFTI_DIR}/PAT_*.nii.gz"):
        for child in out.glob(pattern):
            child.unlink()


def expected_files(parameters: GenerationParameters, formats: tuple[str, ...]) -> list[str]:
    """Relative paths of the files an export with ``formats`` writes (not the manifest)."""
    names = [LABELS_FILE, METADATA_FILE, PARAMETERS_FILE]
    if "parquet" in formats:
        names += [
            f"{DATA_DIR}/{config}/{name}"
            for config in CONFIG_NAMES
            for split_names in file_names(config, parameters).values()
            for name in split_names
        ]
    for name, patient_format in PATIENT_FORMATS.items():
        if name in formats:
            names += [
                path
                for index in range(parameters.num_patients)
                for path in patient_format.relative_paths(index, parameters.num_patients)
            ]
    if "card" in formats:
        names += [CARD_FILE, CROISSANT_FILE, *ASSET_FILES]
    return names


def is_finished(out: Path, parameters: GenerationParameters, formats: tuple[str, ...]) -> bool:
    """Whether ``out`` is a finished export holding ``formats``: its manifest lists every
    file those formats write and each is on disk (contents are ``--verify``'s job)."""
    try:
        listed = read_manifest(out)
    except ManifestError:
        return False
    wanted = expected_files(parameters, formats)
    return all(name in listed and (out / name).is_file() for name in wanted)


def owned_files(out: Path) -> list[str]:
    """Relative paths of the files below ``out`` that belong to the export (not the manifest)."""
    return [path for path in list_files(out) if path.split("/")[0] in EXPORT_ENTRIES]


def _image_loader(out: Path, num_patients: int):
    """``load(index, modality) -> float32 image`` from the ``.npy`` files or, if absent, the
    ``float32`` Parquet config, quantised as the ``default`` config stores it."""
    if not missing_patients(out, num_patients):
        return lambda index, modality: quantize_to_uint8(
            np.load(image_path(out, index, num_patients, modality), allow_pickle=False)
        )
    ids = [row["patient_id"] for row in read_labels(out)]
    files = [
        path
        for split in BUILDER_SPLIT_NAMES.values()
        for path in parquet_files(out, "float32", split)
    ]
    if not files:
        raise ExportError("the sample grid needs the .npy images or the float32 Parquet config")

    def load(index: int, modality: str) -> np.ndarray:
        column = MODALITY_COLUMNS[modality]
        for path in files:
            table = pq.read_table(
                path, columns=[column], filters=[("patient_id", "==", ids[index])]
            )
            if table.num_rows:
                image = np.asarray(table.column(column)[0].as_py(), dtype=np.float32)
                return quantize_to_uint8(image)
        raise ExportError(f"{ids[index]} is in labels.csv but not in the float32 Parquet")

    return load


def export(
    out: Path,
    parameters: GenerationParameters,
    *,
    workers: int = 1,
    quiet: bool = False,
    force: bool = False,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    engine: str = "local",
    ray_address: str | None = None,
) -> None:
    """Write (or finish writing) the export folder ``out``; raise ``ExportError`` on bad input.

    ``parameters`` (validated when it was made) go into ``generation.json`` as
    ``parameters.as_dict()``. ``formats`` chooses the parts (``FORMATS``); parts already in
    the folder are kept and listed in the manifest, which is written last. Each patient
    is rendered once, by chunk tasks that ``engine`` (``ENGINES``) runs with ``workers``
    processes or CPUs, on the Ray cluster at ``ray_address`` if given.
    """
    if workers < 1:
        raise ExportError(f"--workers must be >= 1, got {workers}")
    if engine not in ENGINES:
        raise ExportError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if ray_address is not None and engine != "ray":
        raise ExportError("--ray-address needs --engine ray")
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
    for module, extra, purpose in needed:  # before anything is written
        try:
            require(module, extra, purpose)
        except MissingExtraError as error:
            raise ExportError(str(error)) from None
    out = Path(out)
    _check_output_folder(out)
    _check_previous_export(out, parameters, force)
    if not force and is_finished(out, parameters, formats):
        return  # nothing to do: rerun on a finished export
    out.mkdir(parents=True, exist_ok=True)
    remove_partial_files(out)
    if force:
        _remove_previous_export(out)
    # A folder with a manifest is a finished export; this run changes it, so the
    # manifest goes first and comes back last.
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    spacing = {m: round(mm, 6) for m, mm in pixel_spacings_mm(parameters.image_size).items()}
    record = {**parameters.as_dict(), PIXEL_SPACING_KEY: spacing}
    write_text(out / PARAMETERS_FILE, json.dumps(record, indent=2) + "\n")
    num_patients = parameters.num_patients
    wanted = CONFIG_NAMES if "parquet" in formats else ()
    configs = [c for c in wanted if not config_is_complete(out, c, parameters)]
    tasks = export_tasks(parameters, formats=formats, configs=configs)
    todo = [task for task in tasks if not task.is_done(out, parameters)]
    jobs = [job for job in assembly_jobs(parameters, configs) if not file_is_complete(out, job)]
    try:
        with open_engine(
            engine if todo or jobs else "local",  # nothing to run: no Ray to start
            out,
            parameters,
            workers=min(workers, max(len(todo), len(jobs), 1)),
            ray_address=ray_address,
        ) as run:
            with tqdm(
                total=num_patients,
                initial=num_patients - sum(len(task.indices) for task in todo),
                unit="patient",
                desc="patients",
                disable=quiet,
            ) as bar:
                run(run_task, todo, bar.update)
            with tqdm(total=len(jobs), unit="file", desc="parquet", disable=quiet) as bar:
                run(assemble_file, jobs, lambda rows: bar.update())
    except (EngineError, MissingExtraError) as error:
        raise ExportError(str(error)) from None
    # Parts of a complete config are no longer needed; a config this run did not ask for
    # and left incomplete goes (its files would be listed as a finished export's).
    for config in CONFIG_NAMES:
        if config in wanted:
            remove_parts(out, config)
        elif (out / DATA_DIR / config).is_dir() and not config_is_complete(out, config, parameters):
            remove_config(out, config)
    with contextlib.suppress(FileNotFoundError):
        (out / PARTS_DIR).rmdir()
    write_tables(out, parameters)
    if "card" in formats:
        labels = read_labels(out)
        write_sample_grid(
            out,
            stages=[row["fibrosis_stage"] for row in labels],
            patient_ids=[row["patient_id"] for row in labels],
            load_image=_image_loader(out, num_patients),
        )
        write_progression_figure(out, parameters)
        try:
            write_croissant(out, parameters)  # before the card, whose files table lists it
            write_card(out, parameters)
        except (CardError, ValueError) as error:
            raise ExportError(str(error)) from None
    files = owned_files(out)
    with tqdm(total=len(files), unit="file", desc="manifest", disable=quiet) as bar:
        write_manifest(out, files, on_progress=bar.update)


def verify(folder: Path, *, quiet: bool = False) -> Verification:
    """Check ``folder`` against its manifest; raise ``ExportError`` if it has none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"--verify {folder}: not a folder")
    try:
        total = len(read_manifest(folder))
        with tqdm(total=total, unit="file", desc="verify", disable=quiet) as bar:
            return verify_manifest(folder, on_progress=bar.update)
    except ManifestError as error:
        raise ExportError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.verify is not None:
        return _main_verify(args.verify, quiet=args.quiet)
    try:
        parameters = GenerationParameters(args.num_patients, args.image_size, args.seed)
    except ValueError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return 2
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
        return 2
    except KeyboardInterrupt:
        print("export.py: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except OSError as error:
        reason = "disk full" if error.errno == errno.ENOSPC else error.strerror or str(error)
        where = f" writing {error.filename}" if error.filename else ""
        print(f"export.py: error: {reason}{where}; fix it and rerun to resume", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {parameters.num_patients} patients to {args.out}")
    return 0


def _main_verify(folder: Path, *, quiet: bool) -> int:
    """``--verify DIR``: one line per problem on stderr; exit status 0 if the folder matches."""
    try:
        result = verify(folder, quiet=quiet)
    except ExportError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"{folder}: {result.describe()}")
        return 0
    print(result.describe(), file=sys.stderr)
    problems = len(result.missing) + len(result.corrupted) + len(result.extra)
    print(
        f"export.py: {folder} fails verification: {len(result.missing)} missing, "
        f"{len(result.corrupted)} corrupted, {len(result.extra)} extra "
        f"({problems} problem(s))",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
