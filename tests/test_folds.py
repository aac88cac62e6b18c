"""Patient-level cross-validation folds of the train and val patients."""

from __future__ import annotations

import numpy as np
import pytest

from generator import fold_of, sample_labels, split_indices, split_of
from generator.contract import NUM_FOLDS, STAGES


class TestAssignment:
    def test_train_and_val_get_a_fold_test_none(self):
        for index in range(1000):
            fold = fold_of(index, 1000)
            if split_of(index, 1000) == "test":
                assert fold is None
            else:
                assert fold in range(NUM_FOLDS)

    @pytest.mark.parametrize("num_patients", [1, 4, 5, 7, 20, 101, 1000, 1003])
    def test_balanced_within_one_patient(self, num_patients):
        folds = [fold_of(index, num_patients) for index in range(num_patients)]
        counts = [folds.count(fold) for fold in range(NUM_FOLDS)]
        in_folds = len(split_indices(num_patients)["train"]) + len(
            split_indices(num_patients)["val"]
        )
        assert sum(counts) == in_folds
        assert max(counts) - min(counts) <= 1

    def test_a_patient_keeps_its_fold_as_the_cohort_grows(self):
        for num_patients in range(1, 400):
            for index in range(num_patients):
                fold = fold_of(index, num_patients)
                if fold is not None:
                    assert fold_of(index, num_patients + 1) == fold, (index, num_patients)

    def test_stages_are_independent_of_the_fold(self):
        """Pearson chi-square of the fold x stage table, 16 degrees of freedom, alpha 0.001."""
        table = np.zeros((NUM_FOLDS, len(STAGES)))
        for index in range(1000):
            fold = fold_of(index, 1000)
            if fold is not None:
                table[fold, sample_labels(index, seed=42).stage_index] += 1
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
        assert ((table - expected) ** 2 / expected).sum() < 39.25  # chi2(16) 99.9 %

    @pytest.mark.parametrize("index", [-1, 10])
    def test_index_outside_the_cohort_is_refused(self, index):
        with pytest.raises(ValueError, match="index"):
            fold_of(index, 10)
