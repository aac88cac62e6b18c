"""Unenhanced CT: Hounsfield units per tissue, scanner blur, correlated noise, W400/L40 window.

Physics (REFERENCE.md, "Physical values"): air -1000 HU, fat -50 to -100, water 0,
ascites 0-20, kidney 20-40, muscle 36-47, spleen 35-55, liver 45-65 (unenhanced), blood
45-65, bone 700-3000; lung base -850 to -910 (ANATOMY.md 3.1). Filtered back-projection
noise is about 10 HU SD and spatially correlated: its power spectrum rises with
frequency (ramp filter) and rolls off, peaking near 0.25 cycles/mm for a soft-tissue
kernel (ANATOMY.md 3.2), so it is drawn as filtered, not white, noise, and it grows with
the body's size. Some patients, more of the larger ones, show photon-starvation streaks
through the spine. Tissues carry the scene's textures (``modality.TissueFields``):
parenchyma, fat septa, bowel loops, stool, the vertebral body's trabecular pattern
inside a cortical shell. The abdominal window W400/L40 maps -160..240 HU to [0, 1].

Seed trends (the published contract): liver density rises with fibrosis severity;
high-density spots in F3-F4 only. The liver reads the patient's severity through this
modality's own noisy read-out (``READOUT_SD``).

Streams (family ``CT``): ``acquisition`` (read-out, fat density), ``spots``, ``bone``,
``streaks`` and ``fields`` (scanner noise: fixed draws at every stage).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from generator import label_ids as L
from generator.anatomy import Anatomy
from generator.cohort import PatientLabels
from generator.findings import Finding, sample_findings
from generator.geometry import FOV_MM, Ellipse, membership, mm, pixel_grid
from generator.modality import Modality, Rendering, Scene, septa_ridges
from generator.noise import correlated_field, separable_blur
from generator.random_streams import StreamFamily
from generator.rasterise import label_table, vertebral_body_pixels
from generator.stamps import stamp_disc

WINDOW_WIDTH_HU, WINDOW_LEVEL_HU = 400.0, 40.0

TISSUE_HU = {
    L.BACKGROUND: -1000.0,
    L.LIVER: 55.0,  # F0 median
    L.SUBCUTANEOUS_FAT: -95.0,
    L.MUSCLE: 42.0,
    L.VISCERA: -85.0,  # mesenteric fat; bowel loops raise it (VISCERA_BOWEL_HU)
    L.BOWEL_GAS: -1000.0,
    L.VERTEBRA: 226.0,  # cancellous bone at 25 y (bone_hu: the age model); cortex CORTEX_HU
    L.SPINAL_CANAL: 8.0,
    L.AORTA: 42.0,  # unenhanced blood (ANATOMY.md 3.1: 38-47 HU)
    L.IVC: 40.0,
    L.KIDNEY: 30.0,
    L.SPLEEN: 46.0,
    L.DIAPHRAGM: 40.0,
    L.ASCITES: 10.0,
    L.HEPATIC_VESSEL: 42.0,
    L.NODULE: 55.0,  # MRI's finding: liver, were it ever in a CT map
    L.SPOT: 55.0,  # liver; the spot's contrast is stamped on top
    L.REFLECTION: 55.0,  # ultrasound's finding: liver likewise
    L.RIB: 550.0,  # cortex and marrow averaged over the rib's cross-section
    L.GALLBLADDER: 3.0,  # bile, about water (ANATOMY.md 3.1: 1-5 HU)
    L.STOMACH_WALL: 40.0,
    L.STOMACH_CONTENT: 8.0,  # gastric fluid
    L.COLON: -20.0,  # stool: soft tissue mixed with gas; mottled by the bowel texture
    L.LUNG: -860.0,  # aerated lung base (ANATOMY.md 3.1: -850 to -910 in inspiration)
    L.CRUS: 42.0,
    L.COSTAL_CARTILAGE: 130.0,
    L.ADRENAL: 25.0,
    L.PANCREAS: 42.0,
}
_HU_TABLE = label_table(TISSUE_HU)
CORTEX_HU = 900.0
#: Cortical shell of the vertebral body, as a fraction of its radius.
CORTEX_FRACTION = 0.14
#: The posterior elements (pedicles, laminae, processes): mostly cortex at this size.
POSTERIOR_ELEMENTS_HU = 450.0
#: SD of the trabecular pattern of the vertebral body (the scene's texture field), HU.
TRABECULAR_HU_SD = 45.0
#: Parenchymal texture SD per tissue (the scene's texture field), HU; the liver's own
#: follows severity (LIVER_TEXTURE_HU). Others 0.
TEXTURE_HU = {L.SPLEEN: 2.5, L.KIDNEY: 3.0, L.MUSCLE: 4.0, L.PANCREAS: 6.0}
#: Fibrous septa of fat, HU added on a septum; stool mottling SD, HU.
SEPTA_HU, STOOL_HU_SD = 25.0, 60.0
_TEXTURE_TABLE = label_table({**dict.fromkeys(L.LABEL_NAMES, 0.0), **TEXTURE_HU})
_FAT = membership(frozenset({L.SUBCUTANEOUS_FAT, L.VISCERA}))
#: Liver density gained per unit of read-out severity (seed trend; radiology has none,
#: so it is kept small: the between-patient spread of F0 livers is this times READOUT_SD).
LIVER_HU_PER_SEVERITY = 7.0
#: L1 trabecular bone (ANATOMY.md 3.1, Jang 2019): 226 HU at 25 years, falling 2.5 HU a
#: year, +7.5 HU in women before 50, SD 40 HU between patients; never below 40 HU.
BONE_HU_AT_25, BONE_HU_PER_YEAR, BONE_HU_PREMENOPAUSAL, BONE_HU_SD = 226.0, -2.5, 7.5, 40.0
BONE_HU_MIN = 40.0
#: SD of the CT's own read-out of severity (severity units), independent of the other
#: modalities' read-outs, so that fusing modalities helps. Calibrated so that the
#: baselines' single-modality binary AUROC sits in the published 0.75-0.92 range on
#: every seed of ``benchmarks/calibration.py`` while the seed trends
#: (tests/test_trends.py) still hold.
READOUT_SD = 0.85
#: Per-patient fat density SD, HU.
FAT_HU_SD = 6.0
#: Bowel loops' density above the mesenteric fat (the scene's bowel field), HU.
VISCERA_BOWEL_HU = 110.0
#: Liver heterogeneity SD, HU: base plus growth with severity.
LIVER_TEXTURE_HU, LIVER_TEXTURE_HU_PER_SEVERITY = 2.0, 2.0
#: High-density spots (F3-F4 only): Poisson mean count
#: SPOT_BASE + SPOT_PER_SEVERITY * max(read-out severity - SPOT_ONSET, 0), so some
#: F3-F4 livers have none and spots go with the CT's own read-out: F3-F4 is exactly
#: the binary boundary, so a spot seen in every F3-F4 liver would give the label away.
SPOT_STAGES = frozenset({"F3", "F4"})
SPOT_BASE, SPOT_PER_SEVERITY, SPOT_ONSET = 0.0, 3.0, 0.45
SPOT_RADIUS = 0.010  # field-of-view fractions (about 3.5 mm)
SPOT_CONTRAST_HU = 70.0
#: Noise SD (HU) at an effective body diameter of NOISE_DIAMETER_MM, growing by e per
#: NOISE_GROWTH_MM more (tube-current modulation makes up part of the loss), and the
#: noise power spectrum's peak, cycles/mm (soft-tissue FBP kernel: ANATOMY.md 3.2).
NOISE_SD_HU, NOISE_DIAMETER_MM, NOISE_GROWTH_MM = 10.0, 290.0, 200.0
NOISE_PEAK_PER_MM = 0.25
#: Photon-starvation streaks through the spine, in some patients (more in larger ones):
#: the probability at NOISE_DIAMETER_MM and per mm more, the count, their peak HU,
#: width (mm) and the distance (mm) over which they fade.
STREAK_PROBABILITY, STREAK_PROBABILITY_PER_MM = 0.3, 0.004
STREAK_COUNT, STREAK_HU, STREAK_WIDTH_MM, STREAK_LENGTH_MM = (1, 4), (12.0, 35.0), 1.2, 120.0
#: Scanner blur (point-spread SD), field-of-view fractions.
BLUR_SD = 0.003


@dataclasses.dataclass(frozen=True)
class CtParameters:
    """A patient's CT parameters (drawn from the ``CT`` stream family)."""

    liver_hu: float
    fat_hu: float
    bone_hu: float  # cancellous bone of the vertebral body
    liver_texture_hu: float
    spots: tuple[Finding, ...]  # (x, y, radius), FOV fractions
    vertebral_body: Ellipse  # whose outer shell is painted as cortex
    noise_hu: float  # noise SD, HU
    streaks: tuple[tuple[float, float], ...]  # (angle, radians; signed peak, HU) each
    noise: StreamFamily  # where the render draws its noise


def sample_ct_parameters(
    labels: PatientLabels, anatomy: Anatomy, streams: StreamFamily
) -> CtParameters:
    """Draw the patient's CT read-out of severity, fat density and spots."""
    acquisition = streams.rng("acquisition")
    readout = labels.severity + READOUT_SD * acquisition.standard_normal()
    fat_hu = TISSUE_HU[L.SUBCUTANEOUS_FAT] + FAT_HU_SD * acquisition.standard_normal()
    severity = max(readout, 0.0)  # the CT's own read-out drives its findings
    shown = labels.fibrosis_stage in SPOT_STAGES
    spots = sample_findings(
        streams.rng("spots"),
        anatomy.liver,
        SPOT_BASE + SPOT_PER_SEVERITY * max(severity - SPOT_ONSET, 0.0) if shown else 0.0,
        SPOT_RADIUS,
        (0.8, 1.3),
        depth=0.75,
    )
    bone_hu = BONE_HU_AT_25 + BONE_HU_PER_YEAR * (labels.age - 25)
    if labels.sex == "F" and labels.age < 50:
        bone_hu += BONE_HU_PREMENOPAUSAL
    bone_hu += BONE_HU_SD * streams.rng("bone").standard_normal()
    excess_mm = anatomy.body.effective_diameter_mm - NOISE_DIAMETER_MM
    streak_draws = streams.rng("streaks")
    chance = STREAK_PROBABILITY + STREAK_PROBABILITY_PER_MM * excess_mm
    count = int(streak_draws.integers(STREAK_COUNT[0], STREAK_COUNT[1] + 1))
    streaks = tuple(
        (float(streak_draws.normal(0.0, 0.2)), float((-1) ** k * streak_draws.uniform(*STREAK_HU)))
        for k in range(count)
    )
    return CtParameters(
        liver_hu=TISSUE_HU[L.LIVER] + LIVER_HU_PER_SEVERITY * readout,
        fat_hu=fat_hu,
        bone_hu=max(bone_hu, BONE_HU_MIN),
        liver_texture_hu=LIVER_TEXTURE_HU + LIVER_TEXTURE_HU_PER_SEVERITY * severity,
        spots=spots,
        vertebral_body=anatomy.spine.vertebral_body,
        noise_hu=NOISE_SD_HU * math.exp(excess_mm / NOISE_GROWTH_MM),
        streaks=streaks if streak_draws.uniform() < chance else (),
        noise=streams,
    )


def hounsfield_to_unit(hu: np.ndarray) -> np.ndarray:
    """Map HU through the W400/L40 window to float32 [0, 1] (-160 HU -> 0, 240 HU -> 1)."""
    low = WINDOW_LEVEL_HU - WINDOW_WIDTH_HU / 2
    unit = (hu - np.float32(low)) * np.float32(1.0 / WINDOW_WIDTH_HU)
    return np.clip(unit, 0.0, 1.0).astype(np.float32, copy=False)


def render_ct(params: CtParameters, scene: Scene) -> Rendering:
    """Render the CT slice.

    Returns a ``Rendering`` of: image, float32 (S, S) in [0, 1], the W400/L40 window of
    the HU; label_map, uint8 (S, S), the axial ids plus ``SPOT`` for the spots; physical,
    float32 (S, S) Hounsfield units.
    """
    size = scene.size
    label_map = scene.axial_labels.copy()
    table = _HU_TABLE.copy()
    table[L.LIVER] = params.liver_hu
    table[L.SUBCUTANEOUS_FAT] = params.fat_hu
    table[L.VERTEBRA] = POSTERIOR_ELEMENTS_HU
    # Mesenteric fat keeps its offset from the patient's subcutaneous fat.
    table[L.VISCERA] = params.fat_hu + (TISSUE_HU[L.VISCERA] - TISSUE_HU[L.SUBCUTANEOUS_FAT])
    hu = table[label_map]
    tissue = scene.fields
    texture_table = _TEXTURE_TABLE.copy()
    texture_table[L.LIVER] = params.liver_texture_hu
    hu += texture_table[label_map] * tissue.texture
    fat = _FAT[label_map]
    hu[fat] += np.float32(SEPTA_HU) * septa_ridges(tissue.septa[fat])
    viscera = label_map == L.VISCERA
    bowel = 1.0 / (1.0 + np.exp(3.0 - 4.0 * tissue.bowel[viscera]))
    hu[viscera] += np.float32(VISCERA_BOWEL_HU) * bowel
    colon = label_map == L.COLON
    hu[colon] += np.float32(STOOL_HU_SD) * tissue.bowel[colon]
    vertebral_body = vertebral_body_pixels(params.vertebral_body, label_map, CORTEX_FRACTION)
    if vertebral_body is not None:
        patch, body, cortex = vertebral_body
        trabecular = params.bone_hu + np.float32(TRABECULAR_HU_SD) * tissue.texture[patch]
        hu[patch][body] = trabecular[body]
        hu[patch][cortex] = CORTEX_HU
    for x, y, radius in params.spots:
        stamp_disc(
            hu,
            (x, y),
            radius,
            SPOT_CONTRAST_HU,
            label_map=label_map,
            label=L.SPOT,
            inside=(L.LIVER, L.SPOT),
        )
    blur = BLUR_SD * size
    if blur >= 0.3:
        hu = separable_blur(hu, blur, blur)
    if params.streaks:
        _add_streaks(hu, params.vertebral_body, params.streaks, label_map)
    peak = NOISE_PEAK_PER_MM * FOV_MM / size * math.sqrt(2.0)  # roll-off, cycles per pixel
    noise = correlated_field(params.noise.rng("fields"), size, "ct", 0.0, round(peak, 4))
    hu += np.float32(params.noise_hu) * noise
    return Rendering(hounsfield_to_unit(hu), label_map, hu)


def _add_streaks(
    hu: np.ndarray,
    vertebra: Ellipse,
    streaks: tuple[tuple[float, float], ...],
    label_map: np.ndarray,
) -> None:
    """Add thin streaks through the vertebral body's centre inside the body, in place:
    each at its angle (radians from the image x axis) with its signed peak HU, fading
    with the distance from the vertebra."""
    size = hu.shape[0]
    y, x = pixel_grid(size)
    dx, dy = x - np.float32(vertebra.center_x), y - np.float32(vertebra.center_y)
    inside = label_map != L.BACKGROUND
    width, length = mm(STREAK_WIDTH_MM), mm(STREAK_LENGTH_MM)
    for angle, peak in streaks:
        cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
        across = (dx * sin - dy * cos) * np.float32(1.0 / width)
        along = np.abs(dx * cos + dy * sin) * np.float32(1.0 / length)
        streak = np.float32(peak) * np.exp(-across * across - along)
        hu += np.where(inside, streak, np.float32(0.0))


MODALITY = Modality(
    name="CT",
    column="ct",
    title="CT",
    tissue_tables={"hounsfield_units": TISSUE_HU},
    sample=sample_ct_parameters,
    render=render_ct,
    physical_unit="HU",
)
