"""Image measurements the trend and appearance tests read through the label maps.

Each measurement takes a ``Patient`` and a modality and returns one float; tests compare
their group statistics across stages.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import eroded
from generator import label_ids as A
from generator import sample_labels
from generator.anatomy import sample_anatomy
from generator.contract import STAGES
from generator.random_streams import StreamFamily

#: Each modality's focal finding: its label id and the first stage that may show it.
FINDINGS = {"MRI": (A.NODULE, "F2"), "CT": (A.SPOT, "F3"), "US": (A.REFLECTION, "F3")}


def indices_by_stage(per_stage: int, seed: int) -> dict[str, list[int]]:
    """The first ``per_stage`` patient indices of every stage, in index order."""
    chosen: dict[str, list[int]] = {stage: [] for stage in STAGES}
    index = 0
    while min(len(group) for group in chosen.values()) < per_stage:
        stage = sample_labels(index, seed=seed).fibrosis_stage
        if len(chosen[stage]) < per_stage:
            chosen[stage].append(index)
        index += 1
    return chosen


def sampled_anatomies(count: int, seed: int) -> list[tuple]:
    """(labels, anatomy) of patients 0..count-1: geometry only, no rendering."""
    out = []
    for index in range(count):
        labels = sample_labels(index, seed=seed)
        streams = StreamFamily(seed, index, "anatomy")
        out.append(
            (labels, sample_anatomy(labels.severity, labels.fibrosis_stage, labels.sex, streams))
        )
    return out


def _box3(image: np.ndarray) -> np.ndarray:
    """3 x 3 moving average (edges clamped), same shape."""
    padded = np.pad(image, 1, mode="edge")
    size_y, size_x = image.shape
    return (
        sum(padded[dy : dy + size_y, dx : dx + size_x] for dy in range(3) for dx in range(3)) / 9.0
    )


def liver_mean(patient, modality: str) -> float:
    """Mean intensity inside the liver."""
    return float(patient.images[modality][patient.liver_mask(modality)].mean())


def bright_outlier_fraction(patient, modality: str, threshold_sd: float = 6.0) -> float:
    """Fraction of inner-liver pixels whose 3 x 3 mean exceeds the liver median by
    ``threshold_sd`` robust standard deviations: bright focal structures (nodules, spots)."""
    inner = eroded(patient.liver_mask(modality), 2)
    smooth = _box3(patient.images[modality].astype(np.float64))[inner]
    median = np.median(smooth)
    robust_sd = 1.4826 * np.median(np.abs(smooth - median))
    return float(np.mean(smooth > median + threshold_sd * robust_sd))


def speckle_correlation(patient, modality: str = "US", lag: int = 2) -> float:
    """Correlation of inner-liver intensities ``lag`` pixels apart (both axes): speckle
    grain size, i.e. texture coarseness."""
    image = patient.images[modality].astype(np.float64)
    inner = eroded(patient.liver_mask(modality), lag + 1)
    correlations = []
    for base, shifted, both_inside in (
        (image[:-lag, :], image[lag:, :], inner[lag:, :] & inner[:-lag, :]),
        (image[:, :-lag], image[:, lag:], inner[:, lag:] & inner[:, :-lag]),
    ):
        correlations.append(np.corrcoef(base[both_inside], shifted[both_inside])[0, 1])
    return float(np.mean(correlations))


def spearman(x, y) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    import pandas as pd

    return float(pd.Series(x).rank().corr(pd.Series(y).rank()))
