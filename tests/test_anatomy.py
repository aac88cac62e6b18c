"""The slice's anatomy (generator 3.2): habitus by sex and BMI, the structures a slice at
the porta hepatis shows, and the acquisition effects that the modalities add (MRI Gibbs
ringing and ghosts of the moving wall, CT streaks and size-dependent noise, ultrasound
wall reverberation). Measured on the label maps and images themselves."""

from __future__ import annotations

import numpy as np
import pytest
from measurements import sampled_anatomies

from generator import ct, mri, ultrasound
from generator import label_ids as L
from generator.anatomy import sample_anatomy
from generator.body import sample_body
from generator.cohort import sample_labels
from generator.geometry import FOV_MM, pixel_grid
from generator.patient import generate_patient
from generator.random_streams import StreamFamily
from generator.rasterise import axial_label_map

SEED = 42
SIZE = 128


@pytest.fixture(scope="module")
def cohort():
    """(labels, anatomy, CT label map at 128 px) of 60 patients."""
    return [(labels, a, axial_label_map(a, SIZE)) for labels, a in sampled_anatomies(60, SEED)]


class TestHabitus:
    def test_women_carry_more_subcutaneous_fat_and_men_more_muscle(self):
        fat = {"M": [], "F": []}
        muscle = {"M": [], "F": []}
        for index in range(400):
            sex = sample_labels(index, seed=SEED).sex
            body = sample_body(sex, StreamFamily(SEED, index, "anatomy").rng("body"))
            fat[sex].append(body.fat_thickness * FOV_MM)
            muscle[sex].append(body.muscle_thickness * FOV_MM)
        # ANATOMY.md 1.3: 6-24 mm more in women at matched sites.
        assert 6.0 < np.median(fat["F"]) - np.median(fat["M"]) < 24.0
        assert np.median(muscle["M"]) > 1.15 * np.median(muscle["F"])

    def test_body_size_varies_and_follows_bmi(self):
        bodies = [
            sample_body(
                sample_labels(i, seed=SEED).sex, StreamFamily(SEED, i, "anatomy").rng("body")
            )
            for i in range(400)
        ]
        diameters = np.array([b.effective_diameter_mm for b in bodies])
        bmi = np.array([b.bmi for b in bodies])
        assert 240.0 < np.median(diameters) < 330.0  # ANATOMY.md 1.1: median about 300 mm
        assert diameters.std() / diameters.mean() > 0.08
        assert np.corrcoef(bmi, diameters)[0, 1] > 0.7
        assert 17.0 <= bmi.min() and bmi.max() <= 45.0


class TestStructures:
    @pytest.mark.parametrize(
        ("label", "share"),
        [
            (L.STOMACH_WALL, 0.9),
            (L.COLON, 0.9),
            (L.LUNG, 0.6),
            (L.CRUS, 0.9),
            (L.COSTAL_CARTILAGE, 0.9),
            (L.PANCREAS, 0.6),
            (L.ADRENAL, 0.5),
            (L.KIDNEY, 1.0),
            (L.RIB, 1.0),
            (L.HEPATIC_VESSEL, 1.0),
        ],
    )
    def test_the_slice_shows_each_structure(self, cohort, label, share):
        seen = np.mean([np.any(labels == label) for _, _, labels in cohort])
        assert seen >= share, (L.LABEL_NAMES[label], seen)

    def test_both_kidneys_either_side_of_the_spine(self, cohort):
        for _, anatomy, _ in cohort:
            right, left = anatomy.kidneys
            spine_x = anatomy.spine.vertebral_body.center_x
            assert right.center_x < spine_x < left.center_x

    def test_stomach_gas_lies_above_its_fluid(self, cohort):
        """Supine: the fluid lies below the gas-fluid level (larger y), gas above it."""
        y, x = pixel_grid(SIZE)
        with_gas = shown = 0
        for _, anatomy, labels in cohort:
            stomach = anatomy.stomach
            lumen = stomach.lumen(x, y) & stomach.outline.inside(x, y)
            fluid = labels == L.STOMACH_CONTENT
            assert np.all(y[fluid] >= stomach.gas_level)
            gas = (labels == L.BOWEL_GAS) & lumen & (y < stomach.gas_level)
            with_gas += bool(gas.any())
            shown += bool(fluid.any() or gas.any())
        assert shown >= 0.8 * len(cohort)  # the liver may cover a small stomach
        assert 10 <= with_gas < len(cohort)  # many stomachs hold gas, not all

    def test_ribs_lie_in_the_wall_and_lungs_behind_the_liver(self, cohort):
        for _, anatomy, labels in cohort:
            rows, _ = np.nonzero(labels == L.LUNG)
            if rows.size:  # posterior: below the body's centre in the image
                assert rows.mean() / SIZE > anatomy.body.center[1]
            # ribs touch the wall: every rib pixel has fat, muscle or another rib nearby
            rib = labels == L.RIB
            near_wall = np.zeros_like(rib)
            wall = np.isin(labels, (L.MUSCLE, L.SUBCUTANEOUS_FAT, L.LUNG, L.CRUS))
            for rows in range(-2, 3):  # a 5 x 5 box around every pixel
                for cols in range(-2, 3):
                    near_wall |= np.roll(wall, (rows, cols), (0, 1))
            assert np.mean(near_wall[rib]) > 0.9

    def test_portal_tree_branches(self, cohort):
        """The vessels inside the liver are long, not a handful of discs: the portal
        tree's pixels span more than a third of the liver's width."""
        for _, _anatomy, labels in cohort[:20]:
            cols = np.nonzero((labels == L.HEPATIC_VESSEL).any(axis=0))[0]
            liver_cols = np.nonzero(np.isin(labels, L.LIVER_IDS).any(axis=0))[0]
            assert cols.size > 0.33 * liver_cols.size


class TestAcquisition:
    def test_mri_sharp_edges_ring_along_the_phase_encode_axis(self):
        signal = np.zeros((224, 224), dtype=np.float32)
        signal[112:, :] = 1.0
        image = mri.acquire(signal, np.zeros_like(signal, dtype=bool), 0.0, 0.25)
        column = image[:, 100]
        assert column[100:112].min() < -0.02  # undershoot before the edge (Gibbs)
        assert column[112:124].max() > 1.02  # overshoot after it
        np.testing.assert_allclose(image[:, 0], image[:, 200])  # no ringing along x

    def test_mri_ghosts_copy_only_what_moves(self):
        signal = np.zeros((224, 224), dtype=np.float32)
        signal[20:30, 50:60] = 1.0  # the moving wall
        signal[150:160, 150:160] = 1.0  # still tissue
        moving = np.zeros_like(signal, dtype=bool)
        moving[20:30, 50:60] = True
        still = mri.acquire(signal, moving, 0.0, 0.25)
        ghosted = mri.acquire(signal, moving, 0.05, 0.25)
        shift = mri.ghost_shift(0.25, 224)
        difference = ghosted - still
        assert difference[25 + shift, 55] == pytest.approx(0.05, abs=0.01)
        assert abs(difference[155 + shift, 155]) < 1e-6  # the still tissue has no ghost

    def test_ct_noise_grows_with_body_size(self):
        rows = []
        for index in range(40):
            patient = generate_patient(index, seed=SEED, image_size=96)
            air = patient.label_maps["CT"] == L.BACKGROUND
            rows.append(
                (patient.anatomy.body.effective_diameter_mm, patient.physical["CT"][air].std())
            )
        diameters, noise = np.array(rows).T
        assert np.corrcoef(diameters, noise)[0, 1] > 0.8

    def test_ct_streaks_stay_inside_the_body(self):
        hu = np.zeros((128, 128), dtype=np.float32)
        labels = np.zeros((128, 128), dtype=np.uint8)
        labels[30:100, 20:110] = L.MUSCLE
        anatomy = sample_anatomy(0.0, "F0", "M", StreamFamily(SEED, 0, "anatomy"))
        ct._add_streaks(hu, anatomy.spine.vertebral_body, ((0.0, 30.0), (0.1, -20.0)), labels)
        assert np.all(hu[labels == L.BACKGROUND] == 0.0)
        assert hu.max() > 5.0 and hu.min() < -5.0

    def test_ultrasound_wall_reverberates_at_multiples_of_its_depth(self):
        labels = np.full((64, 8), L.LIVER, dtype=np.uint8)
        labels[:10] = L.MUSCLE
        intensity = np.zeros((64, 8), dtype=np.float32)
        intensity[:10] = 1.0
        ultrasound._add_reverberation(intensity, labels)
        gain = ultrasound.REVERB_GAIN
        np.testing.assert_allclose(intensity[10:20], gain, rtol=1e-5)
        np.testing.assert_allclose(intensity[20:30], gain**2, rtol=1e-5)
        np.testing.assert_allclose(intensity[40:], 0.0)
