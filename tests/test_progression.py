"""Counterfactual progression: the same patient at another stage changes only what
disease drives (the liver, its findings and surroundings, the spleen, ascites)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from invariance import changed_outside_disease

from generator import ct, generate_patient, mri, progression, sample_labels, ultrasound
from generator.contract import STAGES, STIFFNESS_KPA_BY_STAGE
from generator.label_ids import LIVER_IDS, SPLEEN

SEED = 42


@pytest.mark.parametrize(("image_size", "count"), [(48, 50), (128, 12)])
def test_nothing_but_disease_changes_between_stages(image_size, count):
    """Every pair of stages of ``count`` patients: no pixel changes outside the disease."""
    checked = changed = 0
    for index in range(count):
        renders = progression(index, seed=SEED, image_size=image_size)
        for first, second in itertools.combinations(STAGES, 2):
            for modality, counts in changed_outside_disease(
                renders[first], renders[second]
            ).items():
                assert counts["label_pixels_changed"] == 0, (index, first, second, modality)
                assert counts["image_pixels_changed"] == 0, (index, first, second, modality)
                # The check is not vacuous: most of the slice lies outside the disease.
                assert counts["image_pixels_checked"] > 0.2 * image_size**2, (modality, counts)
                checked += counts["image_pixels_checked"]
                changed += counts["image_pixels_changed"]
    assert checked > 0 and changed == 0


def test_the_disease_does_change():
    """F0 and F4 of the same patient differ in the liver and the spleen."""
    renders = progression(3, seed=SEED, image_size=64)
    f0, f4 = renders["F0"], renders["F4"]
    for modality in f0.images:
        liver = np.isin(f0.label_maps[modality], LIVER_IDS)
        assert not np.array_equal(f0.images[modality][liver], f4.images[modality][liver])
    assert (f4.label_maps["CT"] == SPLEEN).sum() > (f0.label_maps["CT"] == SPLEEN).sum()


def test_progression_is_the_patient_at_each_median_stiffness():
    renders = progression(5, seed=SEED, image_size=48)
    labels = sample_labels(5, seed=SEED)
    assert list(renders) == list(STAGES)
    for stage, patient in renders.items():
        assert patient.labels.fibrosis_stage == stage
        assert patient.labels.liver_stiffness_kpa == STIFFNESS_KPA_BY_STAGE[stage][0]
        assert (patient.labels.age, patient.labels.sex) == (labels.age, labels.sex)


def test_the_sampled_stage_renders_like_generate_patient_at_that_stiffness():
    """``progression`` uses the same streams as ``generate_patient``: the body is the same."""
    patient = generate_patient(7, seed=SEED, image_size=48)
    same_stage = progression(7, seed=SEED, image_size=48)[patient.labels.fibrosis_stage]
    counts = changed_outside_disease(patient, same_stage)
    assert all(
        c["label_pixels_changed"] == 0 and c["image_pixels_changed"] == 0 for c in counts.values()
    )


@pytest.mark.parametrize("modality", ["MRI", "CT", "US"])
def test_findings_persist_as_the_disease_progresses(modality):
    """Over 200 patients and every later stage: the earlier stage's findings are all still
    there, in the same places (a later stage only adds findings)."""
    from generator.anatomy import sample_anatomy
    from generator.patient import at_stage
    from generator.random_streams import StreamFamily

    family = {"MRI": "nodules", "CT": "spots", "US": "reflections"}[modality]
    grew = 0
    for index in range(200):
        labels = sample_labels(index, seed=SEED)
        found = []
        for stage in STAGES:
            staged = at_stage(labels, stage)
            anatomy = sample_anatomy(
                staged.severity, stage, staged.sex, StreamFamily(SEED, index, "anatomy")
            )
            module = {"MRI": mri, "CT": ct, "US": ultrasound}[modality]
            params = module.MODALITY.sample(staged, anatomy, StreamFamily(SEED, index, modality))
            found.append([(x, y) for x, y, _ in getattr(params, family)])
        for earlier, later in itertools.pairwise(found):
            assert later[: len(earlier)] == earlier, (index, modality)
            grew += len(later) > len(earlier)
    assert grew > 0
