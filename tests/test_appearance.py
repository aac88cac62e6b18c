"""Appearance model: label maps, tissue physics per modality, morphology, sizes, goldens."""

from __future__ import annotations

import numpy as np
import pytest
from measurements import FINDINGS, indices_by_stage, liver_mean, sampled_anatomies

from generator import generate_patient, sample_labels
from generator import label_ids as A
from generator.contract import GENERATOR_VERSION, STAGES, STIFFNESS_KPA_BY_STAGE
from generator.ct import WINDOW_LEVEL_HU, WINDOW_WIDTH_HU
from generator.noise import correlated_field
from generator.random_streams import StreamFamily
from generator.rasterise import axial_label_map, rasterise
from generator.stamps import stamp_disc
from generator.ultrasound import fan_geometry

SEED = 42
PER_STAGE = 8
IMAGE_SIZE = 96


@pytest.fixture(scope="module")
def patients():
    """``PER_STAGE`` patients of every stage at ``IMAGE_SIZE``, flattened in stage order."""
    return [
        generate_patient(index, seed=SEED, image_size=IMAGE_SIZE)
        for group in indices_by_stage(PER_STAGE, seed=SEED).values()
        for index in group
    ]


@pytest.fixture(scope="module")
def anatomies():
    """(labels, anatomy) of 600 patients: geometry only, no rendering."""
    return sampled_anatomies(600, SEED)


def _group_mean(patients, modality: str, ids) -> float:
    """Mean intensity over all pixels (all patients) whose label is in ``ids``."""
    values = [p.images[modality][np.isin(p.label_maps[modality], ids)] for p in patients]
    values = np.concatenate(values)
    assert values.size > 0, (modality, ids)
    return float(values.mean())


class TestLabelMaps:
    AXIAL_IDS = (
        A.LIVER,
        A.SUBCUTANEOUS_FAT,
        A.MUSCLE,
        A.VISCERA,
        A.VERTEBRA,
        A.SPINAL_CANAL,
        A.AORTA,
        A.IVC,
        A.KIDNEY,
        A.SPLEEN,
        A.BACKGROUND,
    )

    def test_axial_structures_present(self, patients):
        for patient in patients:
            for modality in ("MRI", "CT"):
                present = set(np.unique(patient.label_maps[modality]).tolist())
                missing = set(self.AXIAL_IDS) - present
                assert not missing, (patient.labels.index, modality, missing)

    def test_ids_documented_and_focal_findings_per_modality(self, patients):
        own = {modality: finding for modality, (finding, _) in FINDINGS.items()}
        for patient in patients:
            for modality, label_map in patient.label_maps.items():
                present = set(np.unique(label_map).tolist())
                assert present <= set(A.LABEL_NAMES), present
                others = {v for m, v in own.items() if m != modality}
                assert not present & others, (modality, present)

    def test_mri_and_ct_share_geometry(self, patients):
        for patient in patients:
            mri, ct = patient.label_maps["MRI"].copy(), patient.label_maps["CT"].copy()
            mri[mri == A.NODULE] = A.LIVER
            ct[ct == A.SPOT] = A.LIVER
            np.testing.assert_array_equal(mri, ct)

    def test_ultrasound_view_holds_liver_and_vessels(self, patients):
        inside = fan_geometry(IMAGE_SIZE).inside
        vessel_views = 0
        for patient in patients:
            label_map = patient.label_maps["US"]
            assert np.all(label_map[~inside] == A.BACKGROUND)
            assert patient.liver_mask("US").mean() > 0.1
            vessel_views += np.isin(label_map, (A.HEPATIC_VESSEL, A.IVC, A.AORTA)).any()
        assert vessel_views >= 0.8 * len(patients)

    def test_liver_mask_includes_focal_findings(self, patients):
        for patient in patients:
            for modality, (finding, _) in FINDINGS.items():
                label_map = patient.label_maps[modality]
                assert np.all(patient.liver_mask(modality)[label_map == finding])

    def test_focal_findings_only_from_their_stage(self, patients):
        for modality, (finding, stage) in FINDINGS.items():
            for patient in patients:
                has = bool(np.any(patient.label_maps[modality] == finding))
                expected = patient.labels.stage_index >= STAGES.index(stage)
                if not expected:
                    assert not has, (modality, patient.labels.fibrosis_stage)
            late = [p for p in patients if p.labels.stage_index >= STAGES.index(stage)]
            share = np.mean([np.any(p.label_maps[modality] == finding) for p in late])
            # Findings follow each modality's read-out: some late livers have none, and
            # CT spots start high on it (ct.SPOT_ONSET), a partial cue at F3.
            assert share >= (0.4 if modality == "CT" else 0.6), (modality, share)


class TestTissueOrdering:
    def test_ct(self, patients):
        air = _group_mean(patients, "CT", (A.BACKGROUND, A.BOWEL_GAS))
        fat = _group_mean(patients, "CT", (A.SUBCUTANEOUS_FAT,))
        kidney = _group_mean(patients, "CT", (A.KIDNEY,))
        liver = _group_mean(patients, "CT", (A.LIVER,))
        bone = _group_mean(patients, "CT", (A.VERTEBRA,))
        assert bone > liver > kidney > fat > air, (bone, liver, kidney, fat, air)

    def test_ct_hounsfield_window(self, patients):
        """Liver near its unenhanced HU range; the fat layer near -100 HU."""
        to_hu = lambda unit: unit * WINDOW_WIDTH_HU + WINDOW_LEVEL_HU - WINDOW_WIDTH_HU / 2  # noqa: E731
        assert 40 < to_hu(_group_mean(patients, "CT", (A.LIVER,))) < 90
        assert -120 < to_hu(_group_mean(patients, "CT", (A.SUBCUTANEOUS_FAT,))) < -50

    def test_mri(self, patients):
        fluid = _group_mean(patients, "MRI", (A.SPINAL_CANAL, A.ASCITES, A.GALLBLADDER))
        fat = _group_mean(patients, "MRI", (A.SUBCUTANEOUS_FAT,))
        liver = _group_mean(patients, "MRI", (A.LIVER,))
        muscle = _group_mean(patients, "MRI", (A.MUSCLE,))
        assert fluid > fat > liver > muscle, (fluid, fat, liver, muscle)

    def test_mri_background_is_rayleigh(self, patients):
        """Outside the body the magnitude is Rayleigh: mean/SD = sqrt(pi/(4-pi)) ~ 1.91."""
        values = np.concatenate(
            [p.images["MRI"][p.label_maps["MRI"] == A.BACKGROUND] for p in patients]
        )
        values = values[values > 0]
        assert 1.7 < values.mean() / values.std() < 2.1

    def test_ultrasound(self, patients):
        inside = fan_geometry(IMAGE_SIZE).inside
        for patient in patients:
            assert np.all(patient.images["US"][~inside] == 0.0)
        liver = _group_mean(patients, "US", (A.LIVER,))
        vessels = _group_mean(patients, "US", (A.HEPATIC_VESSEL, A.IVC, A.AORTA))
        bile = _group_mean(patients, "US", (A.GALLBLADDER,))
        assert bile < 0.7 * liver, (bile, liver)
        assert vessels < 0.7 * liver, (vessels, liver)

    def test_ultrasound_liver_texture_coarsens_gamma_shape(self, anatomies):
        """The Gamma shape of the liver's scatterers falls below 1 with severity."""
        from generator.ultrasound import sample_ultrasound_parameters

        shapes = {"low": [], "high": []}
        for labels, anatomy in anatomies[:200]:
            streams = StreamFamily(SEED, labels.index, "US")
            params = sample_ultrasound_parameters(labels, anatomy, streams)
            key = "high" if labels.binary_label == "positive" else "low"
            shapes[key].append(params.gamma_shape)
        assert np.mean(shapes["high"]) < np.mean(shapes["low"]) <= 1.0
        assert np.mean(shapes["high"]) < 0.8


class TestMorphology:
    def test_stiffness_medians_match_reference(self):
        stiffness = {stage: [] for stage in STAGES}
        for index in range(3000):
            labels = sample_labels(index, seed=SEED)
            stiffness[labels.fibrosis_stage].append(labels.liver_stiffness_kpa)
        for stage, values in stiffness.items():
            median = STIFFNESS_KPA_BY_STAGE[stage][0]
            assert abs(np.median(values) / median - 1.0) < 0.1, (stage, np.median(values))

    def test_spleen_area_rises_with_stage(self, anatomies):
        areas = {stage: [] for stage in STAGES}
        for labels, anatomy in anatomies[:300]:
            area = np.mean(axial_label_map(anatomy, 64) == A.SPLEEN)
            areas[labels.fibrosis_stage].append(area)
        means = [np.mean(areas[stage]) for stage in STAGES]
        assert means[4] > means[3] > max(means[:3]), means
        assert means[4] > 1.4 * np.mean(areas["F0"] + areas["F1"]), means

    def test_caudate_ratio_and_nodularity_higher_in_f4(self, anatomies):
        ratio = {stage: [] for stage in STAGES}
        nodularity = {stage: [] for stage in STAGES}
        for labels, anatomy in anatomies:
            ratio[labels.fibrosis_stage].append(anatomy.caudate_right_ratio)
            nodularity[labels.fibrosis_stage].append(anatomy.surface_nodularity)
        for measure in (ratio, nodularity):
            early = np.mean(measure["F0"] + measure["F1"])
            late = np.mean(measure["F4"])
            assert late > 1.3 * early
            # Nearly flat until F3 (REFERENCE.md, "Morphology"): F2 stays close to F0-F1.
            assert np.mean(measure["F2"]) - early < 0.25 * (late - early)

    def test_nodular_outline_measured_on_the_image(self, anatomies):
        """Outline bumpiness: pixels where the liver mask and its 9 x 9 majority-smoothed
        version disagree, per outline pixel, is higher in F4 than in F0-F1."""

        def bumpiness(anatomy) -> float:
            mask = np.isin(axial_label_map(anatomy, 192), (*A.LIVER_IDS, A.HEPATIC_VESSEL))
            padded = np.pad(mask.astype(np.float64), 4, mode="edge")
            table = padded.cumsum(0).cumsum(1)
            table = np.pad(table, ((1, 0), (1, 0)))
            box = table[9:, 9:] - table[:-9, 9:] - table[9:, :-9] + table[:-9, :-9]
            smooth = box / 81.0 > 0.5
            outline = np.sum(mask[1:] != mask[:-1]) + np.sum(mask[:, 1:] != mask[:, :-1])
            return float(np.sum(mask != smooth) / outline)

        early = [bumpiness(a) for lab, a in anatomies[:200] if lab.fibrosis_stage in ("F0", "F1")]
        late = [bumpiness(a) for lab, a in anatomies[:200] if lab.fibrosis_stage == "F4"]
        assert np.mean(late) > 1.2 * np.mean(early), (np.mean(late), np.mean(early))

    def test_ascites_only_in_a_minority_of_f4(self, anatomies):
        with_ascites = [labels.fibrosis_stage for labels, a in anatomies if a.has_ascites]
        assert set(with_ascites) == {"F4"}
        f4 = sum(labels.fibrosis_stage == "F4" for labels, _ in anatomies)
        assert 0.05 < len(with_ascites) / f4 < 0.4

    def test_ascites_is_drawn_around_the_liver(self, anatomies):
        labels = next(lab for lab, a in anatomies if a.has_ascites)
        patient = generate_patient(labels.index, seed=SEED, image_size=IMAGE_SIZE)
        assert np.any(patient.label_maps["MRI"] == A.ASCITES)
        assert np.any(patient.label_maps["US"] == A.ASCITES)


class TestSizes:
    @pytest.mark.parametrize("image_size", [32, 97])
    def test_small_and_odd_sizes(self, image_size):
        patient = generate_patient(7, seed=SEED, image_size=image_size)
        for modality in ("MRI", "CT", "US"):
            image = patient.images[modality]
            assert image.shape == (image_size, image_size) and image.dtype == np.float32
            assert 0.0 <= image.min() and image.max() <= 1.0
            assert patient.liver_mask(modality).any()

    def test_small_sizes_are_block_means_of_a_larger_render(self):
        """Below 96 pixels the image is the mean over each pixel's area (no aliasing)."""
        from generator.patient import supersampling

        assert supersampling(32) == 3 and supersampling(96) == 1
        small = generate_patient(7, seed=SEED, image_size=32)
        large = generate_patient(7, seed=SEED, image_size=96)
        for modality in ("MRI", "CT", "US"):
            blocks = large.images[modality].reshape(32, 3, 32, 3).mean(axis=(1, 3))
            if modality == "US":
                blocks[~fan_geometry(32).inside] = 0.0
            np.testing.assert_allclose(small.images[modality], blocks, atol=1e-6)
            centres = large.label_maps[modality][1::3, 1::3]
            np.testing.assert_array_equal(small.label_maps[modality], centres)

    def test_anatomy_independent_of_image_size(self):
        small = generate_patient(12, seed=SEED, image_size=64)
        large = generate_patient(12, seed=SEED, image_size=256)
        for modality in ("MRI", "CT", "US"):
            a, b = small.liver_mask(modality).mean(), large.liver_mask(modality).mean()
            assert abs(a - b) < 0.03, (modality, a, b)
        coarse = large.label_maps["CT"][2::4, 2::4]
        agreement = np.mean(coarse == small.label_maps["CT"])
        assert agreement > 0.9


class TestDeterminism:
    def test_modalities_use_their_own_streams(self):
        """One patient's MRI and CT streams draw different numbers."""
        first = StreamFamily(SEED, 3, "MRI").rng("fields").standard_normal(4)
        second = StreamFamily(SEED, 3, "CT").rng("fields").standard_normal(4)
        assert not np.allclose(first, second)

    def test_read_outs_differ_between_modalities(self, patients):
        """Each modality reads severity with its own noise: liver levels are not collinear."""
        levels = [[liver_mean(p, m) for p in patients] for m in ("MRI", "CT", "US")]
        corr = np.corrcoef(levels)
        assert np.all(corr[np.triu_indices(3, 1)] < 0.95), corr
        assert np.all(corr[np.triu_indices(3, 1)] > 0.2), corr

    def test_golden_values(self):
        """Deliberately regenerated for each GENERATOR_VERSION (tolerance for numpy builds)."""
        assert GENERATOR_VERSION == "3.3.0"
        patient = generate_patient(0, seed=SEED, image_size=64)
        means = {m: float(image.mean()) for m, image in patient.images.items()}
        expected = GOLDEN_MEANS
        for modality, value in expected.items():
            assert means[modality] == pytest.approx(value, abs=2e-4), (modality, means)
        counts = np.bincount(patient.label_maps["CT"].ravel(), minlength=A.NUM_LABELS)
        assert int(counts[A.LIVER] + counts[A.SPOT]) == GOLDEN_CT_LIVER_PIXELS


class TestPrimitives:
    def test_beam_labels_are_the_axial_labels_under_each_sample(self, anatomies):
        """A beam sample inside the field of view takes the axial label of the pixel
        holding it (no swap of rows and columns, no half-pixel shift); one outside it
        takes the anatomy's label where it lies."""
        from generator.modality import Scene
        from generator.ultrasound import beam_labels, beam_points, sample_ultrasound_parameters

        size = 64
        geometry = fan_geometry(size)
        outside = 0
        for labels, anatomy in anatomies[:20]:
            streams = StreamFamily(SEED, labels.index, "US")
            probe = sample_ultrasound_parameters(labels, anatomy, streams).probe
            x, y = beam_points(probe, geometry)
            beam = beam_labels(Scene(anatomy, size, streams), x, y)
            on_grid = (x >= 0) & (x < 1) & (y >= 0) & (y < 1)
            outside += int(np.sum(~on_grid & (beam != A.BACKGROUND)))
            centre_x = np.where(on_grid, (np.floor(x * size) + 0.5) / size, x)
            centre_y = np.where(on_grid, (np.floor(y * size) + 0.5) / size, y)
            np.testing.assert_array_equal(beam, rasterise(anatomy, centre_x, centre_y))
        assert outside > 0  # some bodies are wider than the field of view

    def test_axial_locator_does_not_change_the_labels(self, anatomies):
        """Restricting each structure to the pixels of its box is exact."""
        from generator.geometry import pixel_grid

        y, x = pixel_grid(64)
        for _, anatomy in anatomies[:30]:
            np.testing.assert_array_equal(rasterise(anatomy, x, y), axial_label_map(anatomy, 64))

    def test_correlated_field_unit_sd(self):
        rng = np.random.Generator(np.random.PCG64(0))
        for kind, scale, parameter in (("gaussian", 0.02, 0.0), ("ct", 0.0, 0.22)):
            field = np.stack([correlated_field(rng, 128, kind, scale, parameter) for _ in range(8)])
            assert 0.9 < field.std() < 1.1, kind
            assert abs(field.mean()) < 0.05

    def test_ct_noise_is_not_white(self):
        """Filtered back-projection noise: little power at low frequencies (ramp)."""
        rng = np.random.Generator(np.random.PCG64(1))
        field = correlated_field(rng, 128, "ct", 0.0, 0.22)
        power = np.abs(np.fft.fft2(field)) ** 2
        freq = np.hypot(*np.meshgrid(np.fft.fftfreq(128), np.fft.fftfreq(128), indexing="ij"))
        low = power[(freq > 0) & (freq < 0.05)].mean()
        mid = power[(freq > 0.15) & (freq < 0.25)].mean()
        assert mid > 5 * low

    def test_stamp_touches_only_its_patch(self):
        image = np.zeros((64, 64), dtype=np.float32)
        label_map = np.ones((64, 64), dtype=np.uint8)
        stamp_disc(image, (0.5, 0.25), 0.05, 2.0, label_map=label_map, label=9, inside=(1,))
        ys, xs = np.nonzero(image)
        assert ys.min() >= 16 - 5 and ys.max() <= 16 + 5
        assert xs.min() >= 32 - 5 and xs.max() <= 32 + 5
        assert image.max() == pytest.approx(2.0)
        assert np.array_equal(label_map == 9, image >= 1.0)


GOLDEN_MEANS = {"MRI": 0.260883, "CT": 0.284195, "US": 0.522915}
GOLDEN_CT_LIVER_PIXELS = 505
