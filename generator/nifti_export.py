"""NIfTI export: each modality's image and label map as a gzipped NIfTI-1 file.

Layout: ``nifti/PAT_0001_MRI.nii.gz``, ``_CT.nii.gz``, ``_US.nii.gz``, then the label
maps ``nifti/PAT_0001_MRI_label.nii.gz``, ``_CT_label``, ``_US_label``. Data:

- images: float32, bit-identical to the generator's arrays: CT in Hounsfield units
  (``patient.physical["CT"]``), MRI and ultrasound the [0, 1] images (as the ``.npy``
  files); ``cal_min``/``cal_max`` give the display range (CT -160..240 HU, W400/L40);
- label maps: uint8, the ids of ``generator.label_ids.LABEL_NAMES``, intent ``label``.

Every array is (S, S, 1) with the first index along the image's columns and the
second along its rows (NIfTI's x, y), so ``data[:, :, 0].T`` is the image. The affine
(sform and qform, code 1) is ``generator.physical_space.pixel_to_patient`` turned from
LPS to NIfTI's RAS+ mm: MRI and CT orient as L, P, S (columns run to the patient's
left, rows to posterior); the ultrasound sits in the same axial plane at its probe's
pose, so it overlays the CT and MRI. Units mm; ``descrip`` holds the provenance line,
``aux_file`` the patient id.

Bytes are deterministic: the gzip member has mtime 0 and no file name.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from generator.cohort import patient_id
from generator.contract import GenerationParameters
from generator.ct import WINDOW_LEVEL_HU, WINDOW_WIDTH_HU
from generator.extras import require
from generator.files import write_bytes
from generator.label_ids import NUM_LABELS
from generator.layout import NIFTI_DIR
from generator.modalities import MODALITIES
from generator.patient import Patient
from generator.physical_space import pixel_to_patient
from generator.provenance import provenance

LABEL_SUFFIX = "_label"
#: Flips LPS (DICOM, ``physical_space``) to RAS+ (NIfTI): x and y change sign.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: zlib level of the gzip member: 1, the fastest; levels 6-9 shrink these noisy floats by
#: under 1 % for 25-50 % more time.
GZIP_LEVEL = 1
#: Display range (``cal_min``, ``cal_max``) of each image: the CT window (W400/L40) in
#: HU, the [0, 1] range of the others. Label maps show every id.
DISPLAY_RANGES = {
    "MRI": (0.0, 1.0),
    "CT": (WINDOW_LEVEL_HU - WINDOW_WIDTH_HU / 2, WINDOW_LEVEL_HU + WINDOW_WIDTH_HU / 2),
    "US": (0.0, 1.0),
}
#: NIfTI-1 ``descrip`` holds at most 80 bytes.
_DESCRIP_BYTES = 80


def nifti_relative_paths(index: int, num_patients: int) -> list[str]:
    """The images (registry order), then the label maps, of patient ``index``."""
    stem = f"{NIFTI_DIR}/{patient_id(index, num_patients)}"
    return [
        f"{stem}_{modality}{suffix}.nii.gz"
        for suffix in ("", LABEL_SUFFIX)
        for modality in MODALITIES
    ]


def nifti_affine(patient: Patient, modality: str) -> np.ndarray:
    """float64 (4, 4): voxel ``(column, row, 0)`` of ``patient``'s ``modality`` -> RAS+ mm."""
    return LPS_TO_RAS @ pixel_to_patient(patient, modality)


def write_nifti(folder: Path, patient: Patient, parameters: GenerationParameters) -> list[Path]:
    """Write ``patient``'s NIfTI files below ``folder`` atomically; return their paths.

    The paths are ``folder / nifti_relative_paths(index, num_patients)``, in that order.
    Raise ``ValueError`` if the patient does not belong to ``parameters``;
    ``MissingExtraError`` without nibabel.
    """
    nib = require("nibabel", "medical", "NIfTI export")
    descrip = f"synthetic {provenance(patient, parameters)}".encode("ascii")
    if len(descrip) > _DESCRIP_BYTES:
        raise ValueError(f"the provenance must fit NIfTI's 80-byte descrip, got {descrip!r}")
    name = patient_id(patient.labels.index, parameters.num_patients).encode("ascii")
    # (modality, array, display range, NIfTI intent), in the order of the paths: images in
    # physical units where the modality has them, then the label maps.
    images = [
        (m, patient.physical.get(m, patient.images[m]), DISPLAY_RANGES[m], "none")
        for m in MODALITIES
    ] + [(m, patient.label_maps[m], (0, NUM_LABELS - 1), "label") for m in MODALITIES]
    relative_paths = nifti_relative_paths(patient.labels.index, parameters.num_patients)
    paths = []
    for (modality, array, display_range, intent), relative in zip(
        images, relative_paths, strict=True
    ):
        image = nib.Nifti1Image(np.ascontiguousarray(array.T)[:, :, None], None)
        affine = nifti_affine(patient, modality)
        image.set_qform(affine, code=1)  # 1: scanner-based anatomical coordinates
        image.set_sform(affine, code=1)
        header = image.header
        header.set_xyzt_units("mm")
        header["descrip"], header["aux_file"] = descrip, name
        header["cal_min"], header["cal_max"] = display_range
        header.set_intent(intent)
        path = Path(folder) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, gzip.compress(image.to_bytes(), compresslevel=GZIP_LEVEL, mtime=0))
        paths.append(path)
    return paths
