"""The seed's appearance trends, measured on groups of generated patients.

Seed ("Generation Process"): MRI intensity rises with stage and bright nodules appear
for F2-F4; CT density rises with stage and high-density spots appear in F3-F4;
ultrasound echogenicity and texture coarseness rise with stage, with bright reflections
in advanced fibrosis.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from measurements import bright_outlier_fraction, liver_mean, spearman, speckle_correlation

from generator import generate_patient, sample_labels
from generator.contract import STAGES

PER_STAGE = 24
IMAGE_SIZE = 128


@pytest.fixture(scope="module")
def patients_by_stage():
    """``PER_STAGE`` patients of every stage (the first of each in index order)."""
    chosen = {stage: [] for stage in STAGES}
    index = 0
    while min(len(group) for group in chosen.values()) < PER_STAGE:
        stage = sample_labels(index, seed=42).fibrosis_stage
        if len(chosen[stage]) < PER_STAGE:
            chosen[stage].append(generate_patient(index, seed=42, image_size=IMAGE_SIZE))
        index += 1
    return chosen


def _per_stage(patients_by_stage, measure, modality):
    return {
        stage: np.array([measure(p, modality) for p in group])
        for stage, group in patients_by_stage.items()
    }


def _stage_correlation(values_by_stage):
    stages = [i for i, s in enumerate(STAGES) for _ in values_by_stage[s]]
    values = np.concatenate([values_by_stage[s] for s in STAGES])
    return spearman(stages, values)


@pytest.mark.parametrize("modality", ["MRI", "CT", "US"])
def test_liver_intensity_rises_with_stage(patients_by_stage, modality):
    values = _per_stage(patients_by_stage, liver_mean, modality)
    group_means = [values[s].mean() for s in STAGES]
    assert np.all(np.diff(group_means) > 0), group_means
    assert _stage_correlation(values) > 0.4


@pytest.mark.parametrize("modality", ["MRI", "CT", "US"])
def test_stages_overlap(patients_by_stage, modality):
    """No stage is readable from the liver's mean intensity alone: neighbours overlap."""
    values = _per_stage(patients_by_stage, liver_mean, modality)
    for lower, upper in itertools.pairwise(STAGES):
        assert values[lower].max() > values[upper].min(), (lower, upper)


@pytest.mark.parametrize(("modality", "first_stage"), [("MRI", "F2"), ("CT", "F3")])
def test_bright_focal_structures_only_from_their_stage(patients_by_stage, modality, first_stage):
    """MRI nodules from F2, CT high-density spots from F3; none before."""
    values = _per_stage(patients_by_stage, bright_outlier_fraction, modality)
    first = STAGES.index(first_stage)
    for stage in STAGES[:first]:
        assert np.mean(values[stage] > 0) <= 0.1, (stage, values[stage])
    for stage in STAGES[first:]:
        assert np.mean(values[stage] > 0) >= 0.6, (stage, values[stage])


def test_mri_nodules_denser_with_severity(patients_by_stage):
    nodular = [p for s in ("F2", "F3", "F4") for p in patients_by_stage[s]]
    fractions = [bright_outlier_fraction(p, "MRI") for p in nodular]
    severities = [p.labels.severity for p in nodular]
    assert spearman(severities, fractions) > 0.3
    values = _per_stage(patients_by_stage, bright_outlier_fraction, "MRI")
    assert values["F2"].mean() < values["F4"].mean()


def test_ultrasound_texture_coarsens_with_stage(patients_by_stage):
    values = _per_stage(patients_by_stage, speckle_correlation, "US")
    low = np.concatenate([values["F0"], values["F1"]])
    high = np.concatenate([values["F3"], values["F4"]])
    assert high.mean() > low.mean() + 0.05
    assert _stage_correlation(values) > 0.3
