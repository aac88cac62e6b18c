"""Image contract and determinism of ``generate_patient``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from measurements import liver_mean

from generator import generate_patient, render_patient, sample_labels
from generator.modalities import MODALITIES


@pytest.mark.parametrize("image_size", [32, 97, 224])
def test_images_are_float32_square_finite_in_unit_range(image_size):
    patient = generate_patient(3, image_size=image_size)
    assert set(patient.images) == set(MODALITIES) == set(patient.label_maps)
    for modality, image in patient.images.items():
        assert image.dtype == np.float32, modality
        assert image.shape == (image_size, image_size)
        assert image.flags.c_contiguous
        assert np.isfinite(image).all()
        assert image.min() >= 0.0 and image.max() <= 1.0
        assert image.std() > 0.01, f"{modality} image is flat"


def test_label_maps_and_liver_masks():
    patient = generate_patient(5, image_size=64)
    for modality in MODALITIES:
        label_map = patient.label_maps[modality]
        assert label_map.dtype == np.uint8 and label_map.shape == (64, 64)
        mask = patient.liver_mask(modality)
        assert mask.dtype == bool
        assert 0.02 < mask.mean() < 0.6, modality


def test_mri_and_ct_share_the_liver_geometry():
    patient = generate_patient(8, image_size=96)
    np.testing.assert_array_equal(patient.liver_mask("MRI"), patient.liver_mask("CT"))


def test_invalid_parameters_name_the_value():
    with pytest.raises(ValueError, match="image_size=16"):
        generate_patient(0, image_size=16)
    with pytest.raises(ValueError, match="seed=-1"):
        generate_patient(0, seed=-1)


class TestRenderPatient:
    def test_rendering_the_sampled_labels_is_generate_patient(self):
        rendered = render_patient(sample_labels(6, seed=3), seed=3, image_size=48)
        generated = generate_patient(6, seed=3, image_size=48)
        for modality in MODALITIES:
            np.testing.assert_array_equal(rendered.images[modality], generated.images[modality])

    def test_counterfactual_stage_changes_the_liver_not_the_person(self):
        labels = sample_labels(6, seed=3)
        f0 = render_patient(
            dataclasses.replace(labels, fibrosis_stage="F0", liver_stiffness_kpa=4.1), seed=3
        )
        f4 = render_patient(
            dataclasses.replace(labels, fibrosis_stage="F4", liver_stiffness_kpa=22.2), seed=3
        )
        assert f0.labels.age == f4.labels.age and f0.labels.sex == f4.labels.sex
        assert f4.liver_mask("MRI").any() and f0.liver_mask("MRI").any()
        assert liver_mean(f4, "MRI") > liver_mean(f0, "MRI")


class TestDeterminism:
    def test_same_arguments_same_bytes(self):
        first, second = (
            generate_patient(11, seed=9, image_size=64),
            generate_patient(11, seed=9, image_size=64),
        )
        assert first.labels == second.labels
        for modality in MODALITIES:
            assert first.images[modality].tobytes() == second.images[modality].tobytes()
            assert first.label_maps[modality].tobytes() == second.label_maps[modality].tobytes()

    def test_different_seed_different_images(self):
        first, second = (
            generate_patient(11, seed=1, image_size=64),
            generate_patient(11, seed=2, image_size=64),
        )
        for modality in MODALITIES:
            assert not np.array_equal(first.images[modality], second.images[modality])

    def test_patients_differ(self):
        first, second = generate_patient(0, image_size=64), generate_patient(1, image_size=64)
        for modality in MODALITIES:
            assert not np.array_equal(first.images[modality], second.images[modality])

    def test_independent_of_generation_order(self):
        forward = [generate_patient(i, image_size=48) for i in range(6)]
        backward = [generate_patient(i, image_size=48) for i in reversed(range(6))][::-1]
        for a, b in zip(forward, backward, strict=True):
            for modality in MODALITIES:
                np.testing.assert_array_equal(a.images[modality], b.images[modality])

    def test_labels_independent_of_image_size(self):
        assert (
            generate_patient(4, image_size=32).labels == generate_patient(4, image_size=200).labels
        )
