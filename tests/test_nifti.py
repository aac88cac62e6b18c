"""NIfTI export: values, header, RAS+ orientation, agreement with DICOM, identical bytes."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest

from generator import generate_patient
from generator.contract import GENERATOR_VERSION, GenerationParameters
from generator.dicom_export import write_dicom
from generator.extras import MissingExtraError
from generator.label_ids import LIVER, VERTEBRA
from generator.modalities import MODALITIES
from generator.nifti_export import nifti_relative_paths, write_nifti
from generator.physical_space import SLICE_THICKNESS_MM, pixel_spacing_mm

nib = pytest.importorskip("nibabel")

PARAMETERS = GenerationParameters(num_patients=5, image_size=64, seed=42)


def image_of(nifti) -> np.ndarray:
    """The (S, S) image (rows, columns) of a (S, S, 1) NIfTI array (columns, rows, 1)."""
    return np.asarray(nifti.dataobj)[:, :, 0].T


def ras(nifti, mask: np.ndarray) -> np.ndarray:
    """Mean RAS+ position (mm) of the pixels of an (S, S) image mask."""
    rows, columns = np.nonzero(mask)
    voxels = np.stack([columns, rows, np.zeros_like(rows), np.ones_like(rows)])
    return (nifti.affine @ voxels)[:3].mean(axis=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Patients 0-2: ``(folder, [(patient, {relative path: nibabel image})])``."""
    folder = tmp_path_factory.mktemp("nifti")
    patients = []
    for index in range(3):
        patient = generate_patient(index, seed=42, image_size=64)
        paths = write_nifti(folder, patient, PARAMETERS)
        relative = nifti_relative_paths(index, PARAMETERS.num_patients)
        patients.append((patient, {r: nib.load(p) for r, p in zip(relative, paths, strict=True)}))
    return folder, patients


def files_of(patient_files, modality, label=False):
    patient, files = patient_files
    suffix = "_label" if label else ""
    name = f"PAT_{patient.labels.index + 1:04d}"
    return patient, files[f"nifti/{name}_{modality}{suffix}.nii.gz"]


class TestLayout:
    def test_paths(self):
        assert nifti_relative_paths(0, 10) == [
            "nifti/PAT_0001_MRI.nii.gz",
            "nifti/PAT_0001_CT.nii.gz",
            "nifti/PAT_0001_US.nii.gz",
            "nifti/PAT_0001_MRI_label.nii.gz",
            "nifti/PAT_0001_CT_label.nii.gz",
            "nifti/PAT_0001_US_label.nii.gz",
        ]

    def test_written_where_the_paths_say(self, exported):
        folder, _ = exported
        written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert written == sorted(p for i in range(3) for p in nifti_relative_paths(i, 5))


class TestValues:
    def test_images_are_the_generators_arrays_bit_for_bit(self, exported):
        for patient_files in exported[1]:
            for modality in MODALITIES:
                patient, nifti = files_of(patient_files, modality)
                expected = patient.physical.get(modality, patient.images[modality])
                assert nifti.get_data_dtype() == np.float32 and nifti.shape == (64, 64, 1)
                np.testing.assert_array_equal(image_of(nifti), expected)

    def test_ct_is_in_hounsfield_units(self, exported):
        patient, nifti = files_of(exported[1][0], "CT")
        ct = image_of(nifti)
        assert ct.min() < -900  # air
        assert 30 < np.median(ct[patient.label_maps["CT"] == LIVER]) < 110
        assert (nifti.header["cal_min"], nifti.header["cal_max"]) == (-160, 240)

    def test_label_maps(self, exported):
        for patient_files in exported[1]:
            for modality in MODALITIES:
                patient, nifti = files_of(patient_files, modality, label=True)
                assert nifti.get_data_dtype() == np.uint8
                assert nifti.header.get_intent()[0] == "label"
                np.testing.assert_array_equal(image_of(nifti), patient.label_maps[modality])


class TestHeader:
    def test_units_provenance_and_patient_id(self, exported):
        _, nifti = files_of(exported[1][1], "MRI")
        header = nifti.header
        assert header.get_xyzt_units()[0] == "mm"
        descrip = header["descrip"].item().decode()
        assert descrip == f"synthetic generator {GENERATOR_VERSION} seed=42 index=1 size=64"
        assert header["aux_file"].item() == b"PAT_0002"
        assert header["qform_code"] == header["sform_code"] == 1
        np.testing.assert_allclose(header.get_qform(), header.get_sform(), atol=1e-4)

    def test_voxel_size(self, exported):
        for modality in MODALITIES:
            _, nifti = files_of(exported[1][0], modality)
            spacing = pixel_spacing_mm(modality, 64)
            np.testing.assert_allclose(
                nifti.header.get_zooms(), (spacing, spacing, SLICE_THICKNESS_MM), rtol=1e-6
            )


class TestOrientation:
    @pytest.mark.parametrize("modality", ["MRI", "CT"])
    def test_axial_images_are_lps_ordered(self, exported, modality):
        _, nifti = files_of(exported[1][0], modality)
        assert nib.aff2axcodes(nifti.affine) == ("L", "P", "S")

    @pytest.mark.parametrize("modality", MODALITIES)
    def test_liver_on_the_patients_right_in_every_modality(self, exported, modality):
        """RAS+: the patient's right is +x. The ultrasound, placed by its probe's pose,
        agrees with the axial images."""
        for patient_files in exported[1]:
            patient, labels = files_of(patient_files, modality, label=True)
            _, axial = files_of(patient_files, "CT", label=True)
            body = ras(axial, patient.label_maps["CT"] != 0)
            liver = ras(labels, patient.label_maps[modality] == LIVER)
            assert liver[0] > body[0] + 20, (modality, liver, body)

    def test_spine_is_posterior(self, exported):
        for patient_files in exported[1]:
            patient, labels = files_of(patient_files, "CT", label=True)
            body = ras(labels, patient.label_maps["CT"] != 0)
            spine = ras(labels, patient.label_maps["CT"] == VERTEBRA)
            assert spine[1] < body[1] - 30  # RAS+: posterior is -y

    def test_same_place_as_dicom(self, exported, tmp_path):
        """Every pixel centre: NIfTI's RAS+ equals DICOM's LPS with x and y negated."""
        pydicom = pytest.importorskip("pydicom")
        patient, nifti = files_of(exported[1][0], "CT")
        (_, path, _) = write_dicom(tmp_path, patient, PARAMETERS)
        ds = pydicom.dcmread(path)
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient]).reshape(2, 3)
        row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
        rows, columns = np.mgrid[0:64:7, 0:64:5]
        lps = (
            position[:, None]
            + orientation[0][:, None] * column_spacing * columns.ravel()
            + orientation[1][:, None] * row_spacing * rows.ravel()
        )
        voxels = np.stack([columns.ravel(), rows.ravel(), 0 * rows.ravel(), 1 + 0 * rows.ravel()])
        np.testing.assert_allclose((nifti.affine @ voxels)[:3], lps * [[-1], [-1], [1]], atol=1e-3)


class TestBytes:
    def test_two_writes_are_identical(self, exported, tmp_path):
        folder, _ = exported
        write_nifti(tmp_path, generate_patient(2, seed=42, image_size=64), PARAMETERS)
        for relative in nifti_relative_paths(2, 5):
            assert (tmp_path / relative).read_bytes() == (folder / relative).read_bytes()

    def test_gzip_header_has_no_time_and_no_name(self, exported):
        folder, _ = exported
        for relative in nifti_relative_paths(0, 5):
            data = (folder / relative).read_bytes()
            assert data[:3] == b"\x1f\x8b\x08" and data[3] == 0  # deflate, no FNAME
            assert data[4:8] == b"\0\0\0\0"  # mtime 0
            assert gzip.decompress(data)[344:348] == b"n+1\0"  # single-file NIfTI-1


class TestRefusals:
    def test_missing_nibabel_is_one_line(self, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "nibabel", None)
        with pytest.raises(MissingExtraError) as error:
            write_nifti(tmp_path, generate_patient(0, image_size=32), GenerationParameters(1, 32))
        message = str(error.value)
        assert "\n" not in message and 'pip install -e ".[medical]"' in message
        assert not list(tmp_path.iterdir())

    def test_the_core_does_not_import_nibabel(self):
        code = "import sys, generator.nifti_export; print('nibabel' in sys.modules)"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.stdout.strip() == "False", result.stderr

    def test_patient_of_another_size_or_seed_is_refused(self, tmp_path):
        with pytest.raises(ValueError, match="image_size"):
            write_nifti(tmp_path, generate_patient(0, image_size=32), PARAMETERS)
        with pytest.raises(ValueError, match="labels"):
            write_nifti(tmp_path, generate_patient(0, seed=7, image_size=64), PARAMETERS)
        assert not list(tmp_path.iterdir())
