"""The raw half of the export folder: ``images/*.npy``, ``labels.csv`` and ``metadata.csv``.

The images are written by the chunk tasks of ``generator.shards``; this module names
them and writes the tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from generator.cohort import patient_id, sample_labels, split_of
from generator.contract import LABEL_COLUMNS, GenerationParameters
from generator.files import write_text
from generator.modalities import MODALITIES

IMAGES_DIR = "images"
LABELS_FILE = "labels.csv"
METADATA_FILE = "metadata.csv"
METADATA_COLUMNS = ("patient_id", "liver_stiffness_kpa")


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
