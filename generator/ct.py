"""CT: Hounsfield units of the liver in soft tissue, shown through the abdominal window.

Liver density rises with fibrosis severity (the seed's model); high-density spots
appear in F3-F4 only. Tissue values from REFERENCE.md (liver 45-65 HU, fat -50 to -100,
noise about 10 HU).
"""

from __future__ import annotations

import numpy as np

from generator.anatomy import Anatomy, ellipse_mask, label_map
from generator.cohort import PatientLabels
from generator.stamps import random_points_in_mask, stamp_disc

WINDOW_WIDTH_HU, WINDOW_LEVEL_HU = 400.0, 40.0
FAT_HU = -90.0
LIVER_HU = 55.0  # F0 median, unenhanced
LIVER_HU_PER_SEVERITY = 25.0
NOISE_SD_HU = 10.0
SPOT_HU = 150.0
SPOT_STAGES = frozenset({"F3", "F4"})


def hounsfield_to_unit(hu: np.ndarray) -> np.ndarray:
    """Map HU through the W400/L40 window to float32 [0, 1] (-160 HU -> 0, 240 HU -> 1)."""
    low = WINDOW_LEVEL_HU - WINDOW_WIDTH_HU / 2
    unit = (hu - low) / WINDOW_WIDTH_HU
    return np.clip(unit, 0.0, 1.0).astype(np.float32)


def render_ct(
    labels: PatientLabels, anatomy: Anatomy, image_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render the CT slice.

    Returns
    -------
    image : float32 (image_size, image_size) in [0, 1], the W400/L40 window of HU
    labels_map : uint8 (image_size, image_size), 0 background, 1 liver
    """
    mask = ellipse_mask(anatomy.liver, image_size)
    hu = np.full((image_size, image_size), FAT_HU, dtype=np.float32)
    hu[mask] = LIVER_HU + LIVER_HU_PER_SEVERITY * labels.severity + rng.normal(0.0, 5.0)
    if labels.fibrosis_stage in SPOT_STAGES:
        count = int(rng.poisson(4.0 + 6.0 * max(labels.severity, 0.0)))
        radius = image_size * 0.008
        for cy, cx in random_points_in_mask(mask, count, rng):
            stamp_disc(hu, (cy, cx), radius * rng.uniform(0.8, 1.5), SPOT_HU)
    hu += NOISE_SD_HU * rng.standard_normal((image_size, image_size), dtype=np.float32)
    return hounsfield_to_unit(hu), label_map(mask)
