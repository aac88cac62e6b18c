"""The raw half of the export folder: ``images/*.npy``, ``labels.csv`` and ``metadata.csv``.

The images are written by the chunk tasks of ``generator.shards``; this module names
them and writes the tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from generator.cohort import fold_of, patient_id, sample_labels, split_of
from generator.contract import LABEL_COLUMNS, GenerationParameters
from generator.files import save_npy, write_text
from generator.layout import IMAGES_DIR, LABELS_FILE, METADATA_FILE
from generator.modalities import MODALITIES
from generator.patient import Patient

#: ``metadata.csv``: the latent stiffness and the cross-validation fold (0-4 in train and
#: val, empty in test; ``generator.cohort.fold_of``).
METADATA_COLUMNS = ("patient_id", "liver_stiffness_kpa", "fold")


def image_path(folder: Path, index: int, num_patients: int, modality: str) -> Path:
    """``folder/images/PAT_0001_MRI.npy`` for patient index 0."""
    return Path(folder) / IMAGES_DIR / f"{patient_id(index, num_patients)}_{modality}.npy"


def npy_relative_paths(index: int, num_patients: int) -> list[str]:
    """``images/PAT_0001_MRI.npy`` and the other modalities' files of patient ``index``."""
    return [image_path(Path(), index, num_patients, m).as_posix() for m in MODALITIES]


def write_npy(folder: Path, patient: Patient, parameters: GenerationParameters) -> None:
    """Write ``patient``'s images as float32 ``.npy`` files, atomically."""
    (Path(folder) / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    for modality in MODALITIES:
        path = image_path(folder, patient.labels.index, parameters.num_patients, modality)
        save_npy(path, patient.images[modality])


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


def table_texts(parameters: GenerationParameters) -> dict[str, str]:
    """``labels.csv`` (the seed's six columns) and ``metadata.csv`` (stiffness, fold), by
    file name."""
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
    folds = [fold_of(item.index, num_patients) for item in labels]
    metadata_rows = [
        (pid, f"{item.liver_stiffness_kpa:.3f}", "" if fold is None else fold)
        for pid, item, fold in zip(ids, labels, folds, strict=True)
    ]
    return {
        LABELS_FILE: _csv_text(LABEL_COLUMNS, label_rows),
        METADATA_FILE: _csv_text(METADATA_COLUMNS, metadata_rows),
    }


def write_tables(folder: Path, parameters: GenerationParameters) -> None:
    """Write ``labels.csv`` and ``metadata.csv`` (``table_texts``) atomically."""
    for name, text in table_texts(parameters).items():
        write_text(Path(folder) / name, text)
