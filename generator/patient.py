"""One entry point: a whole patient (labels, three images, three label maps)."""

from __future__ import annotations

import dataclasses

import numpy as np

from generator.anatomy import LIVER, sample_anatomy
from generator.cohort import PatientLabels, sample_labels
from generator.contract import DEFAULT_IMAGE_SIZE, DEFAULT_SEED, MODALITIES, validate_parameters
from generator.ct import render_ct
from generator.mri import render_mri
from generator.random_streams import Stream, stream_rng
from generator.ultrasound import render_ultrasound

_RENDERERS = {
    "MRI": (render_mri, Stream.MRI),
    "CT": (render_ct, Stream.CT),
    "US": (render_ultrasound, Stream.ULTRASOUND),
}


@dataclasses.dataclass(frozen=True)
class Patient:
    """A generated patient.

    ``images`` and ``label_maps`` are keyed by modality (``MRI``, ``CT``, ``US``):
    images are float32 (S, S) in [0, 1], C-contiguous; label maps are uint8 (S, S)
    with the ids of ``generator.anatomy.LABEL_NAMES``.
    """

    labels: PatientLabels
    images: dict[str, np.ndarray]
    label_maps: dict[str, np.ndarray]

    def liver_mask(self, modality: str) -> np.ndarray:
        """Boolean (S, S) liver mask of ``modality``."""
        return self.label_maps[modality] == LIVER


def generate_patient(
    index: int, *, seed: int = DEFAULT_SEED, image_size: int = DEFAULT_IMAGE_SIZE
) -> Patient:
    """Generate patient ``index`` (0-based): a pure function of (seed, index, image_size)."""
    validate_parameters(num_patients=index + 1, image_size=image_size, seed=seed)
    labels = sample_labels(index, seed=seed)
    anatomy = sample_anatomy(stream_rng(seed, index, Stream.ANATOMY))
    images, label_maps = {}, {}
    for modality in MODALITIES:
        render, stream = _RENDERERS[modality]
        image, label_map = render(labels, anatomy, image_size, stream_rng(seed, index, stream))
        images[modality] = np.ascontiguousarray(image, dtype=np.float32)
        label_maps[modality] = label_map
    return Patient(labels=labels, images=images, label_maps=label_maps)
