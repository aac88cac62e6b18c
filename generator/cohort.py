"""Per-patient labels: id, fibrosis stage, liver stiffness, binary label, age, sex, split.

A patient's labels are a pure function of ``(seed, index)``; only its split and fold
also depend on the number of patients (splits are contiguous index ranges).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from generator.contract import (
    AGE_MAX,
    AGE_MEAN,
    AGE_MIN,
    AGE_SD,
    NUM_FOLDS,
    POSITIVE_STAGES,
    SEXES,
    SPLIT_FRACTIONS,
    SPLITS,
    STAGE_PREVALENCE,
    STAGES,
    STIFFNESS_KPA_BY_STAGE,
)
from generator.random_streams import Stream, stream_rng

# A normal distribution's interquartile range spans 2 * 0.6745 standard deviations.
_IQR_IN_SD = 2 * 0.6744897501960817


@dataclasses.dataclass(frozen=True)
class PatientLabels:
    """Clinical labels of one patient (independent of image size and patient count)."""

    index: int  # 0-based patient index
    fibrosis_stage: str  # "F0".."F4"
    liver_stiffness_kpa: float  # latent continuous severity, kPa
    age: int  # years, in [30, 85]
    sex: str  # "M" or "F"

    @property
    def stage_index(self) -> int:
        """The stage as an integer 0..4."""
        return STAGES.index(self.fibrosis_stage)

    @property
    def severity(self) -> float:
        """Normalised log stiffness: 0 at the F0 median (4.1 kPa), 1 at the F4 median (22.2 kPa)."""
        low, high = STIFFNESS_KPA_BY_STAGE["F0"][0], STIFFNESS_KPA_BY_STAGE["F4"][0]
        return math.log(self.liver_stiffness_kpa / low) / math.log(high / low)

    @property
    def binary_label(self) -> str:
        """``positive`` for F3-F4, ``negative`` for F0-F2."""
        return "positive" if self.fibrosis_stage in POSITIVE_STAGES else "negative"


def patient_id(index: int, num_patients: int = 1) -> str:
    """``PAT_0001`` for index 0; zero-padded to 4 digits, wider only when needed."""
    width = max(4, len(str(max(num_patients, index + 1))))
    return f"PAT_{index + 1:0{width}d}"


def split_bounds(num_patients: int) -> tuple[int, int]:
    """End indices (exclusive) of ``train`` and ``val``: 1000 -> (700, 850)."""
    train_end = math.floor(num_patients * SPLIT_FRACTIONS[0] + 0.5)
    val_end = math.floor(num_patients * (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]) + 0.5)
    return train_end, val_end


def split_of(index: int, num_patients: int) -> str:
    """The split (``train``/``val``/``test``) of patient ``index`` among ``num_patients``."""
    train_end, val_end = split_bounds(num_patients)
    if index < train_end:
        return SPLITS[0]
    return SPLITS[1] if index < val_end else SPLITS[2]


def split_indices(num_patients: int) -> dict[str, range]:
    """Patient indices of each split, contiguous and in order."""
    train_end, val_end = split_bounds(num_patients)
    return dict(
        zip(
            SPLITS,
            (range(train_end), range(train_end, val_end), range(val_end, num_patients)),
            strict=True,
        )
    )


def fold_of(index: int, num_patients: int) -> int | None:
    """The cross-validation fold (0..NUM_FOLDS-1) of patient ``index``; ``None`` in ``test``.

    The fold is ``index % NUM_FOLDS``: train and val are the contiguous indices
    ``0..val_end-1``, so the folds' sizes differ by at most one patient; and as the
    patient count grows the splits' ends only move up, so a train or val patient stays
    in train or val and keeps its fold. (Stratifying by stage could keep neither
    promise exactly: a new patient would move others to rebalance.) Raise
    ``ValueError`` if ``index`` is not in ``0..num_patients-1``.
    """
    if not 0 <= index < num_patients:
        raise ValueError(f"`index` must be in 0..{num_patients - 1}, got {index=}")
    return None if split_of(index, num_patients) == SPLITS[2] else index % NUM_FOLDS


def sample_stiffness_kpa(stage: str, rng: np.random.Generator) -> float:
    """Draw a liver stiffness (kPa) from the stage's log-normal (median and IQR of Takeda 2006)."""
    median, q1, q3 = STIFFNESS_KPA_BY_STAGE[stage]
    sigma = (math.log(q3) - math.log(q1)) / _IQR_IN_SD
    return float(median * math.exp(sigma * rng.standard_normal()))


def _sample_age(rng: np.random.Generator) -> int:
    """Integer age from N(60, 10) truncated (by redrawing) to [30, 85]."""
    while True:
        age = round(AGE_MEAN + AGE_SD * rng.standard_normal())
        if AGE_MIN <= age <= AGE_MAX:
            return age


def _sample_sex(index: int, seed: int) -> str:
    """Patients 2k and 2k+1 get one of each sex, in an order drawn per pair."""
    male_first = stream_rng(seed, index // 2, Stream.SEX_PAIR).integers(2) == 1
    is_male = male_first == (index % 2 == 0)
    return SEXES[0] if is_male else SEXES[1]


def sample_labels(index: int, *, seed: int) -> PatientLabels:
    """Sample patient ``index``'s labels from the cohort model."""
    rng = stream_rng(seed, index, Stream.LABELS)
    stage = STAGES[int(rng.choice(len(STAGES), p=STAGE_PREVALENCE))]
    return PatientLabels(
        index=index,
        fibrosis_stage=stage,
        liver_stiffness_kpa=sample_stiffness_kpa(stage, rng),
        age=_sample_age(rng),
        sex=_sample_sex(index, seed),
    )
