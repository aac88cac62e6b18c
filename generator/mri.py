"""T2-weighted MRI: the liver in a noisy background (the seed's appearance model).

Liver signal rises with fibrosis severity; bright nodules appear from F2 on, more
and larger with severity.
"""

from __future__ import annotations

import numpy as np

from generator.anatomy import Anatomy, ellipse_mask, label_map
from generator.cohort import PatientLabels
from generator.stamps import random_points_in_mask, stamp_disc

BACKGROUND_NOISE_SIGMA = 0.04  # per channel of the complex signal (Rayleigh background)
LIVER_SIGNAL = 0.42  # F0 median
LIVER_SIGNAL_PER_SEVERITY = 0.18
LIVER_NOISE_SIGMA = 0.06
NODULE_STAGES = frozenset({"F2", "F3", "F4"})


def render_mri(
    labels: PatientLabels, anatomy: Anatomy, image_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render the T2-weighted slice.

    Returns
    -------
    image : float32 (image_size, image_size) in [0, 1]
    labels_map : uint8 (image_size, image_size), 0 background, 1 liver
    """
    mask = ellipse_mask(anatomy.liver, image_size)
    real = rng.standard_normal((image_size, image_size), dtype=np.float32)
    imag = rng.standard_normal((image_size, image_size), dtype=np.float32)
    signal = np.zeros((image_size, image_size), dtype=np.float32)
    level = LIVER_SIGNAL + LIVER_SIGNAL_PER_SEVERITY * labels.severity + rng.normal(0.0, 0.04)
    signal[mask] = level
    signal[mask] += LIVER_NOISE_SIGMA * rng.standard_normal(int(mask.sum()), dtype=np.float32)
    if labels.fibrosis_stage in NODULE_STAGES:
        severity = max(labels.severity, 0.0)
        count = int(rng.poisson(3.0 + 10.0 * severity))
        radius = image_size * (0.010 + 0.008 * severity)
        for cy, cx in random_points_in_mask(mask, count, rng):
            stamp_disc(signal, (cy, cx), radius * rng.uniform(0.7, 1.3), 0.25)
    image = np.hypot(signal + BACKGROUND_NOISE_SIGMA * real, BACKGROUND_NOISE_SIGMA * imag)
    return np.clip(image, 0.0, 1.0, out=image).astype(np.float32), label_map(mask)
