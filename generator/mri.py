"""T2-weighted MRI: relative T2 signal per tissue, coil bias field and Rician noise.

Physics (REFERENCE.md, "Physical values"): on a T2-weighted image fluid >> fat ~ spleen >
liver > muscle (T2 at 3 T: liver 34, muscle 29, spleen 61, fat 68, kidney 76 ms;
de Bazelaire, Radiology 2004); flowing blood is a signal void. The receive coil's
sensitivity multiplies the image by a smooth bias field (exp of a quadratic polynomial,
as TorchIO models it). The magnitude image of complex Gaussian noise is Rician:
Rayleigh in the dark background (Gudbjartsson & Patz, MRM 1995).

Seed trends (the published contract): liver signal rises with fibrosis severity; bright
nodules from F2 on (none in F0-F1), denser with severity. Lace-like, mildly T2-bright
fibrous reticulation grows in advanced fibrosis. The liver reads the patient's severity
through this modality's own noisy read-out (``READOUT_SD``), drawn from the MRI stream.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from generator import anatomy as A
from generator.anatomy import Anatomy, liver_points
from generator.cohort import PatientLabels
from generator.noise import correlated_field, separable_blur
from generator.stamps import stamp_disc

# Relative T2-weighted signal per label (before bias field and noise; 1.0 = full scale).
TISSUE_SIGNAL = {
    A.BACKGROUND: 0.0,
    A.LIVER: 0.30,
    A.SUBCUTANEOUS_FAT: 0.66,
    A.MUSCLE: 0.16,
    A.VISCERA: 0.62,  # mesenteric fat; bowel loops darken it (VISCERA_MIX)
    A.BOWEL_GAS: 0.02,
    A.VERTEBRA: 0.36,  # marrow (T2 49 ms) in a dark cortex
    A.SPINAL_CANAL: 0.92,  # cerebrospinal fluid
    A.AORTA: 0.04,  # flow void
    A.IVC: 0.08,  # flow void
    A.KIDNEY: 0.58,
    A.SPLEEN: 0.56,
    A.DIAPHRAGM: 0.15,
    A.ASCITES: 0.90,
    A.HEPATIC_VESSEL: 0.06,  # flow void
    A.GALLBLADDER: 0.90,  # bile
    A.RIB: 0.12,  # cortical bone, little marrow at this resolution
}
#: Liver signal gained per unit of read-out severity (F0 median -> F4 median).
LIVER_SIGNAL_PER_SEVERITY = 0.13
#: SD of the MRI's own read-out of severity (severity units), independent of the other
#: modalities' read-outs, so that fusing modalities helps. Calibrated so that the
#: baselines' single-modality binary AUROC sits in the published 0.75-0.92 range while
#: the seed trends (tests/test_trends.py) still hold.
READOUT_SD = 0.50
#: Bowel loops' signal below the mesenteric fat, and the loops' size (wavelength, FOV).
VISCERA_MIX, BOWEL_WAVELENGTH = 0.26, 0.08
#: Multiplicative tissue texture SD (correlation length 1 % of the field of view).
TISSUE_TEXTURE_SD = 0.03
#: Reticulation: peak added signal at full effect, onset and span in severity.
RETICULATION_PEAK, RETICULATION_ONSET, RETICULATION_SPAN = 0.03, 0.55, 0.55
#: Nodules (F2-F4 only): Poisson mean count = NODULE_BASE + NODULE_PER_SEVERITY * s^1.5.
NODULE_STAGES = frozenset({"F2", "F3", "F4"})
NODULE_BASE, NODULE_PER_SEVERITY = 0.3, 6.0
NODULE_RADIUS = 0.012  # field-of-view fractions (about 4 mm)
NODULE_RADIUS_PER_SEVERITY = 0.002
NODULE_CONTRAST, NODULE_CONTRAST_PER_SEVERITY = 0.11, 0.03
#: Coil bias field: SD of the quadratic polynomial's coefficients (log scale).
BIAS_COEFFICIENT_SD = 0.2
#: Noise SD per channel of the complex signal (Rayleigh background).
NOISE_SD = 0.025
#: Partial-volume blur, field-of-view fractions.
BLUR_SD = 0.0025


@dataclasses.dataclass(frozen=True)
class MriParameters:
    """A patient's MRI parameters (sampled from the MRI stream)."""

    liver_signal: float
    reticulation: float  # peak added signal of the fibrous lace
    nodules: tuple[tuple[float, float, float], ...]  # (x, y, radius), FOV fractions
    nodule_contrast: float  # signal added at a nodule's centre
    bias: tuple[float, float, float, float, float]  # x, y, x^2, y^2, xy coefficients


def sample_mri_parameters(
    labels: PatientLabels, anatomy: Anatomy, rng: np.random.Generator
) -> MriParameters:
    """Draw the patient's MRI read-out of severity, nodules and bias field."""
    readout = labels.severity + READOUT_SD * rng.standard_normal()
    severity = max(readout, 0.0)  # the MRI's own read-out drives its findings
    t = max(readout - RETICULATION_ONSET, 0.0) / RETICULATION_SPAN
    nodules: tuple[tuple[float, float, float], ...] = ()
    if labels.fibrosis_stage in NODULE_STAGES:
        count = int(rng.poisson(NODULE_BASE + NODULE_PER_SEVERITY * severity**1.5))
        radius = NODULE_RADIUS + NODULE_RADIUS_PER_SEVERITY * severity
        points = liver_points(anatomy, count, rng, depth=0.75)
        radii = radius * rng.uniform(0.75, 1.25, size=count)
        nodules = tuple(
            (float(x), float(y), float(r)) for (x, y), r in zip(points, radii, strict=True)
        )
    bias = tuple(float(c) for c in BIAS_COEFFICIENT_SD * rng.standard_normal(5))
    return MriParameters(
        liver_signal=TISSUE_SIGNAL[A.LIVER] + LIVER_SIGNAL_PER_SEVERITY * readout,
        reticulation=RETICULATION_PEAK * min(t, 1.0) ** 1.5,
        nodules=nodules,
        nodule_contrast=NODULE_CONTRAST + NODULE_CONTRAST_PER_SEVERITY * severity,
        bias=bias,  # type: ignore[arg-type]
    )


def _signal_table(liver_signal: float) -> np.ndarray:
    table = A.label_table(TISSUE_SIGNAL)
    table[A.LIVER] = liver_signal
    return table


def bias_field(coefficients: tuple[float, ...], size: int) -> np.ndarray:
    """exp of a quadratic polynomial over the field of view: float32 (size, size), ~1."""
    y, x = A.pixel_grid(size)
    xc, yc = x - np.float32(0.5), y - np.float32(0.5)
    cx, cy, cxx, cyy, cxy = (np.float32(c) for c in coefficients)
    return np.exp(
        cx * xc + cy * yc + cxx * (xc * xc - 1 / 12) + cyy * (yc * yc - 1 / 12) + cxy * xc * yc
    )


def render_mri(
    labels: PatientLabels,
    anatomy: Anatomy,
    axial_labels: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Render the T2-weighted slice of ``anatomy`` (axial label map ``axial_labels``).

    Returns
    -------
    image : float32 (S, S) in [0, 1], magnitude signal (1.0 = full scale)
    label_map : uint8 (S, S), the axial ids plus ``NODULE`` for the nodules
    """
    params = sample_mri_parameters(labels, anatomy, rng)
    return _render(params, axial_labels, rng)


def _render(
    params: MriParameters, axial_labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    size = axial_labels.shape[0]
    label_map = axial_labels.copy()
    signal = _signal_table(params.liver_signal)[label_map]
    texture = correlated_field(rng, size, "gaussian", 0.01)
    liver = label_map == A.LIVER
    signal *= 1.0 + np.float32(TISSUE_TEXTURE_SD) * texture
    viscera = label_map == A.VISCERA
    loops = correlated_field(rng, size, "bandpass", BOWEL_WAVELENGTH, 0.8)[viscera]
    signal[viscera] -= np.float32(VISCERA_MIX) / (1.0 + np.exp(3.0 - 4.0 * loops))
    if params.reticulation > 0.0:
        lace = correlated_field(rng, size, "bandpass", 0.035, 0.35)
        ridges = np.exp(-((lace * np.float32(2.5)) ** 2))
        signal[liver] += np.float32(params.reticulation) * ridges[liver]
    for x, y, radius in params.nodules:
        stamp_disc(
            signal,
            (x, y),
            radius,
            params.nodule_contrast,
            label_map=label_map,
            label=A.NODULE,
            inside=(A.LIVER, A.NODULE),
        )
    blur = BLUR_SD * size
    if blur >= 0.3:
        signal = separable_blur(signal, blur, blur)
    signal *= bias_field(params.bias, size)
    noise = rng.standard_normal((2, size, size), dtype=np.float32) * np.float32(NOISE_SD)
    image = np.hypot(signal + noise[0], noise[1])
    return np.clip(image, 0.0, 1.0, out=image), label_map
