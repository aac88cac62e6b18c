"""T2-weighted MRI: T2 signal per tissue, k-space truncation, receive array, Rician noise.

Physics (REFERENCE.md, "Physical values"; ANATOMY.md 4.1): on a T2-weighted FSE image
fluid >> fat ~ kidney > spleen > liver > muscle, with the signal ratios to liver of
``TISSUE_SIGNAL``; flowing blood is a signal void. Tissues carry the scene's textures
(``modality.TissueFields``): parenchyma, fat septa, bowel loops, stool, marrow inside
a dark vertebral cortex. The scanner keeps k-space up to its acquired resolution
(phase encoding along y, coarser than the read-out along x), so sharp edges ring
(Gibbs); breathing moves the anterior wall, which leaves faint ghosts along the
phase-encode axis. A receive array's sensitivity after prescan normalisation and a
smooth bias field (exp of a quadratic polynomial, as TorchIO models it) multiply the
image. The magnitude image of complex Gaussian noise is Rician: Rayleigh in the dark
background (Gudbjartsson & Patz, MRM 1995).

Seed trends (the published contract): liver signal rises with fibrosis severity; bright
nodules from F2 on (none in F0-F1), denser with severity. Lace-like, mildly T2-bright
fibrous reticulation grows in advanced fibrosis. The liver reads the patient's severity
through this modality's own noisy read-out (``READOUT_SD``).

Streams (family ``MRI``): ``acquisition`` (read-out, bias field, ghosts, coil
positions), ``nodules``, ``fields`` (complex noise: fixed draws at every stage) and
``reticulation``; so the noise of every pixel that disease does not touch is the same
at every stage.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from generator import label_ids as L
from generator.anatomy import Anatomy
from generator.cohort import PatientLabels
from generator.findings import Finding, sample_findings
from generator.geometry import FOV_MM, Ellipse, membership, pixel_grid
from generator.modality import Modality, Rendering, Scene, septa_ridges
from generator.noise import correlated_field, separable_filter
from generator.random_streams import StreamFamily
from generator.rasterise import label_table, vertebral_body_pixels
from generator.stamps import stamp_disc

# Relative T2-weighted signal per label (before coil sensitivity and noise; 1.0 = full
# scale). Ratios to the F0 liver follow FSE at TE 80-100 ms (ANATOMY.md 4.1): spleen 2.6-3.4,
# kidney 3.5-4.8, fat 3.3-4.5, muscle 0.6-0.66, bile 8.6-15, CSF 5.2-9.3.
TISSUE_SIGNAL = {
    L.BACKGROUND: 0.0,
    L.LIVER: 0.10,
    L.SUBCUTANEOUS_FAT: 0.38,
    L.MUSCLE: 0.059,
    L.VISCERA: 0.36,  # mesenteric fat; bowel loops darken it (VISCERA_MIX)
    L.BOWEL_GAS: 0.004,
    L.VERTEBRA: 0.22,  # fatty marrow (T2 49 ms); the cortex is dark (CORTEX_SIGNAL)
    L.SPINAL_CANAL: 0.70,  # cerebrospinal fluid
    L.AORTA: 0.012,  # flow void
    L.IVC: 0.025,  # flow void
    L.KIDNEY: 0.40,
    L.SPLEEN: 0.29,
    L.DIAPHRAGM: 0.055,
    L.ASCITES: 0.90,
    L.HEPATIC_VESSEL: 0.018,  # flow void
    L.NODULE: 0.10,  # liver; the nodule's contrast is stamped on top
    L.SPOT: 0.10,  # CT's finding: liver, were it ever in an MRI map
    L.REFLECTION: 0.10,  # ultrasound's finding: liver likewise
    L.RIB: 0.05,  # cortical bone around a little fatty marrow
    L.GALLBLADDER: 0.95,  # bile
    L.STOMACH_WALL: 0.075,
    L.STOMACH_CONTENT: 0.80,  # gastric fluid
    L.COLON: 0.12,  # wall and stool; mottled by the bowel texture
    L.LUNG: 0.008,  # air and a little lung parenchyma
    L.CRUS: 0.055,
    L.COSTAL_CARTILAGE: 0.07,
    L.ADRENAL: 0.11,
    L.PANCREAS: 0.13,
}
_SIGNAL_TABLE = label_table(TISSUE_SIGNAL)
#: Liver signal gained per unit of read-out severity (F0 median -> F4 median).
LIVER_SIGNAL_PER_SEVERITY = 0.043
#: SD of the MRI's own read-out of severity (severity units), independent of the other
#: modalities' read-outs, so that fusing modalities helps. Calibrated so that the
#: baselines' single-modality binary AUROC sits in the published 0.75-0.92 range while
#: the seed trends (tests/test_trends.py) still hold.
READOUT_SD = 0.50
#: Bowel loops' signal below the mesenteric fat (the scene's bowel field).
VISCERA_MIX = 0.09
#: Reticulation: peak added signal at full effect, onset and span in severity.
RETICULATION_PEAK, RETICULATION_ONSET, RETICULATION_SPAN = 0.01, 0.55, 0.55
#: Nodules (F2-F4 only): Poisson mean count = NODULE_BASE + NODULE_PER_SEVERITY * s^1.5.
NODULE_STAGES = frozenset({"F2", "F3", "F4"})
NODULE_BASE, NODULE_PER_SEVERITY = 0.3, 6.0
NODULE_RADIUS = 0.012  # field-of-view fractions (about 4 mm)
NODULE_RADIUS_PER_SEVERITY = 0.002
NODULE_CONTRAST, NODULE_CONTRAST_PER_SEVERITY = 0.055, 0.012
#: Coil bias field: SD of the quadratic polynomial's coefficients (log scale).
BIAS_COEFFICIENT_SD = 0.2
#: Noise SD per channel of the complex signal (Rayleigh background).
NOISE_SD = 0.008
#: Multiplicative parenchymal texture SD per tissue (the scene's texture field); others 0.
TEXTURE_SD = {L.LIVER: 0.03, L.SPLEEN: 0.03, L.KIDNEY: 0.05, L.MUSCLE: 0.06, L.VERTEBRA: 0.12}
#: Fibrous septa of fat: relative signal lost on a septum.
SEPTA_DEPTH = 0.15
#: Stool's multiplicative mottling (log scale, the scene's bowel field).
STOOL_MOTTLING = 0.5
#: Dark cortical shell of the vertebral body: its signal and its share of the radius.
CORTEX_SIGNAL, CORTEX_FRACTION = 0.03, 0.14
#: Acquired resolution, mm: phase encoding (image y, anterior-posterior) and read-out
#: (x). k-space is kept up to 1 / (2 * resolution) with a short cosine taper
#: (``KSPACE_TAPER`` of that width): Gibbs ringing at sharp edges, partial volume. Its
#: point-spread function is computed on PSF_GRID samples and kept to PSF_REACH pixels.
PHASE_RESOLUTION_MM, READOUT_RESOLUTION_MM, KSPACE_TAPER = 1.9, 1.3, 0.12
PSF_GRID, PSF_REACH = 256, 4
#: Respiratory ghosts of the anterior abdominal wall along the phase-encode direction:
#: their relative amplitude is GHOST_MAX * u^2 (u uniform), at a spacing of
#: GHOST_SPACING of the field of view.
GHOST_MAX, GHOST_SPACING = 0.04, (0.15, 0.35)
#: Receive array: COILS_PER_SIDE elements in front of and behind the body, each a
#: Gaussian sensitivity of SD COIL_WIDTH (FOV fractions), combined as a root sum of
#: squares; prescan normalisation leaves COIL_RESIDUAL of the profile (log scale).
COILS_PER_SIDE, COIL_WIDTH, COIL_RESIDUAL = 4, 0.3, 0.3
_TEXTURE_TABLE = label_table({**dict.fromkeys(L.LABEL_NAMES, 0.0), **TEXTURE_SD})
_FAT = membership(frozenset({L.SUBCUTANEOUS_FAT, L.VISCERA}))
#: What breathing moves most, in front of the body's centre: the abdominal wall.
_MOVING = membership(frozenset({L.SUBCUTANEOUS_FAT, L.MUSCLE}))


@dataclasses.dataclass(frozen=True)
class MriParameters:
    """A patient's MRI parameters (drawn from the ``MRI`` stream family)."""

    liver_signal: float
    reticulation: float  # peak added signal of the fibrous lace
    nodules: tuple[Finding, ...]  # (x, y, radius), FOV fractions
    nodule_contrast: float  # signal added at a nodule's centre
    bias: tuple[float, float, float, float, float]  # x, y, x^2, y^2, xy coefficients
    coils: tuple[tuple[float, float], ...]  # receive elements' centres, FOV fractions
    body_center: tuple[float, float]  # where the normalised sensitivity is 1
    ghost_amplitude: float  # relative amplitude of each respiratory ghost
    ghost_spacing: float  # FOV fractions along the phase-encode direction (y)
    vertebra: Ellipse  # the vertebral body, whose cortex is dark
    noise: StreamFamily  # where the render draws its noise


def sample_mri_parameters(
    labels: PatientLabels, anatomy: Anatomy, streams: StreamFamily
) -> MriParameters:
    """Draw the patient's MRI read-out of severity, nodules and bias field."""
    acquisition = streams.rng("acquisition")
    readout = labels.severity + READOUT_SD * acquisition.standard_normal()
    bias = tuple(float(c) for c in BIAS_COEFFICIENT_SD * acquisition.standard_normal(5))
    ghost_amplitude = GHOST_MAX * acquisition.uniform() ** 2
    ghost_spacing = acquisition.uniform(*GHOST_SPACING)
    body = anatomy.body
    spread = acquisition.uniform(-0.02, 0.02, size=(2 * COILS_PER_SIDE, 2))
    coils = []
    for k, (side, y) in enumerate(
        (side, y)
        for side, y in (
            (-1.0, body.center[1] - body.semi_y_anterior),
            (1.0, body.center[1] + body.semi_y_posterior),
        )
        for _ in range(COILS_PER_SIDE)
    ):
        column = k % COILS_PER_SIDE
        x = body.center[0] + body.semi_x * (2.0 * (column + 0.5) / COILS_PER_SIDE - 1.0) * 0.8
        coils.append((float(x + spread[k, 0]), float(y + side * 0.03 + spread[k, 1])))
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
        coils=tuple(coils),
        body_center=body.center,
        ghost_amplitude=ghost_amplitude,
        ghost_spacing=ghost_spacing,
        vertebra=anatomy.spine.vertebral_body,
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


def coil_sensitivity(
    coils: tuple[tuple[float, float], ...], center: tuple[float, float], size: int
) -> np.ndarray:
    """The receive array's residual sensitivity after prescan normalisation: float32
    (size, size), 1 at ``center`` (the body's centre, FOV fractions).

    The elements' Gaussian sensitivities are combined as a root sum of squares, and
    normalisation leaves ``COIL_RESIDUAL`` of that profile's log (brighter near the
    coils). Separable, so computed as one (S, N) x (N, S) product.
    """
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    centres = np.asarray(coils, dtype=np.float32)
    inverse = np.float32(-1.0 / (COIL_WIDTH * COIL_WIDTH))  # squared profiles: 2 sigma^2 / 2

    def profiles(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        along_x = np.exp(inverse * (points[None, :] - centres[:, :1]) ** 2)
        along_y = np.exp(inverse * (points[None, :] - centres[:, 1:]) ** 2)
        return along_x, along_y

    along_x, along_y = profiles(axis)
    power = along_y.T @ along_x
    at_x, at_y = profiles(np.asarray(center, dtype=np.float32))
    reference = float(np.sum(at_x[:, 0] * at_y[:, 1]))
    return (power * np.float32(1.0 / reference)) ** np.float32(COIL_RESIDUAL / 2.0)


@functools.lru_cache(maxsize=32)
def _psf_taps(size: int, resolution_mm: float) -> np.ndarray:
    """1-D point-spread function of k-space kept to 1 / (2 * resolution) with a cosine
    taper, on a ``size``-pixel grid: read-only float32 taps (odd, sum 1), truncated at
    ``PSF_REACH`` pixels each side (the side lobes are the Gibbs ringing)."""
    edge = FOV_MM / size / (2.0 * resolution_mm)  # cycles per pixel
    if edge * (1.0 - KSPACE_TAPER) >= 0.5:
        return np.ones(1, dtype=np.float32)  # the grid is coarser than the acquisition
    frequency = np.fft.rfftfreq(PSF_GRID)
    start = edge * (1.0 - KSPACE_TAPER)
    ramp = np.clip((frequency - start) / (edge - start), 0.0, 1.0)
    kernel = np.fft.irfft(0.5 + 0.5 * np.cos(np.pi * ramp), n=PSF_GRID)
    taps = np.concatenate([kernel[-PSF_REACH:], kernel[: PSF_REACH + 1]])
    taps = (taps / taps.sum()).astype(np.float32)
    taps.flags.writeable = False
    return taps


def psf_taps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The acquisition's point-spread taps at ``size`` pixels: (phase encode along y,
    read-out along x)."""
    return _psf_taps(size, PHASE_RESOLUTION_MM), _psf_taps(size, READOUT_RESOLUTION_MM)


def ghost_shift(ghost_spacing: float, size: int) -> int:
    """The respiratory ghosts' offset along y, pixels at ``size``."""
    return max(1, round(ghost_spacing * size))


def acquire(
    signal: np.ndarray, moving: np.ndarray, ghost_amplitude: float, ghost_spacing: float
) -> np.ndarray:
    """The image of ``signal`` (float32 (S, S)) as the scanner reconstructs it.

    The part of it that breathing moves (``moving``, bool (S, S): the anterior wall)
    leaves two ghosts, copies shifted along the phase-encode axis (y, wrapping round the
    field of view as aliasing does) by +- ``ghost_spacing`` (FOV fractions), of relative
    amplitude ``ghost_amplitude``; then the whole is convolved with the point-spread
    function of the truncated k-space (``psf_taps``: Gibbs ringing at sharp edges,
    partial volume).
    """
    size = signal.shape[0]
    if ghost_amplitude > 0.0:
        shift = ghost_shift(ghost_spacing, size)
        wall = np.where(moving, signal, np.float32(0.0))
        ghosts = np.roll(wall, shift, axis=0) + np.roll(wall, -shift, axis=0)
        signal = signal + np.float32(ghost_amplitude) * ghosts
    return separable_filter(signal, *psf_taps(size))


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
    tissue = scene.fields
    signal *= 1.0 + _TEXTURE_TABLE[label_map] * tissue.texture
    fat = _FAT[label_map]
    signal[fat] *= 1.0 - np.float32(SEPTA_DEPTH) * septa_ridges(tissue.septa[fat])
    viscera = label_map == L.VISCERA
    loops = tissue.bowel[viscera]
    signal[viscera] -= np.float32(VISCERA_MIX) / (1.0 + np.exp(3.0 - 4.0 * loops))
    colon = label_map == L.COLON
    signal[colon] *= np.exp(np.float32(STOOL_MOTTLING) * tissue.bowel[colon])
    vertebral_body = vertebral_body_pixels(params.vertebra, label_map, CORTEX_FRACTION)
    if vertebral_body is not None:
        patch, _, cortex = vertebral_body
        signal[patch][cortex] = CORTEX_SIGNAL
    liver = label_map == L.LIVER
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
    rows = np.arange(size)[:, None] < params.body_center[1] * size
    moving = _MOVING[label_map] & rows
    signal = acquire(signal, moving, params.ghost_amplitude, params.ghost_spacing)
    signal *= bias_field(params.bias, size)
    signal *= coil_sensitivity(params.coils, params.body_center, size)
    noise = params.noise.rng("fields").standard_normal((2, size, size), dtype=np.float32)
    noise *= np.float32(NOISE_SD)
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
