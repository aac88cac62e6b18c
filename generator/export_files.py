"""Which files an export writes, from its parameters and parts (``--formats``).

Two views of one layout: :func:`expected_files`, the list (to tell a finished export),
and :func:`claims`, the test of one path (to tell the export's files from anyone
else's without listing millions of names).
"""

from __future__ import annotations

import functools
import re

from generator.cohort import patient_id, split_indices
from generator.contract import BUILDER_SPLIT_NAMES, GenerationParameters
from generator.layout import (
    ANATOMY_FIGURE_FILE,
    CARD_FILE,
    CROISSANT_FILE,
    DATA_DIR,
    DICOM_DIR,
    IMAGES_DIR,
    LABELS_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    NIFTI_DIR,
    PARAMETERS_FILE,
    PARTS_DIR,
    PROGRESSION_FIGURE_FILE,
    SAMPLE_GRID_FILE,
)
from generator.parquet_export import file_names
from generator.rows import CONFIG_NAMES
from generator.shards import PATIENT_FORMATS, PATIENTS_PER_CHUNK, chunks

#: The parts ``--formats`` chooses from; the tables and the manifest are always written.
FORMATS = ("npy", "parquet", "card", "dicom", "nifti")
#: What an export writes without ``--formats``: DICOM and NIfTI are opt-in (large, and
#: they need the ``medical`` extra).
DEFAULT_FORMATS = ("npy", "parquet", "card")
#: The entry at the top of the folder that holds each part's files.
FORMAT_ENTRIES = {
    "npy": IMAGES_DIR,
    "parquet": DATA_DIR,
    "card": CARD_FILE,
    "dicom": DICOM_DIR,
    "nifti": NIFTI_DIR,
}
#: Files every export writes, whatever its parts (the manifest last).
TABLE_FILES = (LABELS_FILE, METADATA_FILE, PARAMETERS_FILE)
#: The card's files (part ``card``).
CARD_FILES = (
    CARD_FILE,
    CROISSANT_FILE,
    SAMPLE_GRID_FILE,
    ANATOMY_FIGURE_FILE,
    PROGRESSION_FIGURE_FILE,
)
_PATIENT_ID = re.compile(r"PAT_(\d+)")
_PART = re.compile(
    rf"^{re.escape(PARTS_DIR)}/(?P<config>[^/]+)/(?P<split>[a-z]+)-(?P<n>\d{{6}})\.arrow$"
)


def expected_files(parameters: GenerationParameters, formats: tuple[str, ...]) -> list[str]:
    """Relative paths of the files an export with ``formats`` writes (not the manifest)."""
    names = list(TABLE_FILES)
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
        names += CARD_FILES
    return names


@functools.lru_cache(maxsize=4)
def chunk_counts(num_patients: int) -> dict[str, int]:
    """Chunk tasks of each builder split (``generator.shards.export_tasks``); cached, as
    :func:`claims` asks it once per Arrow part in the folder. Do not modify the result."""
    return {
        BUILDER_SPLIT_NAMES[split]: len(chunks(indices, PATIENTS_PER_CHUNK))
        for split, indices in split_indices(num_patients).items()
    }


def claims(relative: str, parameters: GenerationParameters, formats: set[str]) -> bool:
    """Whether an export of ``parameters`` asked for ``formats`` writes ``relative``.

    Counts the Arrow parts under ``PARTS_DIR`` and the manifest, which an export also
    writes (and removes the parts before it finishes).
    """
    if relative in TABLE_FILES or relative == MANIFEST_FILE:
        return True
    if "card" in formats and relative in CARD_FILES:
        return True
    if "parquet" in formats:
        top, _, rest = relative.partition("/")
        config, _, name = rest.partition("/")
        if top == DATA_DIR and config in CONFIG_NAMES:
            return any(name in names for names in file_names(config, parameters).values())
        part = _PART.match(relative)
        if part and part["config"] in CONFIG_NAMES:
            count = chunk_counts(parameters.num_patients).get(part["split"], 0)
            return int(part["n"]) < count
    found = _PATIENT_ID.search(relative)
    if found is None:
        return False
    index, n = int(found[1]) - 1, parameters.num_patients
    if not 0 <= index < n or found[0] != patient_id(index, n):
        return False
    return any(
        relative in PATIENT_FORMATS[name].relative_paths(index, n)
        for name in formats
        if name in PATIENT_FORMATS
    )
