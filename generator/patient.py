"""One entry point: a whole patient (labels, three images, three label maps)."""

from __future__ import annotations

import dataclasses

import numpy as np

from generator.anatomy import LIVER_IDS, axial_label_map, sample_anatomy
from generator.cohort import PatientLabels, sample_labels
from generator.contract import DEFAULT_IMAGE_SIZE, DEFAULT_SEED, validate_parameters
from generator.ct import render_ct
from generator.mri import render_mri
from generator.random_streams import Stream, stream_rng
from generator.ultrasound import fan_geometry, render_ultrasound


@dataclasses.dataclass(frozen=True)
class Patient:
    """A generated patient.

    ``images`` and ``label_maps`` are keyed by modality (``MRI``, ``CT``, ``US``):
    images are float32 (S, S) in [0, 1], C-contiguous; label maps are uint8 (S, S)
    with the ids of ``generator.anatomy.LABEL_NAMES``. MRI and CT share the axial
    geometry; the ultrasound map is in the probe's view.
    """

    labels: PatientLabels
    images: dict[str, np.ndarray]
    label_maps: dict[str, np.ndarray]

    def liver_mask(self, modality: str) -> np.ndarray:
        """Boolean (S, S) liver mask of ``modality``: parenchyma plus focal findings in it."""
        return np.isin(self.label_maps[modality], LIVER_IDS)


def generate_patient(
    index: int, *, seed: int = DEFAULT_SEED, image_size: int = DEFAULT_IMAGE_SIZE
) -> Patient:
    """Generate patient ``index`` (0-based): a pure function of (seed, index, image_size)."""
    validate_parameters(num_patients=index + 1, image_size=image_size, seed=seed)
    return render_patient(sample_labels(index, seed=seed), seed=seed, image_size=image_size)


def render_patient(
    labels: PatientLabels, *, seed: int = DEFAULT_SEED, image_size: int = DEFAULT_IMAGE_SIZE
) -> Patient:
    """Render the patient with ``labels`` from the random streams of ``(seed, labels.index)``.

    ``generate_patient`` renders the sampled labels; other labels (e.g. the same patient
    at another stage and stiffness) give that patient's counterfactual images, with the
    same anatomy draws and noise streams.
    """
    index = labels.index
    anatomy = sample_anatomy(
        stream_rng(seed, index, Stream.ANATOMY), labels.severity, labels.fibrosis_stage
    )
    factor = supersampling(image_size)
    size = image_size * factor
    axial = axial_label_map(anatomy, size)
    outputs = {
        "MRI": render_mri(labels, anatomy, axial, stream_rng(seed, index, Stream.MRI)),
        "CT": render_ct(labels, anatomy, axial, stream_rng(seed, index, Stream.CT)),
        "US": render_ultrasound(labels, anatomy, size, stream_rng(seed, index, Stream.ULTRASOUND)),
    }
    images, label_maps = {}, {}
    for modality, (image, label_map) in outputs.items():
        if factor > 1:
            image = image.reshape(image_size, factor, image_size, factor).mean(axis=(1, 3))
            # The centre sample of each block lies exactly on the output pixel's centre.
            label_map = np.ascontiguousarray(
                label_map[factor // 2 :: factor, factor // 2 :: factor]
            )
            if modality == "US":
                image[~fan_geometry(image_size).inside] = 0.0
        images[modality] = np.ascontiguousarray(image, dtype=np.float32)
        label_maps[modality] = label_map
    return Patient(labels=labels, images=images, label_maps=label_maps)


#: Images smaller than this are rendered at an odd multiple of their size and
#: block-averaged (each pixel the mean over its area: no aliasing of speckle or edges).
SUPERSAMPLE_BELOW = 96


def supersampling(image_size: int) -> int:
    """Odd rendering factor for ``image_size``: 1 from ``SUPERSAMPLE_BELOW`` pixels up."""
    if image_size >= SUPERSAMPLE_BELOW:
        return 1
    factor = -(-SUPERSAMPLE_BELOW // image_size)
    return factor if factor % 2 else factor + 1
