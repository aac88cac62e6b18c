"""The labels contract: ids, stages, binary label, age, sex, splits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from generator.cohort import patient_id, sample_labels, split_indices, split_of
from generator.contract import (
    AGE_MAX,
    AGE_MIN,
    SPLITS,
    STAGE_PREVALENCE,
    STAGES,
    STIFFNESS_KPA_BY_STAGE,
)


@pytest.fixture(scope="module")
def cohort():
    """Labels of 4000 patients (labels only: cheap)."""
    return [sample_labels(index, seed=42) for index in range(4000)]


class TestIds:
    def test_format(self):
        assert patient_id(0, 1000) == "PAT_0001"
        assert patient_id(999, 1000) == "PAT_1000"

    def test_wider_only_when_needed(self):
        assert patient_id(0, 9999) == "PAT_0001"
        assert patient_id(0, 10000) == "PAT_00001"
        assert patient_id(9999, 10000) == "PAT_10000"


class TestSplits:
    @pytest.mark.parametrize(
        ("num_patients", "sizes"),
        [(1000, (700, 150, 150)), (20, (14, 3, 3)), (100, (70, 15, 15)), (1, (1, 0, 0))],
    )
    def test_sizes(self, num_patients, sizes):
        ranges = split_indices(num_patients)
        assert tuple(len(ranges[name]) for name in SPLITS) == sizes

    def test_contiguous_in_order_and_complete(self):
        ranges = split_indices(1000)
        flat = [index for name in SPLITS for index in ranges[name]]
        assert flat == list(range(1000))
        assert [split_of(i, 1000) for i in (0, 699, 700, 849, 850, 999)] == [
            "train", "train", "val", "val", "test", "test"
        ]  # fmt: skip


class TestLabels:
    def test_binary_label_follows_stage(self, cohort):
        for labels in cohort:
            expected = "positive" if labels.fibrosis_stage in ("F3", "F4") else "negative"
            assert labels.binary_label == expected

    def test_age_is_integer_within_bounds_around_60(self, cohort):
        ages = np.array([labels.age for labels in cohort])
        assert all(isinstance(labels.age, int) for labels in cohort)
        assert ages.min() >= AGE_MIN and ages.max() <= AGE_MAX
        assert abs(ages.mean() - 60) < 1.0
        assert 8.5 < ages.std() < 10.5

    def test_sex_balanced_within_one_in_every_even_split(self):
        for num_patients in (20, 100, 1000):
            for name, indices in split_indices(num_patients).items():
                sexes = [sample_labels(i, seed=7).sex for i in indices]
                assert set(sexes) <= {"M", "F"}
                assert abs(sexes.count("M") - sexes.count("F")) <= 1, (num_patients, name)

    def test_stage_frequencies_match_prevalence(self, cohort):
        """Pearson chi-square goodness of fit, 4 degrees of freedom, alpha = 0.001."""
        counts = np.array([[lab.fibrosis_stage for lab in cohort].count(s) for s in STAGES])
        expected = len(cohort) * np.array(STAGE_PREVALENCE)
        chi_square = float(((counts - expected) ** 2 / expected).sum())
        assert chi_square < 18.47, (counts, expected)

    def test_stiffness_median_per_stage_close_to_reference(self, cohort):
        for stage in STAGES:
            values = [lab.liver_stiffness_kpa for lab in cohort if lab.fibrosis_stage == stage]
            median, q1, q3 = STIFFNESS_KPA_BY_STAGE[stage]
            assert np.median(values) == pytest.approx(median, rel=0.1)
            assert np.percentile(values, 25) == pytest.approx(q1, rel=0.15)
            assert np.percentile(values, 75) == pytest.approx(q3, rel=0.15)

    def test_neighbouring_stages_overlap_in_stiffness(self, cohort):
        by_stage = {
            s: np.array([lab.liver_stiffness_kpa for lab in cohort if lab.fibrosis_stage == s])
            for s in STAGES
        }
        for lower, upper in itertools.pairwise(STAGES):
            assert by_stage[lower].max() > by_stage[upper].min()


class TestDeterminism:
    def test_same_seed_same_labels(self):
        assert sample_labels(17, seed=3) == sample_labels(17, seed=3)

    def test_different_seed_different_cohort(self):
        first = [sample_labels(i, seed=1) for i in range(50)]
        second = [sample_labels(i, seed=2) for i in range(50)]
        assert first != second

    def test_labels_independent_of_generation_order(self):
        forward = [sample_labels(i, seed=5) for i in range(30)]
        backward = [sample_labels(i, seed=5) for i in reversed(range(30))][::-1]
        assert forward == backward
