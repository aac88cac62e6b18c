"""The raw half of the export folder: ``images/*.npy``, ``labels.csv`` and ``metadata.csv``."""

from __future__ import annotations

import concurrent.futures
import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

from generator.cohort import patient_id, sample_labels, split_of
from generator.contract import LABEL_COLUMNS, GenerationParameters
from generator.files import save_npy, write_text
from generator.modalities import MODALITIES
from generator.patient import generate_patient

IMAGES_DIR = "images"
LABELS_FILE = "labels.csv"
METADATA_FILE = "metadata.csv"
METADATA_COLUMNS = ("patient_id", "liver_stiffness_kpa")
_CHUNK = 8  # patients per task handed to a worker process


def image_path(folder: Path, index: int, num_patients: int, modality: str) -> Path:
    """``folder/images/PAT_0001_MRI.npy`` for patient index 0."""
    return Path(folder) / IMAGES_DIR / f"{patient_id(index, num_patients)}_{modality}.npy"


def missing_patients(folder: Path, num_patients: int) -> list[int]:
    """Indices of the patients that lack at least one image file."""
    return [
        index
        for index in range(num_patients)
        if not all(image_path(folder, index, num_patients, m).is_file() for m in MODALITIES)
    ]


def _write_patients(folder: Path, indices: Sequence[int], parameters: GenerationParameters) -> int:
    """Generate ``indices`` and write their three images; return how many patients."""
    for index in indices:
        patient = generate_patient(index, seed=parameters.seed, image_size=parameters.image_size)
        for modality in MODALITIES:
            path = image_path(folder, index, parameters.num_patients, modality)
            save_npy(path, patient.images[modality])
    return len(indices)


def write_images(
    folder: Path,
    indices: Sequence[int],
    parameters: GenerationParameters,
    *,
    workers: int,
    on_progress: Callable[[int], object] = lambda done: None,
) -> None:
    """Write the images of ``indices`` (of the patients ``parameters`` define) using
    ``workers`` processes.

    ``on_progress(n)`` is called after each chunk of ``n`` patients.
    """
    (Path(folder) / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    chunks = [indices[i : i + _CHUNK] for i in range(0, len(indices), _CHUNK)]
    if workers == 1:
        for chunk in chunks:
            on_progress(_write_patients(folder, chunk, parameters))
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_write_patients, folder, chunk, parameters) for chunk in chunks]
        try:
            for future in concurrent.futures.as_completed(futures):
                on_progress(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_tables(folder: Path, parameters: GenerationParameters) -> None:
    """Write ``labels.csv`` (the seed's six columns) and ``metadata.csv`` (stiffness)."""
    num_patients = parameters.num_patients
    labels = [sample_labels(index, seed=parameters.seed) for index in range(num_patients)]
    ids = [patient_id(item.index, num_patients) for item in labels]
    label_rows = [
        (
            pid,
            item.fibrosis_stage,
            item.binary_label,
            split_of(item.index, num_patients),
            item.age,
            item.sex,
        )
        for pid, item in zip(ids, labels, strict=True)
    ]
    metadata_rows = [
        (pid, f"{item.liver_stiffness_kpa:.3f}") for pid, item in zip(ids, labels, strict=True)
    ]
    write_text(Path(folder) / LABELS_FILE, _csv_text(LABEL_COLUMNS, label_rows))
    write_text(Path(folder) / METADATA_FILE, _csv_text(METADATA_COLUMNS, metadata_rows))
