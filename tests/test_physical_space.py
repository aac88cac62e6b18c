"""Pixel spacing and the pixel-to-patient affine (LPS, mm) behind the DICOM and NIfTI files."""

from __future__ import annotations

import numpy as np
import pytest

from generator import generate_patient
from generator.label_ids import LIVER
from generator.modalities import MODALITIES
from generator.physical_space import (
    AXIAL_FOV_MM,
    SLICE_THICKNESS_MM,
    SPACING_TABLE_SIZES,
    pixel_spacing_mm,
    pixel_spacings_mm,
    pixel_to_patient,
    spacing_table_markdown,
)


def world(affine: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(3, N) patient coordinates of the pixel centres (rows, columns)."""
    points = np.stack([columns, rows, np.zeros_like(rows), np.ones_like(rows)]).astype(float)
    return (affine @ points)[:3]


class TestSpacing:
    @pytest.mark.parametrize("size", [32, 224, 1024])
    def test_axial_field_of_view_is_36_cm_at_every_size(self, size):
        assert AXIAL_FOV_MM == 360.0
        for modality in ("MRI", "CT"):
            assert pixel_spacing_mm(modality, size) == pytest.approx(360.0 / size)

    def test_ultrasound_display_scale(self):
        # DISPLAY_SCALE = DEPTH / 0.96 = 0.46875 fields of view: 168.75 mm.
        assert pixel_spacing_mm("US", 224) == pytest.approx(168.75 / 224)

    def test_every_modality_in_registry_order(self):
        assert tuple(pixel_spacings_mm(64)) == MODALITIES

    @pytest.mark.parametrize(
        ("modality", "size", "named"), [("PET", 64, "modality"), ("CT", 0, "image_size")]
    )
    def test_bad_input_is_refused(self, modality, size, named):
        with pytest.raises(ValueError, match=named):
            pixel_spacing_mm(modality, size)

    def test_card_table(self):
        lines = spacing_table_markdown().splitlines()
        assert lines[0] == "| image size (px) | MRI (T2w) mm/px | CT mm/px | Ultrasound mm/px |"
        assert [int(line.split("|")[1]) for line in lines[2:]] == list(SPACING_TABLE_SIZES)
        assert "| 224 | 1.607 | 1.607 | 0.753 |" in lines


@pytest.fixture(scope="module")
def patients():
    return [generate_patient(index, seed=42, image_size=128) for index in range(4)]


class TestAxialAffine:
    def test_corner_pixel_centres(self, patients):
        size, spacing = 128, 360.0 / 128
        affine = pixel_to_patient(patients[0], "CT")
        corners = world(affine, np.array([0, size - 1]), np.array([0, size - 1]))
        half = 180.0 - spacing / 2
        np.testing.assert_allclose(corners, [[-half, half], [-half, half], [0.0, 0.0]])
        assert affine[2, 2] == SLICE_THICKNESS_MM
        np.testing.assert_array_equal(affine, pixel_to_patient(patients[0], "MRI"))

    def test_liver_on_the_patients_right_spine_posterior(self, patients):
        """LPS: the patient's right is -x, posterior +y."""
        for patient in patients:
            labels = patient.label_maps["CT"]
            affine = pixel_to_patient(patient, "CT")
            body = world(affine, *np.nonzero(labels != 0)).mean(axis=1)
            liver = world(affine, *np.nonzero(labels == LIVER)).mean(axis=1)
            aorta = world(affine, *np.nonzero(labels == 8)).mean(axis=1)  # in front of the spine
            spine = world(affine, *np.nonzero(labels == 6)).mean(axis=1)
            assert liver[0] < body[0] - 20  # mm to the right
            assert spine[1] > aorta[1] > body[1] - 60


class TestUltrasoundPose:
    def test_columns_and_rows_are_orthogonal_spacing_long_and_mirrored(self, patients):
        affine = pixel_to_patient(patients[0], "US")
        in_plane = affine[:2, :2]
        spacing = pixel_spacing_mm("US", 128)
        np.testing.assert_allclose(in_plane.T @ in_plane, spacing**2 * np.eye(2), atol=1e-12)
        assert np.linalg.det(in_plane) == pytest.approx(-(spacing**2))

    def test_the_fan_overlays_the_axial_anatomy(self, patients):
        """Each ultrasound pixel, mapped through both affines, finds its own label in the
        axial (CT) label map: the pose is the probe's, not a guess. A wide body runs past
        the axial field of view at the flank, where the probe sits; the fan's pixels
        inside that field of view are compared."""
        for patient in patients:
            us, ct = patient.label_maps["US"], patient.label_maps["CT"]
            rows, columns = np.nonzero(us != 0)
            points = world(pixel_to_patient(patient, "US"), rows, columns)
            to_ct = np.linalg.inv(pixel_to_patient(patient, "CT"))
            voxels = to_ct @ np.vstack([points, np.ones(points.shape[1])])
            column, row = np.rint(voxels[:2]).astype(int)
            within = (column >= 0) & (row >= 0) & (column < 128) & (row < 128)
            assert within.mean() > 0.7, within.mean()
            rows, columns, row, column = rows[within], columns[within], row[within], column[within]
            agreement = (ct[row, column] == us[rows, columns]).mean()
            liver = ((ct[row, column] == LIVER) == (us[rows, columns] == LIVER)).mean()
            assert agreement > 0.9 and liver > 0.95, (agreement, liver)
