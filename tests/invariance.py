"""Which pixels a change of stage may touch, and how many others changed.

Two renderings of one patient at different stages may differ only where disease acts:
the stage-dependent labels (``label_ids.STAGE_DEPENDENT_IDS``) of either rendering,
spread by the point-spread function (MRI, CT), or, in ultrasound, everything deeper along a
scan line than a stage-dependent sample, spread by the point-spread function. Masks
are built at the rendering size (supersampled below 96 pixels) and reduced to the
output size: an output pixel may change if any sample of its block may.
"""

from __future__ import annotations

import numpy as np

from generator import ct, mri
from generator.label_ids import STAGE_DEPENDENT_IDS
from generator.modality import Scene
from generator.noise import blur_taps
from generator.patient import Patient, supersampling
from generator.random_streams import StreamFamily
from generator.rasterise import axial_label_map
from generator.ultrasound import beam_labels, beam_points, fan_geometry, psf_sigmas


def _axial_reach(modality: str, size: int) -> tuple[int, int]:
    """(rows, columns) a pixel's change spreads at rendering ``size``: the reach of the
    CT's blur or of the MRI's point-spread function (its ghosts copy only the wall)."""
    if modality == "CT":
        reach = _reach(ct.BLUR_SD * size) if ct.BLUR_SD * size >= 0.3 else 0
        return reach, reach
    taps_y, taps_x = mri.psf_taps(size)
    return taps_y.size // 2, taps_x.size // 2


def _stage_dependent(labels: np.ndarray) -> np.ndarray:
    return np.isin(labels, STAGE_DEPENDENT_IDS)


def _dilate(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``mask`` grown by a box of ``rows`` x ``cols`` pixels each side."""
    out = mask.copy()
    for step in range(1, rows + 1):
        out[step:] |= mask[:-step]
        out[:-step] |= mask[step:]
    grown = out.copy()
    for step in range(1, cols + 1):
        grown[:, step:] |= out[:, :-step]
        grown[:, :-step] |= out[:, step:]
    return grown


def _reach(sigma: float) -> int:
    """Half-width in pixels of the blur taps ``separable_blur`` uses for ``sigma``."""
    return blur_taps(sigma).size // 2


def _to_output(mask: np.ndarray, output_size: int) -> np.ndarray:
    factor = mask.shape[0] // output_size
    return mask.reshape(output_size, factor, output_size, factor).any(axis=(1, 3))


def may_change(first: Patient, second: Patient, modality: str, output_size: int) -> np.ndarray:
    """Bool (S, S): output pixels of ``modality`` that disease may change between the two."""
    size = output_size * supersampling(output_size)
    if modality in ("MRI", "CT"):
        touched = _stage_dependent(axial_label_map(first.anatomy, size))
        touched |= _stage_dependent(axial_label_map(second.anatomy, size))
        rows, cols = _axial_reach(modality, size)
        return _to_output(_dilate(touched, rows, cols), output_size)
    geometry = fan_geometry(size)
    touched = np.zeros((size, size), dtype=bool)
    for patient in (first, second):
        x, y = beam_points(patient.parameters["US"].probe, geometry)
        scene = Scene(patient.anatomy, size, StreamFamily(0, 0, "anatomy"))  # labels only
        touched |= _stage_dependent(beam_labels(scene, x, y))
    # The echoes spread by the point-spread function; the round-trip loss changes
    # everything deeper along the same scan line (rows are depths, columns lines).
    sigma_axial, sigma_lateral = psf_sigmas(size)
    beam = _dilate(touched, _reach(sigma_axial), _reach(sigma_lateral))
    beam |= np.logical_or.accumulate(touched, axis=0)
    display = np.zeros((size, size), dtype=bool)
    display[geometry.inside] = beam.ravel()[geometry.source]
    return _to_output(display, output_size)


def changed_outside_disease(first: Patient, second: Patient) -> dict[str, dict[str, int]]:
    """Per modality: label-map and image pixels that changed where disease may not act,
    and how many pixels were checked."""
    size = first.images["MRI"].shape[0]
    out = {}
    for modality in first.images:
        labels_a, labels_b = first.label_maps[modality], second.label_maps[modality]
        fixed = ~(_stage_dependent(labels_a) | _stage_dependent(labels_b))
        unaffected = ~may_change(first, second, modality, size)
        image_a, image_b = first.images[modality], second.images[modality]
        out[modality] = {
            "label_pixels_checked": int(fixed.sum()),
            "label_pixels_changed": int(np.count_nonzero((labels_a != labels_b) & fixed)),
            "image_pixels_checked": int(unaffected.sum()),
            "image_pixels_changed": int(np.count_nonzero((image_a != image_b) & unaffected)),
        }
    return out
