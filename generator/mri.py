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
through this modality's own noisy read-out (``READOUT_SD``).

Streams (family ``MRI``): ``acquisition`` (read-out, bias field), ``nodules``,
``fields`` (tissue texture, bowel loops, complex noise: fixed draws at every stage) and
``reticulation``; so the noise of every pixel that disease does not touch is the same
at every stage.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from generator import label_ids as L
from generator.anatomy import Anatomy
from generator.cohort import PatientLabels
from generator.findings import Finding, sample_findings
from generator.geometry import pixel_grid
from generator.modality import Modality, Rendering, Scene
from generator.noise import correlated_field, separable_blur
from generator.random_streams import StreamFamily
from generator.rasterise import label_table
from generator.stamps import stamp_disc

# Relative T2-weighted signal per label (before bias field and noise; 1.0 = full scale).
TISSUE_SIGNAL = {
    L.BACKGROUND: 0.0,
    L.LIVER: 0.30,
    L.SUBCUTANEOUS_FAT: 0.66,
    L.MUSCLE: 0.16,
    L.VISCERA: 0.62,  # mesenteric fat; bowel loops darken it (VISCERA_MIX)
    L.BOWEL_GAS: 0.02,
    L.VERTEBRA: 0.36,  # marrow (T2 49 ms) in a dark cortex
    L.SPINAL_CANAL: 0.92,  # cerebrospinal fluid
    L.AORTA: 0.04,  # flow void
    L.IVC: 0.08,  # flow void
    L.KIDNEY: 0.58,
    L.SPLEEN: 0.56,
    L.DIAPHRAGM: 0.15,
    L.ASCITES: 0.90,
    L.HEPATIC_VESSEL: 0.06,  # flow void
    L.NODULE: 0.30,  # liver; the nodule's contrast is stamped on top
    L.SPOT: 0.30,  # CT's finding: liver, were it ever in an MRI map
    L.REFLECTION: 0.30,  # ultrasound's finding: liver likewise
    L.RIB: 0.12,  # cortical bone, little marrow at this resolution
    L.GALLBLADDER: 0.90,  # bile
}
_SIGNAL_TABLE = label_table(TISSUE_SIGNAL)
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
    """A patient's MRI parameters (drawn from the ``MRI`` stream family)."""

    liver_signal: float
    reticulation: float  # peak added signal of the fibrous lace
    nodules: tuple[Finding, ...]  # (x, y, radius), FOV fractions
    nodule_contrast: float  # signal added at a nodule's centre
    bias: tuple[float, float, float, float, float]  # x, y, x^2, y^2, xy coefficients
    noise: StreamFamily  # where the render draws its texture and noise


def sample_mri_parameters(
    labels: PatientLabels, anatomy: Anatomy, streams: StreamFamily
) -> MriParameters:
    """Draw the patient's MRI read-out of severity, nodules and bias field."""
    acquisition = streams.rng("acquisition")
    readout = labels.severity + READOUT_SD * acquisition.standard_normal()
    bias = tuple(float(c) for c in BIAS_COEFFICIENT_SD * acquisition.standard_normal(5))
    severity = max(readout, 0.0)  # the MRI's own read-out drives its findings
    t = max(readout - RETICULATION_ONSET, 0.0) / RETICULATION_SPAN
    shown = labels.fibrosis_stage in NODULE_STAGES
    nodules = sample_findings(
        streams.rng("nodules"),
        anatomy.liver,
        NODULE_BASE + NODULE_PER_SEVERITY * severity**1.5 if shown else 0.0,
        NODULE_RADIUS + NODULE_RADIUS_PER_SEVERITY * severity,
        (0.75, 1.25),
        depth=0.75,
    )
    return MriParameters(
        liver_signal=TISSUE_SIGNAL[L.LIVER] + LIVER_SIGNAL_PER_SEVERITY * readout,
        reticulation=RETICULATION_PEAK * min(t, 1.0) ** 1.5,
        nodules=nodules,
        nodule_contrast=NODULE_CONTRAST + NODULE_CONTRAST_PER_SEVERITY * severity,
        bias=bias,  # type: ignore[arg-type]
        noise=streams,
    )


def bias_field(coefficients: tuple[float, ...], size: int) -> np.ndarray:
    """exp of a quadratic polynomial over the field of view: float32 (size, size), ~1."""
    y, x = pixel_grid(size)
    xc, yc = x - np.float32(0.5), y - np.float32(0.5)
    cx, cy, cxx, cyy, cxy = (np.float32(c) for c in coefficients)
    return np.exp(
        cx * xc + cy * yc + cxx * (xc * xc - 1 / 12) + cyy * (yc * yc - 1 / 12) + cxy * xc * yc
    )


def render_mri(params: MriParameters, scene: Scene) -> Rendering:
    """Render the T2-weighted slice.

    Returns a ``Rendering`` of: image, float32 (S, S) in [0, 1], magnitude signal (1.0 =
    full scale, arbitrary units); label_map, uint8 (S, S), the axial ids plus ``NODULE``.
    """
    size = scene.size
    label_map = scene.axial_labels.copy()
    table = _SIGNAL_TABLE.copy()
    table[L.LIVER] = params.liver_signal
    signal = table[label_map]
    fields = params.noise.rng("fields")
    texture = correlated_field(fields, size, "gaussian", 0.01)
    loops = correlated_field(fields, size, "bandpass", BOWEL_WAVELENGTH, 0.8)
    noise = fields.standard_normal((2, size, size), dtype=np.float32) * np.float32(NOISE_SD)
    liver = label_map == L.LIVER
    signal *= 1.0 + np.float32(TISSUE_TEXTURE_SD) * texture
    viscera = label_map == L.VISCERA
    signal[viscera] -= np.float32(VISCERA_MIX) / (1.0 + np.exp(3.0 - 4.0 * loops[viscera]))
    if params.reticulation > 0.0:
        lace = correlated_field(params.noise.rng("reticulation"), size, "bandpass", 0.035, 0.35)
        ridges = np.exp(-((lace[liver] * np.float32(2.5)) ** 2))
        signal[liver] += np.float32(params.reticulation) * ridges
    for x, y, radius in params.nodules:
        stamp_disc(
            signal,
            (x, y),
            radius,
            params.nodule_contrast,
            label_map=label_map,
            label=L.NODULE,
            inside=(L.LIVER, L.NODULE),
        )
    blur = BLUR_SD * size
    if blur >= 0.3:
        signal = separable_blur(signal, blur, blur)
    signal *= bias_field(params.bias, size)
    image = np.hypot(signal + noise[0], noise[1])
    return Rendering(np.clip(image, 0.0, 1.0, out=image), label_map)


MODALITY = Modality(
    name="MRI",
    column="mri",
    title="MRI (T2w)",
    tissue_tables={"signal": TISSUE_SIGNAL},
    sample=sample_mri_parameters,
    render=render_mri,
)
