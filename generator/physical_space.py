"""Images in physical space: pixel spacing in mm and the pixel-to-patient affine.

One definition of where every pixel lies, read by the DICOM and NIfTI exports.

Patient coordinates are DICOM's LPS, in mm: +x toward the patient's left, +y posterior,
+z superior (head), with the origin at the centre of the axial field of view. The
generator renders one axial slice at z = 0:

- MRI and CT (the axial geometry, ``generator.geometry``): a square field of view of
  ``AXIAL_FOV_MM`` (360 mm) at every image size, in the radiological layout: column 0
  is the patient's right, row 0 anterior; spacing ``360 / S`` mm.
- Ultrasound: the probe's display (``generator.ultrasound``), a square of
  ``DISPLAY_SCALE`` axial fields of view (168.75 mm) with the virtual apex above the
  top edge, scan lines fanning downward; spacing ``168.75 / S`` mm. The display cuts
  the same axial slice, turned to the probe's beam and mirrored (see
  :func:`pixel_to_patient`), so its affine is the probe's pose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from generator import ultrasound
from generator.geometry import FOV_MM
from generator.modalities import MODALITIES, MODALITY_TITLES
from generator.patient import Patient

#: Side of the axial field of view, mm (``geometry.FOV_MM`` is its one definition).
AXIAL_FOV_MM = FOV_MM
#: Side of each modality's displayed square, mm.
DISPLAY_SIDE_MM = {
    "MRI": AXIAL_FOV_MM,
    "CT": AXIAL_FOV_MM,
    "US": ultrasound.DISPLAY_SCALE * AXIAL_FOV_MM,
}
#: Nominal thickness of the imaged slice, mm: the generator renders a plane; this is
#: the thickness a clinical abdominal protocol would give it (DICOM SliceThickness,
#: the NIfTI voxel's third dimension).
SLICE_THICKNESS_MM = 5.0
#: Image sizes of the card's spacing table.
SPACING_TABLE_SIZES = (32, 64, 128, 224, 256, 512, 1024)


def pixel_spacing_mm(modality: str, image_size: int) -> float:
    """Side of one (square) pixel of ``modality`` at ``image_size`` pixels, in mm.

    Raise ``ValueError`` for an unknown modality or a size below 1.
    """
    if modality not in DISPLAY_SIDE_MM:
        raise ValueError(f"`modality` must be one of {', '.join(DISPLAY_SIDE_MM)}, got {modality=}")
    if image_size < 1:
        raise ValueError(f"`image_size` must be >= 1, got {image_size=}")
    return DISPLAY_SIDE_MM[modality] / image_size


def pixel_spacings_mm(image_size: int) -> dict[str, float]:
    """Pixel spacing (mm) of every modality at ``image_size``, in registry order."""
    return {modality: pixel_spacing_mm(modality, image_size) for modality in MODALITIES}


def spacing_table_markdown(sizes: Sequence[int] = SPACING_TABLE_SIZES) -> str:
    """A markdown table of mm per pixel: one row per image size, one column per modality."""
    titles = [MODALITY_TITLES[modality] for modality in MODALITIES]
    lines = [
        "| image size (px) | " + " | ".join(f"{title} mm/px" for title in titles) + " |",
        "|---:|" + "---:|" * len(titles),
    ]
    for size in sizes:
        spacings = pixel_spacings_mm(size).values()
        lines.append(f"| {size} | " + " | ".join(f"{value:.3f}" for value in spacings) + " |")
    return "\n".join(lines) + "\n"


def pixel_to_patient(patient: Patient, modality: str) -> np.ndarray:
    """The affine from pixel indices to patient coordinates of ``patient``'s ``modality``.

    Parameters
    ----------
    patient : Patient
        Its image size is read from ``patient.images``; the ultrasound pose from
        ``patient.parameters["US"].probe``.
    modality : str
        ``"MRI"``, ``"CT"`` or ``"US"``.

    Returns
    -------
    ndarray of float64, shape (4, 4): maps ``(column, row, 0, 1)`` (the centre of pixel
    ``image[row, column]``) to ``(x, y, z, 1)`` in LPS mm. Its first two columns are the
    directions of increasing column and row, each ``pixel_spacing_mm`` long; the third
    is +z, ``SLICE_THICKNESS_MM`` long.
    """
    size = patient.images[modality].shape[0]
    spacing = pixel_spacing_mm(modality, size)
    affine = np.eye(4)
    affine[2, 2] = SLICE_THICKNESS_MM
    if modality == "US":
        # Display point (u, v) (image units, x right, y down) -> axial FOV fractions:
        # apex + DISPLAY_SCALE * M (u - 1/2, v - DISPLAY_APEX_Y), where M sends the
        # display's +y (the central scan line) along the beam and its +x (growing scan
        # line angle) to the beam turned +90 degrees (``ultrasound.beam_points``): a
        # rotation composed with a mirror, det M = -1.
        probe = patient.parameters["US"].probe
        cos, sin = math.cos(probe.beam_angle), math.sin(probe.beam_angle)
        mirror_rotation = np.array([[-sin, cos], [cos, sin]])
        offset = np.array([0.5 / size - 0.5, 0.5 / size - ultrasound.DISPLAY_APEX_Y])
        apex = np.array([probe.apex_x, probe.apex_y])
        scale = ultrasound.DISPLAY_SCALE * AXIAL_FOV_MM
        affine[:2, :2] = mirror_rotation * spacing
        affine[:2, 3] = (apex - 0.5) * AXIAL_FOV_MM + scale * (mirror_rotation @ offset)
    else:
        affine[0, 0] = affine[1, 1] = spacing
        affine[:2, 3] = 0.5 * spacing - 0.5 * AXIAL_FOV_MM
    return affine
