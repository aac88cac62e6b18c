"""One entry point: a whole patient (labels, an image and a label map per modality).

A patient is sampled once into frozen records, then rendered:

1. ``sample_labels`` (cohort) and ``sample_anatomy`` draw the labels and the anatomy;
2. each modality of the registry draws its parameter record (``Modality.sample``);
3. each modality renders its record and the shared scene (``Modality.render``), a pure
   function of the records; small images are supersampled and block-averaged, then
   ``Modality.finish`` runs at the output size.

Every draw comes from a named stream; a stream whose number of draws follows the
disease (the liver's speckle, a finding family) feeds nothing else, so
``render_patient`` of the same patient at another stage changes only what disease
drives (``label_ids.STAGE_DEPENDENT_IDS``) and ``progression`` shows it at every stage.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from generator.anatomy import Anatomy, sample_anatomy
from generator.cohort import PatientLabels, sample_labels
from generator.contract import (
    DEFAULT_IMAGE_SIZE,
    DEFAULT_SEED,
    STAGES,
    STIFFNESS_KPA_BY_STAGE,
    GenerationParameters,
)
from generator.label_ids import LIVER_IDS
from generator.modalities import REGISTRY
from generator.modality import Scene
from generator.random_streams import StreamFamily


@dataclasses.dataclass(frozen=True)
class Patient:
    """A generated patient.

    ``images`` and ``label_maps`` are keyed by modality name (``MRI``, ``CT``, ``US``):
    images are float32 (S, S) in [0, 1], C-contiguous; label maps are uint8 (S, S)
    with the ids of ``generator.label_ids.LABEL_NAMES``. MRI and CT share the axial
    geometry; the ultrasound map is in the probe's view. ``physical`` holds, for the
    modalities with physical units (``Modality.physical_unit``), float32 (S, S) images
    in those units (CT: Hounsfield units, whose W400/L40 window is ``images["CT"]``;
    exactly from 96 pixels up, below that the block-averaged window of the supersampled
    render). ``anatomy`` and ``parameters`` (per modality) are the records the images
    were rendered from.
    """

    labels: PatientLabels
    anatomy: Anatomy
    parameters: dict[str, object]
    images: dict[str, np.ndarray]
    label_maps: dict[str, np.ndarray]
    physical: dict[str, np.ndarray]

    def liver_mask(self, modality: str) -> np.ndarray:
        """Boolean (S, S) liver mask of ``modality``: parenchyma plus focal findings in it."""
        return np.isin(self.label_maps[modality], LIVER_IDS)


def generate_patient(
    index: int, *, seed: int = DEFAULT_SEED, image_size: int = DEFAULT_IMAGE_SIZE
) -> Patient:
    """Generate patient ``index`` (0-based): a pure function of (seed, index, image_size)."""
    GenerationParameters(index + 1, image_size, seed)  # validates
    return render_patient(sample_labels(index, seed=seed), seed=seed, image_size=image_size)


def render_patient(
    labels: PatientLabels, *, seed: int = DEFAULT_SEED, image_size: int = DEFAULT_IMAGE_SIZE
) -> Patient:
    """Render the patient with ``labels`` from the random streams of ``(seed, labels.index)``.

    ``generate_patient`` renders the sampled labels; other labels (the same patient at
    another stage and stiffness) give that patient's counterfactual images: only the
    disease-driven structures and the pixels they touch change.
    """
    GenerationParameters(labels.index + 1, image_size, seed)  # validates
    index = labels.index
    streams = StreamFamily(seed, index, "anatomy")
    anatomy = sample_anatomy(labels.severity, labels.fibrosis_stage, labels.sex, streams)
    factor = supersampling(image_size)
    scene = Scene(anatomy, image_size * factor, streams)
    parameters, images, label_maps, physical = {}, {}, {}, {}
    for modality in REGISTRY:
        params = modality.sample(labels, anatomy, StreamFamily(seed, index, modality.name))
        rendering = modality.render(params, scene)
        image = _downsample(rendering.image, factor)
        # The centre sample of each block lies exactly on the output pixel's centre.
        label_map = rendering.label_map[factor // 2 :: factor, factor // 2 :: factor]
        parameters[modality.name] = params
        images[modality.name] = modality.finish(image)
        label_maps[modality.name] = np.ascontiguousarray(label_map)
        if rendering.physical is not None:
            physical[modality.name] = _downsample(rendering.physical, factor)
    return Patient(
        labels=labels,
        anatomy=anatomy,
        parameters=parameters,
        images=images,
        label_maps=label_maps,
        physical=physical,
    )


def _downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Block-average a float (S*factor, S*factor) render to C-contiguous float32 (S, S)."""
    if factor > 1:
        size = image.shape[0] // factor
        image = image.reshape(size, factor, size, factor).mean(axis=(1, 3))
    return np.ascontiguousarray(image, dtype=np.float32)


def at_stage(labels: PatientLabels, stage: str) -> PatientLabels:
    """``labels`` moved to ``stage`` with that stage's median liver stiffness (kPa)."""
    if stage not in STAGES:
        raise ValueError(f"`stage` must be one of {', '.join(STAGES)}, got {stage!r}")
    return dataclasses.replace(
        labels, fibrosis_stage=stage, liver_stiffness_kpa=STIFFNESS_KPA_BY_STAGE[stage][0]
    )


def progression(
    index: int, *, seed: int = DEFAULT_SEED, image_size: int = DEFAULT_IMAGE_SIZE
) -> dict[str, Patient]:
    """Patient ``index`` at every stage F0..F4 (each at its median stiffness), by stage.

    Everything that disease does not drive is identical across the five patients.
    """
    GenerationParameters(index + 1, image_size, seed)  # validates
    labels = sample_labels(index, seed=seed)
    return {
        stage: render_patient(at_stage(labels, stage), seed=seed, image_size=image_size)
        for stage in STAGES
    }


#: Images smaller than this are rendered at an odd multiple of their size and
#: block-averaged (each pixel the mean over its area: no aliasing of speckle or edges).
SUPERSAMPLE_BELOW = 96


def supersampling(image_size: int) -> int:
    """Odd rendering factor for ``image_size``: 1 from ``SUPERSAMPLE_BELOW`` pixels up."""
    if image_size >= SUPERSAMPLE_BELOW:
        return 1
    factor = -(-SUPERSAMPLE_BELOW // image_size)
    return factor if factor % 2 else factor + 1
