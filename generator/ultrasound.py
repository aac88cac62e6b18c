"""B-mode ultrasound through a convex probe: sector field of view, attenuation, speckle.

Physics (REFERENCE.md, "Physical values"): an abdominal convex probe (3.5 MHz here)
images a fan-shaped sector; outside it the image is black. Echoes lose
``2 * alpha * f * depth`` dB on the round trip (liver 0.5 dB/cm/MHz) and time-gain
compensation restores only part of it. Speckle: a field of complex scatterers whose
intensities are Gamma distributed (shape m; a Nakagami(m) envelope has a Gamma(m)
intensity; healthy liver m ~ 0.8-1.0, fibrosis pushes m below 1; Tsui et al. 2015,
2017) is convolved with an anisotropic point-spread function (short along the beam,
wider across it); the envelope is log-compressed to [0, 1]. Specular interfaces
(organ boundaries, the diaphragm) are bright; blood and fluid are anechoic.

Seed trends (the published contract): liver echogenicity and texture coarseness rise
with severity (lower m, clustered scatterers with a longer correlation length); bright
reflections in F3-F4 only; the nodular liver surface shows. The liver reads the
patient's severity through this modality's own noisy read-out (``READOUT_SD``), drawn
from the ultrasound stream.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from generator import anatomy as A
from generator.anatomy import BODY_EXPONENT, Anatomy, grid_slices, liver_points, rasterise
from generator.cohort import PatientLabels
from generator.noise import correlated_field, gaussian_kernel, separable_blur
from generator.stamps import stamp_disc

# Probe and display geometry (field-of-view fractions of the axial slice; ~36 cm).
FAN_HALF_ANGLE = math.radians(34.0)
#: Radius of the convex probe face (virtual apex behind the skin).
PROBE_RADIUS = 0.12
#: Imaging depth below the skin (about 16 cm).
DEPTH = 0.45
#: Speed of the display: image height covers PROBE_RADIUS..PROBE_RADIUS+DEPTH from the apex.
FOV_CM = 36.0
FREQUENCY_MHZ = 3.5
ATTENUATION_DB_CM_MHZ = 0.5
#: Fraction of the round-trip loss that time-gain compensation restores.
TGC_FRACTION = 0.85

# Mean backscatter (echo intensity) per label, liver F0 median = 1.
TISSUE_ECHO = {
    A.BACKGROUND: 0.0,
    A.LIVER: 1.0,
    A.SUBCUTANEOUS_FAT: 0.35,
    A.MUSCLE: 0.2,
    A.VISCERA: 1.3,  # mesenteric fat and bowel; modulated by BOWEL_TEXTURE_SD
    A.BOWEL_GAS: 6.0,
    A.VERTEBRA: 5.0,
    A.SPINAL_CANAL: 0.02,
    A.AORTA: 0.01,
    A.IVC: 0.01,
    A.KIDNEY: 0.45,
    A.SPLEEN: 1.05,
    A.DIAPHRAGM: 7.0,
    A.ASCITES: 0.0,
    A.HEPATIC_VESSEL: 0.01,
}
#: Log-normal SD of the viscera's echo (bowel loops, gas, fat), and the loops' size.
BOWEL_TEXTURE_SD, BOWEL_WAVELENGTH = 0.9, 0.06
#: Extra echo at interfaces between tissues (specular reflection).
BOUNDARY_ECHO = 3.0
#: Liver echo gained per unit of read-out severity, dB.
LIVER_ECHO_DB_PER_SEVERITY = 4.0
#: SD of the ultrasound's own read-out of severity (severity units).
READOUT_SD = 0.22
#: Gamma shape of the liver's scatterer intensity: m = M_HEALTHY - M_PER_SEVERITY * s.
M_HEALTHY, M_PER_SEVERITY, M_MIN = 1.0, 0.45, 0.3
#: Scatterer clustering (log-normal modulation) of the liver: SD and correlation length.
CLUSTER_SD_BASE, CLUSTER_SD_PER_SEVERITY = 0.15, 0.55
CLUSTER_LENGTH_BASE, CLUSTER_LENGTH_PER_SEVERITY = 0.008, 0.008  # US image fractions
#: Point-spread function SDs (US image fractions): along the beam and across it.
PSF_AXIAL, PSF_LATERAL = 0.0035, 0.007
#: Bright reflections (F3-F4 only).
REFLECTION_STAGES = frozenset({"F3", "F4"})
REFLECTION_BASE, REFLECTION_PER_SEVERITY = 3.0, 5.0
REFLECTION_RADIUS = 0.006  # axial FOV fractions
REFLECTION_ECHO = 25.0
#: Log compression: intensity in dB (liver F0 median = 0 dB) shown over DYNAMIC_RANGE_DB
#: below REFERENCE_DB.
DYNAMIC_RANGE_DB, REFERENCE_DB = 60.0, 26.0


@dataclasses.dataclass(frozen=True)
class Probe:
    """Probe pose in the axial slice: virtual apex (x, y) and beam angle (radians)."""

    apex_x: float
    apex_y: float
    beam_angle: float  # direction of the central beam (0 = +x, image y downwards)


@dataclasses.dataclass(frozen=True)
class UltrasoundParameters:
    """A patient's ultrasound parameters (sampled from the ultrasound stream)."""

    probe: Probe
    liver_echo: float
    gamma_shape: float
    cluster_sd: float
    cluster_length: float
    reflections: tuple[tuple[float, float, float], ...]  # (x, y, radius) axial FOV fractions
    gain: float  # overall receiver gain


def _skin_point(anatomy: Anatomy, x: float, y: float, angle: float) -> tuple[float, float]:
    """Where the ray from (x, y) inside the body in direction ``angle`` leaves the skin."""
    inner, outer = 0.0, 1.0
    dx, dy = math.cos(angle), math.sin(angle)
    for _ in range(30):  # bisection on the body's normalised radius
        mid = (inner + outer) / 2
        px, py = x + mid * dx - anatomy.body_center[0], y + mid * dy - anatomy.body_center[1]
        semi_y = anatomy.body_semi_y_anterior if py < 0 else anatomy.body_semi_y_posterior
        p = BODY_EXPONENT
        radius = (abs(px / anatomy.body_semi_x) ** p + abs(py / semi_y) ** p) ** (1.0 / p)
        inner, outer = (mid, outer) if radius <= 1.0 else (inner, mid)
    return x + inner * dx, y + inner * dy


def sample_ultrasound_parameters(
    labels: PatientLabels, anatomy: Anatomy, rng: np.random.Generator
) -> UltrasoundParameters:
    """Draw the probe pose, the read-out of severity and the reflections."""
    # Right lateral (intercostal) window: the skin point reached from the liver's
    # centre in a direction to the image's left and slightly anterior; the beam aims back.
    frame = anatomy.liver.frame
    outward = math.radians(rng.uniform(165.0, 195.0))
    skin_x, skin_y = _skin_point(anatomy, frame.center_x, frame.center_y, outward)
    beam = outward - math.pi + rng.normal(0.0, 0.08)
    probe = Probe(
        apex_x=skin_x - (PROBE_RADIUS - 0.004) * math.cos(beam),
        apex_y=skin_y - (PROBE_RADIUS - 0.004) * math.sin(beam),
        beam_angle=beam,
    )
    readout = labels.severity + READOUT_SD * rng.standard_normal()
    coarse = max(readout, 0.0)
    severity = max(labels.severity, 0.0)
    reflections: tuple[tuple[float, float, float], ...] = ()
    if labels.fibrosis_stage in REFLECTION_STAGES:
        count = max(1, int(rng.poisson(REFLECTION_BASE + REFLECTION_PER_SEVERITY * severity)))
        points = liver_points(anatomy, count, rng, depth=0.8)
        radii = REFLECTION_RADIUS * rng.uniform(0.7, 1.3, size=count)
        reflections = tuple(
            (float(x), float(y), float(r)) for (x, y), r in zip(points, radii, strict=True)
        )
    return UltrasoundParameters(
        probe=probe,
        liver_echo=TISSUE_ECHO[A.LIVER] * 10.0 ** (LIVER_ECHO_DB_PER_SEVERITY * readout / 10.0),
        gamma_shape=max(M_HEALTHY - M_PER_SEVERITY * coarse, M_MIN),
        cluster_sd=CLUSTER_SD_BASE + CLUSTER_SD_PER_SEVERITY * coarse,
        cluster_length=CLUSTER_LENGTH_BASE + CLUSTER_LENGTH_PER_SEVERITY * coarse,
        reflections=reflections,
        gain=math.exp(0.1 * rng.standard_normal()),
    )


@functools.lru_cache(maxsize=8)
def fan_geometry(size: int) -> tuple[np.ndarray, ...]:
    """Cached display geometry of the sector, read-only float32/bool (size, size) arrays.

    Returns (radius from the virtual apex in axial FOV fractions, cos and sin of the
    angle off the central beam, inside-fan mask, depth-attenuation factor).
    """
    axis = (np.arange(size, dtype=np.float64) + 0.5) / size
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    # The image spans depth PROBE_RADIUS .. PROBE_RADIUS + DEPTH from the virtual apex,
    # with the apex above the image's top edge; one image unit = (DEPTH / 0.96) FOV.
    scale = DEPTH / 0.96
    apex_y = -PROBE_RADIUS / scale + 0.02
    dx, dy = xx - 0.5, yy - apex_y
    radius = np.hypot(dx, dy) * scale
    angle = np.arctan2(dx, dy)
    depth = radius - PROBE_RADIUS
    inside = (np.abs(angle) <= FAN_HALF_ANGLE) & (depth >= 0.0) & (depth <= DEPTH)
    loss_db = 2.0 * ATTENUATION_DB_CM_MHZ * FREQUENCY_MHZ * np.clip(depth, 0, None) * FOV_CM
    attenuation = 10.0 ** (-(1.0 - TGC_FRACTION) * loss_db / 10.0)
    arrays = (
        radius.astype(np.float32),
        np.cos(angle).astype(np.float32),
        np.sin(angle).astype(np.float32),
        inside,
        attenuation.astype(np.float32),
    )
    for array in arrays:
        array.flags.writeable = False
    return arrays


def view_points(probe: Probe, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Axial field-of-view coordinates (x, y) seen by each display pixel: float32 (S, S)."""
    radius, cos_a, sin_a, _, _ = fan_geometry(size)
    cb, sb = np.float32(math.cos(probe.beam_angle)), np.float32(math.sin(probe.beam_angle))
    # Rotate the central beam direction by the pixel's angle (positive = image right).
    dir_x = cb * cos_a + sb * sin_a
    dir_y = sb * cos_a - cb * sin_a
    return np.float32(probe.apex_x) + radius * dir_x, np.float32(probe.apex_y) + radius * dir_y


def render_ultrasound(
    labels: PatientLabels, anatomy: Anatomy, image_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render the B-mode image.

    Returns
    -------
    image : float32 (S, S) in [0, 1], log-compressed envelope; exactly 0 outside the fan
    label_map : uint8 (S, S), ids of ``LABEL_NAMES`` in the probe's view (0 outside the
        fan), with ``REFLECTION`` for the bright reflections
    """
    params = sample_ultrasound_parameters(labels, anatomy, rng)
    return _render(params, anatomy, image_size, rng)


def _to_view(probe: Probe, x: float, y: float, size: int) -> tuple[float, float]:
    """Display position (x, y) in image fractions of the axial point (x, y)."""
    dx, dy = x - probe.apex_x, y - probe.apex_y
    radius = math.hypot(dx, dy)
    angle = probe.beam_angle - math.atan2(dy, dx)  # view_points' sign
    scale = DEPTH / 0.96
    apex_y = -PROBE_RADIUS / scale + 0.02
    r_img = radius / scale
    return 0.5 + r_img * math.sin(angle), apex_y + r_img * math.cos(angle)


def _locate(
    probe: Probe, size: int, bounds: tuple[float, float, float, float]
) -> tuple[slice, slice] | None:
    """Display rows and columns that can see the axial box ``bounds`` (with a margin)."""
    x0, x1, y0, y1 = bounds
    xs, ys = (x0, (x0 + x1) / 2, x1), (y0, (y0 + y1) / 2, y1)
    views = [_to_view(probe, px, py, size) for px in xs for py in ys]
    vx = [v[0] for v in views]
    vy = [v[1] for v in views]
    margin_x = 0.15 * (max(vx) - min(vx)) + 2.0 / size
    margin_y = 0.15 * (max(vy) - min(vy)) + 2.0 / size
    return grid_slices(
        (min(vx) - margin_x, max(vx) + margin_x, min(vy) - margin_y, max(vy) + margin_y), size
    )


def _render(
    params: UltrasoundParameters, anatomy: Anatomy, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    _, _, _, inside, attenuation = fan_geometry(size)
    x, y = view_points(params.probe, size)
    label_map = rasterise(anatomy, x, y, functools.partial(_locate, params.probe, size))
    label_map[~inside] = A.BACKGROUND
    table = np.zeros(A.NUM_LABELS, dtype=np.float32)
    for label, value in TISSUE_ECHO.items():
        table[label] = value
    table[A.LIVER] = params.liver_echo
    table[A.REFLECTION] = params.liver_echo
    echo = table[label_map]
    # Specular interfaces: label changes along the beam (approximately image columns).
    edge = np.zeros_like(inside)
    edge[1:] = label_map[1:] != label_map[:-1]
    edge[1:] &= (label_map[1:] != A.BACKGROUND) & (label_map[:-1] != A.BACKGROUND)
    echo[edge] += np.float32(BOUNDARY_ECHO)
    viscera = label_map == A.VISCERA
    loops = correlated_field(rng, size, "bandpass", BOWEL_WAVELENGTH, 0.8)[viscera]
    echo[viscera] *= np.exp(np.float32(BOWEL_TEXTURE_SD) * loops)
    # Liver scatterers: Gamma(m) intensities, clustered by a correlated log-normal field.
    liver = label_map == A.LIVER
    count = int(liver.sum())
    if count:
        m = params.gamma_shape
        gamma = rng.standard_gamma(m, size=count, dtype=np.float32) / np.float32(m)
        cluster = correlated_field(rng, size, "gaussian", params.cluster_length)
        sd = np.float32(params.cluster_sd)
        echo[liver] *= gamma * np.exp(sd * cluster[liver] - sd * sd / 2)
    scale = DEPTH / 0.96
    for x0, y0, radius in params.reflections:
        vx, vy = _to_view(params.probe, x0, y0, size)
        stamp_disc(
            echo,
            (vx, vy),
            radius / scale,
            REFLECTION_ECHO,
            label_map=label_map,
            label=A.REFLECTION,
            inside=(A.LIVER, A.REFLECTION),
        )
    # Complex scatterers convolved with the point-spread function; intensity = |.|^2.
    amplitude = np.sqrt(echo)
    noise = np.zeros((2, size, size), dtype=np.float32)
    noise[:, inside] = rng.standard_normal((2, int(inside.sum())), dtype=np.float32)
    sigma_ax, sigma_lat = max(PSF_AXIAL * size, 0.35), max(PSF_LATERAL * size, 0.5)
    norm = float(
        np.sum(gaussian_kernel(round(sigma_ax, 3)) ** 2)
        * np.sum(gaussian_kernel(round(sigma_lat, 3)) ** 2)
    )
    real = separable_blur(amplitude * noise[0], sigma_ax, sigma_lat)
    imag = separable_blur(amplitude * noise[1], sigma_ax, sigma_lat)
    intensity = (real * real + imag * imag) * np.float32(0.5 / norm)
    intensity *= attenuation
    intensity *= np.float32(params.gain)
    decibels = np.float32(10.0) * np.log10(intensity + np.float32(1e-6))
    floor = np.float32(REFERENCE_DB - DYNAMIC_RANGE_DB)
    image = np.clip((decibels - floor) * np.float32(1.0 / DYNAMIC_RANGE_DB), 0.0, 1.0)
    image[~inside] = 0.0
    return image.astype(np.float32, copy=False), label_map
