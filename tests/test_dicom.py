"""DICOM export: storage classes, pixel values, tags, geometry, UIDs and identical bytes."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from generator import generate_patient, render_patient
from generator.contract import GENERATOR_VERSION, GenerationParameters
from generator.ct import hounsfield_to_unit
from generator.dicom_export import (
    DICOM_MODALITY,
    dicom_relative_paths,
    dicom_uid,
    write_dicom,
)
from generator.encoding import quantize_to_uint8
from generator.extras import MissingExtraError
from generator.label_ids import LIVER
from generator.modalities import MODALITIES
from generator.patient import at_stage
from generator.physical_space import pixel_spacing_mm

pydicom = pytest.importorskip("pydicom")

PARAMETERS = GenerationParameters(num_patients=6, image_size=96, seed=42)
SOP_CLASSES = {
    "MRI": pydicom.uid.MRImageStorage,
    "CT": pydicom.uid.CTImageStorage,
    "US": pydicom.uid.UltrasoundImageStorage,
}


def write(folder, index, parameters=PARAMETERS):
    """``{modality: (patient, dataset read back)}`` of patient ``index`` written to ``folder``."""
    patient = generate_patient(index, seed=parameters.seed, image_size=parameters.image_size)
    paths = write_dicom(folder, patient, parameters)
    return {m: (patient, pydicom.dcmread(path)) for m, path in zip(MODALITIES, paths, strict=True)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Patients 0-3 at 96 pixels: ``[{modality: (patient, dataset)}]``."""
    folder = tmp_path_factory.mktemp("dicom")
    return folder, [write(folder, index) for index in range(4)]


class TestLayout:
    def test_paths(self):
        assert dicom_relative_paths(0, 10) == [
            "dicom/PAT_0001/MR.dcm",
            "dicom/PAT_0001/CT.dcm",
            "dicom/PAT_0001/US.dcm",
        ]
        assert dicom_relative_paths(0, 10000)[0] == "dicom/PAT_00001/MR.dcm"

    def test_every_modality_has_a_dicom_modality(self):
        assert set(DICOM_MODALITY) == set(MODALITIES)

    def test_written_where_the_paths_say_and_nothing_else(self, exported):
        folder, _ = exported
        written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        expected = sorted(path for index in range(4) for path in dicom_relative_paths(index, 6))
        assert written == expected


class TestStorageClass:
    def test_sop_classes_and_transfer_syntax(self, exported):
        for files in exported[1]:
            for modality, (_, ds) in files.items():
                assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID
                assert ds.SOPClassUID == SOP_CLASSES[modality]
                assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
                assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
                assert ds.Modality == DICOM_MODALITY[modality]
                assert ds.preamble == b"\0" * 128

    @pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
    def test_dicom3tools_finds_no_error_or_warning(self, exported):
        folder, _ = exported
        for path in sorted(folder.rglob("*.dcm")):
            result = subprocess.run(
                ["dciodvfy", "-new", str(path)], capture_output=True, text=True, check=False
            )
            report = result.stdout + result.stderr
            assert "Error" not in report and "Warning" not in report, (path, report)


class TestPixels:
    def test_ct_is_hounsfield_units_within_rounding(self, exported):
        for files in exported[1]:
            patient, ds = files["CT"]
            assert ds.pixel_array.dtype == np.int16 and ds.PixelRepresentation == 1
            hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            assert np.abs(hu - patient.physical["CT"]).max() <= 0.5
            assert ds.RescaleType == "HU"

    def test_ct_window_gives_the_ct_image_within_8_bit_rounding(self, exported):
        for files in exported[1]:
            patient, ds = files["CT"]
            assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (40.0, 400.0)
            windowed = hounsfield_to_unit(ds.pixel_array.astype(np.float32))
            # 0.5 HU of rounding is 0.5 / 400 of the window: less than half a grey level.
            assert np.abs(windowed - patient.images["CT"]).max() <= 0.5 / 400 + 1e-6
            assert np.abs(windowed - patient.images["CT"]).max() < 0.5 / 255

    def test_mr_is_the_image_on_12_bits(self, exported):
        for files in exported[1]:
            patient, ds = files["MRI"]
            assert ds.pixel_array.dtype == np.uint16 and ds.BitsStored == 12
            image = patient.images["MRI"].astype(np.float64)
            np.testing.assert_array_equal(ds.pixel_array, np.floor(4095 * image + 0.5))
            assert np.abs(ds.pixel_array / 4095 - image).max() <= 0.5 / 4095 + 1e-12

    def test_ultrasound_is_the_8_bit_grey_levels(self, exported):
        for files in exported[1]:
            patient, ds = files["US"]
            assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsAllocated == 8
            np.testing.assert_array_equal(ds.pixel_array, quantize_to_uint8(patient.images["US"]))

    def test_small_images_keep_their_values(self, tmp_path):
        files = write(tmp_path, 1, GenerationParameters(num_patients=3, image_size=32, seed=7))
        patient, ct = files["CT"]
        assert np.abs(ct.pixel_array - patient.physical["CT"]).max() <= 0.5
        assert files["MRI"][1].Rows == files["US"][1].Columns == 32


class TestTags:
    def test_one_patient_one_study_three_series(self, exported):
        for files in exported[1]:
            datasets = [ds for _, ds in files.values()]
            for keyword in (
                "StudyInstanceUID", "PatientID", "PatientName", "PatientSex", "PatientAge",
                "StudyDate", "StudyTime", "AccessionNumber", "StudyID",
            ):  # fmt: skip
                assert len({str(ds.data_element(keyword).value) for ds in datasets}) == 1
            assert len({ds.SeriesInstanceUID for ds in datasets}) == 3
            assert [ds.SeriesNumber for ds in datasets] == [1, 2, 3]
            # MR and CT share the axial geometry, so one frame of reference.
            assert files["MRI"][1].FrameOfReferenceUID == files["CT"][1].FrameOfReferenceUID

    def test_patient_attributes_follow_the_labels(self, exported):
        for files in exported[1]:
            patient, ds = files["CT"]
            labels = patient.labels
            assert ds.PatientID == f"PAT_{labels.index + 1:04d}"
            assert ds.PatientName == f"SYNTHETIC^{ds.PatientID}"
            assert ds.PatientSex == labels.sex
            assert ds.PatientAge == f"{labels.age:03d}Y"

    def test_says_it_is_synthetic_and_where_it_came_from(self, exported):
        for files in exported[1]:
            for patient, ds in files.values():
                assert ds.PatientIdentityRemoved == "YES"
                assert "synthetic" in ds.DeidentificationMethod
                assert ds.BurnedInAnnotation == "NO"
                expected = f"generator {GENERATOR_VERSION} seed=42 index={patient.labels.index}"
                assert expected in ds.ImageComments and "not for clinical use" in ds.ImageComments
                assert ds.SoftwareVersions == GENERATOR_VERSION

    def test_mr_is_a_t2_weighted_spin_echo(self, exported):
        ds = exported[1][0]["MRI"][1]
        assert ds.ScanningSequence == "SE" and ds.MRAcquisitionType == "2D"
        assert 80 <= float(ds.EchoTime) <= 120 and 2000 <= float(ds.RepetitionTime) <= 5000
        assert float(ds.MagneticFieldStrength) in (1.5, 3.0)

    def test_no_time_of_writing(self, exported):
        ds = exported[1][0]["US"][1]
        dates = {ds.StudyDate, ds.SeriesDate, ds.ContentDate, ds.AcquisitionDate}
        assert dates == {"20260101"}
        assert "InstanceCreationDate" not in ds


class TestGeometry:
    @pytest.mark.parametrize("modality", ["MRI", "CT"])
    def test_axial_image_plane(self, exported, modality):
        spacing = 360.0 / 96
        for files in exported[1]:
            _, ds = files[modality]
            np.testing.assert_allclose([float(v) for v in ds.PixelSpacing], [spacing] * 2)
            assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
            position = [float(v) for v in ds.ImagePositionPatient]
            np.testing.assert_allclose(position, [-180 + spacing / 2] * 2 + [0.0])
            assert float(ds.SliceThickness) > 0 and ds.PatientPosition == "HFS"

    def test_liver_on_the_patients_right(self, exported):
        """LPS x of a pixel is position + column * spacing: the liver lies at -x."""
        for files in exported[1]:
            patient, ds = files["CT"]
            labels = patient.label_maps["CT"]
            x0, spacing = float(ds.ImagePositionPatient[0]), float(ds.PixelSpacing[1])
            liver_x = x0 + spacing * np.nonzero(labels == LIVER)[1].mean()
            body_x = x0 + spacing * np.nonzero(labels != 0)[1].mean()
            assert liver_x < body_x - 20

    def test_ultrasound_region_spacing_in_cm(self, exported):
        ds = exported[1][0]["US"][1]
        (region,) = ds.SequenceOfUltrasoundRegions
        assert region.PhysicalUnitsXDirection == region.PhysicalUnitsYDirection == 3  # cm
        assert region.PhysicalDeltaX == pytest.approx(pixel_spacing_mm("US", 96) / 10)
        assert (region.RegionLocationMaxX1, region.RegionLocationMaxY1) == (95, 95)


class TestUids:
    def test_valid_and_under_the_uuid_root(self, exported):
        for files in exported[1]:
            for _, ds in files.values():
                for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID):
                    assert uid.is_valid and uid.startswith("2.25.")

    def test_unique_across_patients(self, exported):
        datasets = [ds for files in exported[1] for _, ds in files.values()]
        assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
        assert len({ds.StudyInstanceUID for ds in datasets}) == 4
        assert len({ds.get("FrameOfReferenceUID") for ds in datasets} - {None}) == 4

    def test_same_study_other_instances_at_another_size_or_seed(self, tmp_path, exported):
        at_64 = write(tmp_path / "64", 0, GenerationParameters(6, 64, 42))
        seed_7 = write(tmp_path / "s7", 0, GenerationParameters(6, 96, 7))
        at_96 = exported[1][0]
        assert at_64["CT"][1].StudyInstanceUID == at_96["CT"][1].StudyInstanceUID
        assert at_64["CT"][1].SOPInstanceUID != at_96["CT"][1].SOPInstanceUID
        assert seed_7["CT"][1].StudyInstanceUID != at_96["CT"][1].StudyInstanceUID

    def test_equal_uids_mean_equal_files(self, tmp_path, exported):
        """The patient count does not enter a file until it widens the patient id."""
        folder, files = exported
        write(tmp_path / "7", 0, GenerationParameters(7, 96, 42))
        for relative in dicom_relative_paths(0, 7):
            assert (tmp_path / "7" / relative).read_bytes() == (folder / relative).read_bytes()
        wide = write(tmp_path / "wide", 0, GenerationParameters(10_000, 96, 42))
        assert wide["CT"][1].PatientID == "PAT_00001"
        assert wide["CT"][1].StudyInstanceUID != files[0]["CT"][1].StudyInstanceUID

    def test_derivation_is_pinned(self):
        """A name-based UUID: no randomness, no clock, no library version in it."""
        assert dicom_uid("implementation") == "2.25.195195098259105544560320767413747178311"
        assert dicom_uid(1, "a") == dicom_uid("1/a") != dicom_uid("1/b")


class TestBytes:
    def test_two_writes_are_identical(self, tmp_path, exported):
        folder, _ = exported
        write(tmp_path, 2)
        for relative in dicom_relative_paths(2, 6):
            assert (tmp_path / relative).read_bytes() == (folder / relative).read_bytes()

    def test_no_partial_file_is_left(self, exported):
        assert not list(exported[0].rglob("*.partial"))


class TestRefusals:
    def test_missing_pydicom_is_one_line(self, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "pydicom", None)
        patient = generate_patient(0, image_size=32)
        with pytest.raises(MissingExtraError) as error:
            write_dicom(tmp_path, patient, GenerationParameters(1, 32, 42))
        message = str(error.value)
        assert "\n" not in message and 'pip install -e ".[medical]"' in message
        assert not list(tmp_path.iterdir())

    def test_the_core_does_not_import_pydicom(self):
        code = "import sys, generator.dicom_export; print('pydicom' in sys.modules)"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.stdout.strip() == "False", result.stderr

    def test_counterfactual_patient_is_refused(self, tmp_path):
        """Its files would claim a provenance that regenerates another patient."""
        labels = generate_patient(0, image_size=32).labels
        other = "F0" if labels.fibrosis_stage != "F0" else "F4"
        patient = render_patient(at_stage(labels, other), seed=42, image_size=32)
        with pytest.raises(ValueError, match="counterfactual"):
            write_dicom(tmp_path, patient, GenerationParameters(1, 32, 42))

    @pytest.mark.parametrize(
        ("parameters", "named"),
        [(GenerationParameters(1, 96, 42), "num_patients"), (GenerationParameters(6, 64), "size")],
    )
    def test_patient_of_other_parameters_is_refused(self, tmp_path, parameters, named):
        patient = generate_patient(3, image_size=96)
        with pytest.raises(ValueError, match=named):
            write_dicom(tmp_path, patient, parameters)
