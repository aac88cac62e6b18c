"""DICOM export: one single-frame DICOM file per modality of a patient.

Layout: ``dicom/PAT_0001/MR.dcm``, ``CT.dcm``, ``US.dcm`` (file name: the DICOM
Modality), written atomically in Explicit VR Little Endian with a Part 10 file meta.
Each file is an instance of its modality's classic storage class:

- MRI: MR Image Storage. Pixel data uint16, 12 bits stored: ``q = floor(4095 x + 0.5)``
  of the [0, 1] image ``x`` (``x`` is ``q / 4095`` within 0.5 / 4095); the acquisition
  attributes describe the protocol the image imitates (``MR_PROTOCOL``), an axial 2-D
  T2-weighted turbo spin echo at 3 T.
- CT: CT Image Storage. Pixel data int16 Hounsfield units, ``round(HU)`` (half to even,
  so within 0.5 HU of ``patient.physical["CT"]``), RescaleSlope 1, RescaleIntercept 0;
  window W400/L40, the dataset's CT window.
- Ultrasound: Ultrasound Image Storage. Pixel data uint8 MONOCHROME2 of the [0, 1]
  image, ``q = floor(255 x + 0.5)`` (the ``default`` config's grey levels); its
  spacing is in the Sequence of Ultrasound Regions (the US IOD has no Image Plane
  module), in cm as DICOM asks.

MR and CT carry the Image Plane module in the radiological layout (LPS: columns toward
the patient's left, rows toward posterior; ``generator.physical_space``) and share one
Frame of Reference, since they share the axial geometry. The ultrasound's pose in that
frame is in its NIfTI affine only.

Every file says it is synthetic (PatientName ``SYNTHETIC^PAT_0001``, PatientIdentity
Removed YES, DeidentificationMethod, ImageComments with the provenance line) and holds
no time of writing: dates and times are fixed and the UIDs are name-based, so two
writes give the same bytes. UIDs are ``2.25.<n>`` with ``n`` the 128-bit integer of a
name-based (version 5) UUID (ISO/IEC 9834-8) of what the file's content depends on: one
StudyInstanceUID per (generator version, seed, patient id), and the FrameOfReferenceUID
named after it; one SeriesInstanceUID and one SOPInstanceUID per (generator version,
seed, patient id, image size, modality), since images of other sizes are other
instances. (The patient id is a function of the index and, past 9999 patients, of the
patient count, which widens it; so equal UIDs mean equal files.)

The label maps are not exported as DICOM SEG (20 segments with coded anatomy would
need their own module); the NIfTI export carries them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from generator.cohort import patient_id
from generator.contract import DATASET_NAME, GENERATOR_VERSION, GenerationParameters
from generator.encoding import quantize_to_uint8
from generator.extras import require
from generator.files import atomic_writer
from generator.layout import DICOM_DIR
from generator.modalities import MODALITIES
from generator.patient import Patient
from generator.physical_space import (
    AXIAL_FOV_MM,
    SLICE_THICKNESS_MM,
    pixel_spacing_mm,
    pixel_to_patient,
)
from generator.provenance import provenance
from generator.ultrasound import DEPTH, FREQUENCY_MHZ

if TYPE_CHECKING:
    import pydicom

#: DICOM Modality (0008,0060) of each generator modality; also its file name.
DICOM_MODALITY = {"MRI": "MR", "CT": "CT", "US": "US"}
#: Namespace of the name-based UUIDs behind every UID (a random UUID, drawn once).
UID_NAMESPACE = uuid.UUID("cf4945d6-03b5-422b-a596-5ef1f29d5970")
#: (0002,0013): this writer, in place of pydicom's default (which names pydicom's version).
IMPLEMENTATION_VERSION_NAME = f"OMLC_{GENERATOR_VERSION}"
#: Fixed date and time of every study, series, acquisition and content.
STUDY_DATE, STUDY_TIME = "20260101", "090000"
#: Largest MR pixel value: the [0, 1] image scaled to 12 bits.
MR_MAX_VALUE = 4095
#: The MR acquisition the image imitates (DICOM keywords; ms, T, MHz). The render models
#: relative T2 contrast (``generator.mri``, T2 values at 3 T), not these timings.
MR_PROTOCOL = {
    "ScanningSequence": "SE",
    "SequenceVariant": "SK",  # segmented k-space: turbo (fast) spin echo
    "ScanOptions": "",
    "MRAcquisitionType": "2D",
    "SequenceName": "T2_TSE",
    "RepetitionTime": 4000,
    "EchoTime": 90,
    "EchoTrainLength": 16,
    "FlipAngle": 90,
    "NumberOfAverages": 1,
    "ImagedNucleus": "1H",
    "MagneticFieldStrength": 3,
    "ImagingFrequency": 127.74,  # 42.577 MHz/T x 3 T
}
#: The CT acquisition the image imitates (DICOM keywords; kV).
CT_PROTOCOL = {"KVP": 120, "ConvolutionKernel": "STANDARD"}
#: Window of the CT's [0, 1] image (``generator.ct``: W400/L40), HU.
CT_WINDOW = (40, 400)
#: (0008,103E) SeriesDescription of each modality.
SERIES_DESCRIPTIONS = {
    "MRI": "Synthetic axial T2 TSE",
    "CT": "Synthetic axial unenhanced CT, abdomen",
    "US": "Synthetic liver B-mode, right intercostal",
}


def dicom_relative_paths(index: int, num_patients: int) -> list[str]:
    """``dicom/PAT_0001/MR.dcm``, ``CT.dcm``, ``US.dcm`` of patient ``index``: registry order."""
    folder = f"{DICOM_DIR}/{patient_id(index, num_patients)}"
    return [f"{folder}/{DICOM_MODALITY[modality]}.dcm" for modality in MODALITIES]


def dicom_uid(*name: object) -> str:
    """``2.25.<n>``: ``n`` the integer of the version-5 UUID of ``"/".join(name)``."""
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, '/'.join(map(str, name))).int}"


#: (0002,0012): this writer, whatever the generator version.
IMPLEMENTATION_CLASS_UID = dicom_uid("implementation")


def _pydicom():
    return require("pydicom", "medical", "DICOM export")


def dicom_dataset(
    patient: Patient, modality: str, parameters: GenerationParameters
) -> pydicom.Dataset:
    """The DICOM dataset (with its file meta) of ``patient``'s ``modality`` image.

    Raise ``ValueError`` if the patient does not belong to ``parameters`` or the
    modality has no DICOM writer; ``MissingExtraError`` without pydicom.
    """
    if modality not in _IMAGE_WRITERS:
        raise ValueError(f"`modality` must be one of {', '.join(_IMAGE_WRITERS)}, got {modality=}")
    pydicom = _pydicom()
    origin = provenance(patient, parameters)
    labels, seed, size = patient.labels, parameters.seed, parameters.image_size
    name = patient_id(labels.index, parameters.num_patients)
    study = (GENERATOR_VERSION, seed, name)
    series = (*study, size, modality)
    sop_class = _SOP_CLASSES[modality]
    instance_uid = dicom_uid(*series, "instance")

    meta = pydicom.FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds = pydicom.Dataset()
    ds.file_meta = meta
    # SOP Common
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = instance_uid
    # Patient and Patient Study: a synthetic patient, nothing to de-identify.
    ds.PatientName = f"SYNTHETIC^{name}"
    ds.PatientID = name
    ds.PatientBirthDate = ""
    ds.PatientSex = labels.sex
    ds.PatientAge = f"{labels.age:03d}Y"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic data: generated, no real patient"
    # General Study
    ds.StudyInstanceUID = dicom_uid(*study, "study")
    ds.StudyDate, ds.StudyTime = STUDY_DATE, STUDY_TIME
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.StudyDescription = f"Synthetic liver study ({DATASET_NAME})"
    # General Series and General Equipment
    ds.Modality = DICOM_MODALITY[modality]
    ds.SeriesInstanceUID = dicom_uid(*series, "series")
    ds.SeriesNumber = MODALITIES.index(modality) + 1
    ds.SeriesDate, ds.SeriesTime = STUDY_DATE, STUDY_TIME
    ds.SeriesDescription = SERIES_DESCRIPTIONS[modality]
    ds.BodyPartExamined = "ABDOMEN"
    ds.Manufacturer = f"{DATASET_NAME} generator"
    ds.ManufacturerModelName = "synthetic"
    ds.SoftwareVersions = GENERATOR_VERSION
    # General Image and General Acquisition
    ds.InstanceNumber = 1
    ds.AcquisitionNumber = 1
    ds.AcquisitionDate, ds.AcquisitionTime = STUDY_DATE, STUDY_TIME
    ds.ContentDate, ds.ContentTime = STUDY_DATE, STUDY_TIME
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "NO"
    ds.LossyImageCompression = "00"
    ds.ImageComments = f"Synthetic image, not for clinical use: {DATASET_NAME} {origin}"
    _IMAGE_WRITERS[modality](pydicom, ds, patient)
    return ds


def write_dicom(folder: Path, patient: Patient, parameters: GenerationParameters) -> list[Path]:
    """Write ``patient``'s DICOM files below ``folder`` atomically; return their paths.

    The paths are ``folder / dicom_relative_paths(index, num_patients)``, in that order.
    """
    pydicom = _pydicom()
    paths = []
    relative_paths = dicom_relative_paths(patient.labels.index, parameters.num_patients)
    for modality, relative in zip(MODALITIES, relative_paths, strict=True):
        dataset = dicom_dataset(patient, modality, parameters)
        path = Path(folder) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as handle:
            pydicom.dcmwrite(handle, dataset, enforce_file_format=True)
        paths.append(path)
    return paths


def _ds(pydicom, values) -> list[str]:
    """Decimal strings (DS, at most 16 characters) of ``values``."""
    return [pydicom.valuerep.format_number_as_ds(float(value)) for value in values]


def _image_plane(pydicom, ds: pydicom.Dataset, patient: Patient, modality: str) -> None:
    """Frame of Reference, Image Plane and PatientPosition of an axial image."""
    affine = pixel_to_patient(patient, modality)
    spacing = pixel_spacing_mm(modality, patient.images[modality].shape[0])
    # One frame per patient (MR and CT share the axial geometry): named after the study.
    ds.FrameOfReferenceUID = dicom_uid(ds.StudyInstanceUID, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"  # head first, supine: anterior at the top
    ds.PixelSpacing = _ds(pydicom, (spacing, spacing))  # between rows, between columns
    ds.ImageOrientationPatient = _ds(
        pydicom, np.concatenate([affine[:3, 0], affine[:3, 1]]) / spacing
    )
    ds.ImagePositionPatient = _ds(pydicom, affine[:3, 3])
    ds.SliceThickness = _ds(pydicom, (SLICE_THICKNESS_MM,))[0]
    ds.SliceLocation = _ds(pydicom, (affine[2, 3],))[0]


def _mr_image(pydicom, ds: pydicom.Dataset, patient: Patient) -> None:
    """MR Image module: the [0, 1] image as 12-bit unsigned values."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]  # value 3: no MR term for a plain image
    _image_plane(pydicom, ds, patient, "MRI")
    for keyword, value in MR_PROTOCOL.items():
        setattr(ds, keyword, value)
    pixels = np.floor(patient.images["MRI"].astype(np.float64) * MR_MAX_VALUE + 0.5)
    bits = MR_MAX_VALUE.bit_length()
    ds.set_pixel_data(pixels.astype(np.uint16), "MONOCHROME2", bits, generate_instance_uid=False)
    ds.WindowCenter, ds.WindowWidth = _ds(pydicom, ((MR_MAX_VALUE + 1) / 2, MR_MAX_VALUE + 1))


def _ct_image(pydicom, ds: pydicom.Dataset, patient: Patient) -> None:
    """CT Image module: Hounsfield units as signed 16-bit values."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    _image_plane(pydicom, ds, patient, "CT")
    for keyword, value in CT_PROTOCOL.items():
        setattr(ds, keyword, value)
    hu = np.rint(patient.physical["CT"].astype(np.float64))
    limits = np.iinfo(np.int16)
    if hu.min() < limits.min or hu.max() > limits.max:
        raise ValueError(f"CT values must fit int16, got {hu.min()}..{hu.max()} HU")
    ds.set_pixel_data(hu.astype(np.int16), "MONOCHROME2", 16, generate_instance_uid=False)
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "HU"
    ds.WindowCenter, ds.WindowWidth = _ds(pydicom, CT_WINDOW)
    ds.WindowCenterWidthExplanation = "ABDOMEN W400/L40"


def _us_image(pydicom, ds: pydicom.Dataset, patient: Patient) -> None:
    """US Image and US Region Calibration modules: 8-bit grey levels, spacing in cm."""
    size = patient.images["US"].shape[0]
    centimetres = pixel_spacing_mm("US", size) / 10.0
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    ds.PatientOrientation = ""  # in the probe's view; its pose is in the NIfTI affine
    ds.DepthOfScanField = round(DEPTH * AXIAL_FOV_MM)  # mm below the probe's face
    ds.set_pixel_data(
        quantize_to_uint8(patient.images["US"]), "MONOCHROME2", 8, generate_instance_uid=False
    )
    region = pydicom.Dataset()
    region.RegionSpatialFormat = 1  # 2-D tissue image
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = size - 1, size - 1
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX = region.PhysicalDeltaY = centimetres
    region.TransducerFrequency = round(FREQUENCY_MHZ * 1000)  # kHz
    ds.SequenceOfUltrasoundRegions = pydicom.Sequence([region])


_IMAGE_WRITERS = {"MRI": _mr_image, "CT": _ct_image, "US": _us_image}
_SOP_CLASSES = {
    "MRI": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "US": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
}
