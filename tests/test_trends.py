"""The seed's appearance trends, measured on groups of generated patients.

Seed ("Generation Process"): MRI intensity rises with stage and bright nodules appear
for F2-F4; CT density rises with stage and high-density spots appear in F3-F4;
ultrasound echogenicity and texture coarseness rise with stage, with bright reflections
in advanced fibrosis.

Each modality reads the patient's severity with its own noise, as real imaging does,
so stages overlap: trends are asserted on group statistics of ``PER_STAGE`` patients a
stage, with thresholds chosen to hold for other seeds too, not only for the test seed.
Rechecked for generators 3.2.0 and 3.3.0 with seeds 7, 2024 and 1 (the test seed is
42): every test holds except the same four, by small margins. On seed 7 the ultrasound liver mean's
Spearman correlation with stage is 0.33 (the test asks 0.4): the liver's depth now
follows the habitus (fat attenuates what time-gain compensation only partly restores),
which spreads the liver's brightness between patients. On seeds 2024 and 1, F3 livers
carry a few more CT spot pixels than F4 (5.3 against 4.8, 8.2 against 7.9 a patient),
and on seed 1 more ultrasound reflection pixels (26.3 against 24.7): their expected
differences are small beside the Poisson counts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from measurements import (
    FINDINGS,
    bright_outlier_fraction,
    indices_by_stage,
    liver_mean,
    spearman,
    speckle_correlation,
)

from generator import generate_patient
from generator import label_ids as A
from generator.contract import STAGES

PER_STAGE = 48
IMAGE_SIZE = 128


@pytest.fixture(scope="module")
def patients_by_stage():
    """``PER_STAGE`` patients of every stage (the first of each in index order)."""
    return {
        stage: [generate_patient(index, seed=42, image_size=IMAGE_SIZE) for index in indices]
        for stage, indices in indices_by_stage(PER_STAGE, seed=42).items()
    }


def _per_stage(patients_by_stage, measure, modality):
    return {
        stage: np.array([measure(p, modality) for p in group])
        for stage, group in patients_by_stage.items()
    }


def _stage_correlation(values_by_stage):
    stages = [i for i, s in enumerate(STAGES) for _ in values_by_stage[s]]
    values = np.concatenate([values_by_stage[s] for s in STAGES])
    return spearman(stages, values)


def _finding_pixels(patient, modality):
    return int(np.count_nonzero(patient.label_maps[modality] == FINDINGS[modality][0]))


@pytest.mark.parametrize("modality", ["MRI", "CT", "US"])
def test_liver_intensity_rises_with_stage(patients_by_stage, modality):
    values = _per_stage(patients_by_stage, liver_mean, modality)
    group_means = {s: values[s].mean() for s in STAGES}
    assert group_means["F0"] < group_means["F2"] < group_means["F4"], group_means
    # The CT's rise is kept weak (radiology sees none: REFERENCE.md), read with more noise.
    assert _stage_correlation(values) > (0.3 if modality == "CT" else 0.4)


@pytest.mark.parametrize("modality", ["MRI", "CT", "US"])
def test_stages_overlap(patients_by_stage, modality):
    """No stage is readable from the liver's mean intensity alone: neighbours overlap."""
    values = _per_stage(patients_by_stage, liver_mean, modality)
    for lower, upper in itertools.pairwise(STAGES):
        assert values[lower].max() > values[upper].min(), (lower, upper)


#: Least share of late-stage livers (from the finding's stage; F4) showing the finding.
LATE_SHARES = {"MRI": (0.5, 0.6), "CT": (0.3, 0.3)}


@pytest.mark.parametrize("modality", ["MRI", "CT"])
def test_bright_focal_structures_visible_only_from_their_stage(patients_by_stage, modality):
    """MRI nodules from F2, CT high-density spots from F3, seen in the image itself.

    Findings follow each modality's own read-out of severity, so some late-stage
    livers show none: MRI nodules are common from F2; CT spots start higher on the CT's
    read-out (``ct.SPOT_ONSET``), so that they stay a partial cue at the F3 boundary of
    the binary label, and show in a good third of F3-F4 livers, more in F4. Never
    earlier than their stage.
    """
    values = _per_stage(patients_by_stage, bright_outlier_fraction, modality)
    first = STAGES.index(FINDINGS[modality][1])
    for stage in STAGES[:first]:
        assert np.mean(values[stage] > 0) <= 0.05, (stage, values[stage])
    late = np.concatenate([values[s] for s in STAGES[first:]])
    share_late, share_f4 = LATE_SHARES[modality]
    assert np.mean(late > 0) >= share_late, np.mean(late > 0)
    assert np.mean(values["F4"] > 0) >= share_f4, np.mean(values["F4"] > 0)


@pytest.mark.parametrize("modality", ["MRI", "CT", "US"])
def test_focal_findings_more_with_stage(patients_by_stage, modality):
    """Nodules, spots and reflections (their label-map pixels) grow with stage."""
    pixels = {s: [_finding_pixels(p, modality) for p in g] for s, g in patients_by_stage.items()}
    first = STAGES.index(FINDINGS[modality][1])
    assert all(sum(pixels[s]) == 0 for s in STAGES[:first])
    late_means = [np.mean(pixels[s]) for s in STAGES[first:]]
    assert late_means[0] > 0
    assert np.all(np.diff(late_means) > 0), late_means


def test_ultrasound_reflections_are_bright(patients_by_stage):
    """Where the ultrasound labels a reflection, it outshines the liver's bright speckle."""
    brighter = []
    for patient in patients_by_stage["F3"] + patients_by_stage["F4"]:
        label_map, image = patient.label_maps["US"], patient.images["US"]
        reflection = label_map == FINDINGS["US"][0]
        if reflection.any():
            liver_p90 = np.percentile(image[label_map == A.LIVER], 90)
            brighter.append(image[reflection].mean() > liver_p90)
    assert len(brighter) >= PER_STAGE
    assert np.mean(brighter) >= 0.75


def test_ultrasound_texture_coarsens_with_stage(patients_by_stage):
    """Speckle grain grows with stage: F0 < F1, F0 < F2 < F4 and F3-F4 above F0-F2.

    F1 against F2 is not asserted: their stiffness ranges overlap (IQR 4.8-8.5 against
    6.8-12 kPa) and the ultrasound reads severity with its own noise, so with 48 patients
    a stage their expected difference (about 0.009 in lag-2 correlation) is below one
    standard error of the difference (about 0.014): its sign is a coin toss of the seed.
    """
    values = _per_stage(patients_by_stage, speckle_correlation, "US")
    means = {s: values[s].mean() for s in STAGES}
    assert means["F0"] < means["F1"] and means["F0"] < means["F2"] < means["F4"], means
    negative = np.concatenate([values[s] for s in ("F0", "F1", "F2")])
    positive = np.concatenate([values[s] for s in ("F3", "F4")])
    assert positive.mean() > negative.mean() + 0.04, means
    assert _stage_correlation(values) > 0.3
