"""Export the dataset to a folder: ``python generator/export.py [options]``.

Writes ``images/PAT_0001_MRI.npy`` (and ``_CT``, ``_US``) for every patient,
``labels.csv``, ``metadata.csv`` and ``generation.json`` (the parameters). Every file
is written atomically; rerunning an interrupted export resumes it.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm.auto import tqdm

from generator.contract import (
    DATASET_NAME,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    validate_parameters,
)
from generator.files import remove_partial_files, write_text
from generator.raw import (
    IMAGES_DIR,
    LABELS_FILE,
    METADATA_FILE,
    missing_patients,
    write_images,
    write_tables,
)

PARAMETERS_FILE = "generation.json"
#: Everything an export writes at the top of its folder; ``--force`` removes only these.
EXPORT_ENTRIES = (IMAGES_DIR, LABELS_FILE, METADATA_FILE, PARAMETERS_FILE)


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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--force", action="store_true", help="replace an export made with other parameters in --out"
    )
    return parser


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


def _check_previous_export(out: Path, parameters: dict, force: bool) -> None:
    """Refuse to mix with an export made with other parameters, unless ``force``."""
    parameters_path = out / PARAMETERS_FILE
    if parameters_path.is_file():
        try:
            previous = json.loads(parameters_path.read_text())
        except (OSError, ValueError):
            previous = None
        if previous == parameters:
            return
        described = ", ".join(f"{k}={v}" for k, v in (previous or {}).items()) or "unreadable"
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
    """Delete what an earlier export wrote (only the entries an export owns)."""
    for name in EXPORT_ENTRIES:
        path = out / name
        if path.is_dir():
            for child in path.glob("PAT_*.npy"):
                child.unlink()
        elif path.exists():
            path.unlink()


def export(
    out: Path,
    *,
    num_patients: int = DEFAULT_NUM_PATIENTS,
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    quiet: bool = False,
    force: bool = False,
) -> None:
    """Write (or finish writing) the export folder ``out``; raise ``ExportError`` on bad input."""
    try:
        validate_parameters(num_patients=num_patients, image_size=image_size, seed=seed)
    except ValueError as error:
        raise ExportError(str(error)) from None
    if workers < 1:
        raise ExportError(f"--workers must be >= 1, got {workers}")
    out = Path(out)
    _check_output_folder(out)
    parameters = {
        "generator_version": GENERATOR_VERSION,
        "num_patients": num_patients,
        "image_size": image_size,
        "seed": seed,
    }
    _check_previous_export(out, parameters, force)
    out.mkdir(parents=True, exist_ok=True)
    remove_partial_files(out)
    if force:
        _remove_previous_export(out)
    write_text(out / PARAMETERS_FILE, json.dumps(parameters, indent=2) + "\n")
    todo = missing_patients(out, num_patients)
    with tqdm(
        total=num_patients,
        initial=num_patients - len(todo),
        unit="patient",
        desc="images",
        disable=quiet,
    ) as bar:
        write_images(
            out,
            todo,
            num_patients=num_patients,
            image_size=image_size,
            seed=seed,
            workers=min(workers, max(len(todo), 1)),
            on_progress=bar.update,
        )
    write_tables(out, num_patients=num_patients, seed=seed)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        export(
            args.out,
            num_patients=args.num_patients,
            image_size=args.image_size,
            seed=args.seed,
            workers=args.workers,
            quiet=args.quiet,
            force=args.force,
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
        print(f"wrote {args.num_patients} patients to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
