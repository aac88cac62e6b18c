"""B-mode ultrasound: Gamma-distributed speckle over the liver seen through the probe.

Echogenicity and texture coarseness (speckle grain size, lower Gamma shape) rise with
fibrosis severity; bright reflections appear in F3-F4.
"""

from __future__ import annotations

import numpy as np

from generator.anatomy import ULTRASOUND_ZOOM, Anatomy, ellipse_mask, label_map
from generator.cohort import PatientLabels
from generator.stamps import random_points_in_mask, stamp_disc

TISSUE_ECHO = 0.30
LIVER_ECHO = 0.40  # F0 median
LIVER_ECHO_PER_SEVERITY = 0.15
REFLECTION_STAGES = frozenset({"F3", "F4"})


def _box_blur(field: np.ndarray, width: int) -> np.ndarray:
    """Separable moving average over odd ``width`` pixels, edges clamped; same shape."""
    if width <= 1:
        return field
    pad = width // 2
    padded = np.pad(field, pad, mode="edge").astype(np.float64)
    for axis in (0, 1):
        cumulative = np.cumsum(padded, axis=axis)
        cumulative = np.insert(cumulative, 0, 0.0, axis=axis)
        upper = np.take(cumulative, np.arange(width, cumulative.shape[axis]), axis=axis)
        lower = np.take(cumulative, np.arange(0, cumulative.shape[axis] - width), axis=axis)
        padded = (upper - lower) / width
    return padded.astype(np.float32)


def render_ultrasound(
    labels: PatientLabels, anatomy: Anatomy, image_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render the B-mode image.

    Returns
    -------
    image : float32 (image_size, image_size) in [0, 1]
    labels_map : uint8 (image_size, image_size), 0 background, 1 liver, in the probe's view
    """
    mask = ellipse_mask(anatomy.liver.zoomed(ULTRASOUND_ZOOM), image_size)
    severity = labels.severity
    echo = np.full((image_size, image_size), TISSUE_ECHO, dtype=np.float32)
    echo[mask] = LIVER_ECHO + LIVER_ECHO_PER_SEVERITY * severity + rng.normal(0.0, 0.03)
    shape = float(np.clip(1.0 - 0.3 * severity, 0.45, 1.2))
    speckle = rng.gamma(shape, 1.0 / shape, size=(image_size, image_size)).astype(np.float32)
    grain = 1 + 2 * int(np.clip(round(1.5 * severity * image_size / 224), 0, 4))
    liver_speckle = _box_blur(speckle, grain)
    speckle[mask] = liver_speckle[mask] * (1.0 + 0.3 * (grain > 1))
    image = echo * speckle
    if labels.fibrosis_stage in REFLECTION_STAGES:
        count = int(rng.poisson(3.0 + 5.0 * max(severity, 0.0)))
        for cy, cx in random_points_in_mask(mask, count, rng):
            stamp_disc(image, (cy, cx), image_size * 0.006, 0.8)
    image = np.log1p(4.0 * image) / np.log1p(4.0 * 2.5)
    return np.clip(image, 0.0, 1.0).astype(np.float32), label_map(mask)
