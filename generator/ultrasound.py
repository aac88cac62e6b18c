"""B-mode ultrasound through a convex probe: sector field of view, attenuation, speckle.

Physics (REFERENCE.md, "Physical values"): an abdominal convex probe (3.5 MHz here)
images a fan-shaped sector; outside it the image is black. Echoes are formed on a beam
grid (depth samples x scan lines) and scan-converted to the display. Along each line
they lose ``2 * alpha * f * depth`` dB on the round trip with each tissue's own alpha
(liver 0.5, fat 0.63, kidney 1.0, bone ~15 dB/cm/MHz), so bone and gas cast shadows and
fluid enhances what lies behind it; time-gain compensation restores part of the loss
expected in liver, the near-field gain that of the body wall. Speckle: a field of
complex scatterers whose intensities are Gamma distributed (shape m; a Nakagami(m)
envelope has a Gamma(m) intensity; healthy liver m ~ 0.8-1.0, fibrosis pushes m below 1;
Tsui et al. 2015, 2017) is convolved with an anisotropic point-spread function (short
along the beam, wider across it); the envelope is log-compressed to [0, 1]. Specular
interfaces (organ boundaries, the diaphragm) are bright; blood and fluid are anechoic;
the body wall reverberates (its echoes repeat at multiples of its depth). Each beam-grid
sample inside the axial field of view takes the label of the axial label map's pixel that
holds it (``beam_labels``), so ultrasound, MRI and CT show one anatomy at one resolution.

Seed trends (the published contract): liver echogenicity and texture coarseness rise
with severity (lower m, clustered scatterers with a longer correlation length); bright
reflections in F3-F4 only, coherent (specular) echoes added to the intensity after the
speckle so that they show as smooth bright foci; the nodular liver surface shows. The
liver reads the patient's severity through this modality's own noisy read-out
(``READOUT_SD``).

Streams (family ``US``): ``acquisition`` (probe pose, read-out, gain), ``reflections``,
``fields`` (complex scatterer noise: fixed draws at every stage; the bowel texture is
the scene's),
``speckle`` (the liver's Gamma intensities) and ``clusters`` (their clustering field).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from generator import label_ids as L
from generator.anatomy import Anatomy
from generator.cohort import PatientLabels
from generator.findings import Finding, sample_findings
from generator.geometry import FOV_MM, membership
from generator.modality import Modality, Rendering, Scene
from generator.noise import blur_power, correlated_field, separable_blur
from generator.random_streams import StreamFamily
from generator.rasterise import label_table, rasterise
from generator.stamps import stamp_disc

# Probe and display geometry (field-of-view fractions of the axial slice; ~36 cm).
FAN_HALF_ANGLE = math.radians(34.0)
#: Radius of the convex probe face (virtual apex behind the skin).
PROBE_RADIUS = 0.12
#: Imaging depth below the skin (about 16 cm).
DEPTH = 0.45
#: Physical width of the axial field of view, cm (converts fractions to depths in cm).
FOV_CM = FOV_MM / 10.0
FREQUENCY_MHZ = 3.5
#: Time-gain compensation assumes liver attenuation (dB/cm/MHz) and restores this
#: fraction of the round-trip loss it expects at each depth.
ATTENUATION_DB_CM_MHZ = 0.5
TGC_FRACTION = 0.85

# Mean backscatter (echo intensity) per label, liver F0 median = 1.
TISSUE_ECHO = {
    L.BACKGROUND: 0.0,
    L.LIVER: 1.0,
    L.SUBCUTANEOUS_FAT: 0.35,
    L.MUSCLE: 0.2,
    L.VISCERA: 1.3,  # mesenteric fat and bowel; modulated by BOWEL_TEXTURE_SD
    L.BOWEL_GAS: 6.0,
    L.VERTEBRA: 5.0,
    L.SPINAL_CANAL: 0.02,
    L.AORTA: 0.01,
    L.IVC: 0.01,
    L.KIDNEY: 0.45,
    L.SPLEEN: 1.05,
    L.DIAPHRAGM: 7.0,
    L.ASCITES: 0.0,
    L.HEPATIC_VESSEL: 0.01,
    L.NODULE: 1.0,  # MRI's finding: liver, were it ever in an ultrasound map
    L.SPOT: 1.0,  # CT's finding: liver likewise
    L.REFLECTION: 1.0,  # labelled after the echoes are formed; the echo is coherent
    L.GALLBLADDER: 0.0,  # anechoic bile
    L.RIB: 5.0,
    L.STOMACH_WALL: 0.6,
    L.STOMACH_CONTENT: 0.05,  # fluid with a little debris
    L.COLON: 2.5,  # stool and gas: bright, shadowing
    L.LUNG: 6.0,  # air: a bright line, then nothing
    L.CRUS: 0.25,
    L.COSTAL_CARTILAGE: 0.15,  # hypoechoic
    L.ADRENAL: 0.6,
    L.PANCREAS: 1.2,  # at least as echogenic as the liver
}
#: Attenuation per label, dB/cm/MHz (REFERENCE.md: liver 0.50, spleen 0.40, fat 0.63,
#: blood 0.15, kidney 1.0, muscle 1.0-1.4, bone ~15; water ~0; gas: total loss). The loss
#: accumulates along each scan line, so bone and gas cast shadows and fluid enhances.
TISSUE_ATTENUATION = {
    L.BACKGROUND: 0.0,
    L.LIVER: 0.50,
    L.SUBCUTANEOUS_FAT: 0.63,
    L.MUSCLE: 1.2,
    L.VISCERA: 0.5,  # mesenteric fat (0.63) mixed with bowel wall and contents
    L.BOWEL_GAS: 40.0,
    L.VERTEBRA: 15.0,
    L.SPINAL_CANAL: 0.01,
    L.AORTA: 0.15,
    L.IVC: 0.15,
    L.KIDNEY: 1.0,
    L.SPLEEN: 0.40,
    L.DIAPHRAGM: 1.2,
    L.ASCITES: 0.01,
    L.HEPATIC_VESSEL: 0.15,
    L.NODULE: 0.50,  # liver
    L.SPOT: 0.50,  # liver
    L.REFLECTION: 0.50,  # liver
    L.RIB: 15.0,
    L.GALLBLADDER: 0.01,
    L.STOMACH_WALL: 1.0,
    L.STOMACH_CONTENT: 0.05,
    L.COLON: 4.0,
    L.LUNG: 40.0,
    L.CRUS: 1.2,
    L.COSTAL_CARTILAGE: 5.0,
    L.ADRENAL: 0.8,
    L.PANCREAS: 0.7,
}
#: Log-normal SD of the viscera's echo (bowel loops, gas, fat: the scene's bowel field).
BOWEL_TEXTURE_SD = 0.9
#: Reverberation between the probe and the body wall: echoes of the wall repeat at
#: multiples of its depth, each REVERB_GAIN of the one before, up to REVERB_ORDERS.
REVERB_GAIN, REVERB_ORDERS = 0.1, 3
#: Extra echo at interfaces between tissues (specular reflection).
BOUNDARY_ECHO = 3.0
#: Liver echo gained per unit of read-out severity, dB.
LIVER_ECHO_DB_PER_SEVERITY = 8.0
#: SD of the ultrasound's own read-out of severity (severity units), independent of the
#: other modalities' read-outs. Lower than MRI's and CT's: speckle, attenuation and
#: gain already blur the ultrasound's liver mean.
READOUT_SD = 0.25
#: Gamma shape of the liver's scatterer intensity: m = M_HEALTHY - M_PER_SEVERITY * s
#: (s: the ultrasound's read-out of severity, floored at 0), at least M_MIN.
M_HEALTHY, M_PER_SEVERITY, M_MIN = 1.0, 0.45, 0.3
#: Scatterer clustering (log-normal modulation) of the liver: SD and correlation length.
CLUSTER_SD_BASE, CLUSTER_SD_PER_SEVERITY = 0.15, 0.7
CLUSTER_LENGTH_BASE, CLUSTER_LENGTH_PER_SEVERITY = 0.008, 0.016  # beam-grid fractions
#: Point-spread function SDs, mm: along the beam, and across it at mid depth (the
#: lateral width is a fixed angle, so it widens with depth).
PSF_AXIAL_MM, PSF_LATERAL_MM = 0.6, 1.2
#: Bright reflections (F3-F4 only).
REFLECTION_STAGES = frozenset({"F3", "F4"})
REFLECTION_BASE, REFLECTION_PER_SEVERITY = 0.9, 2.5
REFLECTION_RADIUS = 0.008  # axial FOV fractions
#: Coherent intensity of a reflection, in units of the F0 liver's mean echo (about +16 dB
#: over the liver's speckle).
REFLECTION_ECHO = 40.0
#: Log compression: intensity in dB (liver F0 median = 0 dB) shown over DYNAMIC_RANGE_DB
#: below REFERENCE_DB.
DYNAMIC_RANGE_DB, REFERENCE_DB = 60.0, 31.0


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
    reflections: tuple[Finding, ...]  # (x, y, radius) axial FOV fractions
    gain: float  # overall receiver gain
    noise: StreamFamily  # where the render draws its speckle and texture


def sample_ultrasound_parameters(
    labels: PatientLabels, anatomy: Anatomy, streams: StreamFamily
) -> UltrasoundParameters:
    """Draw the probe pose, the read-out of severity and the reflections."""
    acquisition = streams.rng("acquisition")
    # Right lateral (intercostal) window: the skin point reached from the liver's
    # centre in a direction to the image's left and slightly anterior; the beam aims back.
    frame = anatomy.liver.frame
    outward = math.radians(acquisition.uniform(165.0, 195.0))
    skin_x, skin_y = anatomy.body.skin_point(frame.center_x, frame.center_y, outward)
    beam = outward - math.pi + acquisition.normal(0.0, 0.08)
    probe = Probe(
        apex_x=skin_x - (PROBE_RADIUS - 0.004) * math.cos(beam),
        apex_y=skin_y - (PROBE_RADIUS - 0.004) * math.sin(beam),
        beam_angle=beam,
    )
    readout = labels.severity + READOUT_SD * acquisition.standard_normal()
    gain = math.exp(0.1 * acquisition.standard_normal())
    coarse = max(readout, 0.0)
    shown = labels.fibrosis_stage in REFLECTION_STAGES
    reflections = sample_findings(
        streams.rng("reflections"),
        anatomy.liver,
        REFLECTION_BASE + REFLECTION_PER_SEVERITY * coarse if shown else 0.0,
        REFLECTION_RADIUS,
        (0.7, 1.3),
        depth=0.8,
    )
    return UltrasoundParameters(
        probe=probe,
        liver_echo=TISSUE_ECHO[L.LIVER] * 10.0 ** (LIVER_ECHO_DB_PER_SEVERITY * readout / 10.0),
        gamma_shape=max(M_HEALTHY - M_PER_SEVERITY * coarse, M_MIN),
        cluster_sd=CLUSTER_SD_BASE + CLUSTER_SD_PER_SEVERITY * coarse,
        # Quantised (steps of 0.05 % of the view) so that the spectral filters stay cached.
        cluster_length=round((CLUSTER_LENGTH_BASE + CLUSTER_LENGTH_PER_SEVERITY * coarse) / 5e-4)
        * 5e-4,
        reflections=reflections,
        gain=gain,
        noise=streams,
    )


@dataclasses.dataclass(frozen=True)
class FanGeometry:
    """Cached, patient-independent geometry of the sector for one display size.

    The echoes are formed on a beam grid of ``size`` depth samples (rows) by ``size``
    scan lines (columns), then scan-converted to the display by nearest neighbour.
    """

    radius: np.ndarray  # (size,) float32: distance of each depth sample from the apex, FOV
    cos_angle: np.ndarray  # (size,) float32: cos of each scan line's angle off the centre
    sin_angle: np.ndarray  # (size,) float32
    tgc_db: np.ndarray  # (size, 1) float32: time-gain compensation at each depth, dB
    inside: np.ndarray  # (size, size) bool: display pixels inside the sector
    source: np.ndarray  # (inside.sum(),) intp: flat beam-grid index of each such pixel
    row_spacing: float  # depth per row, FOV fractions


#: The display spans depth PROBE_RADIUS .. PROBE_RADIUS + DEPTH from the virtual apex,
#: which sits above the image's top edge; one image unit = DISPLAY_SCALE FOV fractions.
DISPLAY_SCALE = DEPTH / 0.96
DISPLAY_APEX_Y = -PROBE_RADIUS / DISPLAY_SCALE + 0.02


@functools.lru_cache(maxsize=8)
def fan_geometry(size: int) -> FanGeometry:
    """The sector's beam grid and scan conversion for a ``size`` x ``size`` display."""
    rows = np.arange(size, dtype=np.float64)
    radius = PROBE_RADIUS + DEPTH * (rows + 0.5) / size
    angle = -FAN_HALF_ANGLE + 2.0 * FAN_HALF_ANGLE * (rows + 0.5) / size
    depth = radius - PROBE_RADIUS
    loss_db = 2.0 * ATTENUATION_DB_CM_MHZ * FREQUENCY_MHZ * depth * FOV_CM
    tgc_db = TGC_FRACTION * loss_db
    axis = (np.arange(size, dtype=np.float64) + 0.5) / size
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    dx, dy = xx - 0.5, yy - DISPLAY_APEX_Y
    pixel_radius = np.hypot(dx, dy) * DISPLAY_SCALE
    pixel_angle = np.arctan2(dx, dy)
    row = np.floor((pixel_radius - PROBE_RADIUS) / DEPTH * size).astype(np.intp)
    col = np.floor((pixel_angle + FAN_HALF_ANGLE) / (2 * FAN_HALF_ANGLE) * size).astype(np.intp)
    inside = (row >= 0) & (row < size) & (col >= 0) & (col < size)
    source = (row * size + col)[inside]
    geometry = FanGeometry(
        radius=radius.astype(np.float32),
        cos_angle=np.cos(angle).astype(np.float32),
        sin_angle=np.sin(angle).astype(np.float32),
        tgc_db=tgc_db.astype(np.float32)[:, None],
        inside=inside,
        source=source,
        row_spacing=DEPTH / size,
    )
    for array in (geometry.radius, geometry.cos_angle, geometry.sin_angle):
        array.flags.writeable = False
    geometry.tgc_db.flags.writeable = False
    inside.flags.writeable = False
    source.flags.writeable = False
    return geometry


def beam_points(probe: Probe, geometry: FanGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Axial field-of-view coordinates (x, y) of every beam-grid sample: float32 (S, S)."""
    cb, sb = np.float32(math.cos(probe.beam_angle)), np.float32(math.sin(probe.beam_angle))
    # Scan line directions: the central beam rotated by each line's angle.
    dir_x = cb * geometry.cos_angle - sb * geometry.sin_angle
    dir_y = sb * geometry.cos_angle + cb * geometry.sin_angle
    radius = geometry.radius[:, None]
    return (
        np.float32(probe.apex_x) + radius * dir_x[None, :],
        np.float32(probe.apex_y) + radius * dir_y[None, :],
    )


def beam_labels(scene: Scene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Label ids at the beam-grid samples (x, y) (FOV fractions, float32 (S, S)): uint8
    (S, S). A sample inside the axial field of view takes the label of the pixel of
    ``scene.axial_labels`` that holds it; one outside it (the body wall of a body wider
    than the field of view, the air above the skin) is rasterised where it lies."""
    axial = scene.axial_labels
    size = axial.shape[0]
    row = np.floor(y * np.float32(size)).astype(np.intp)
    col = np.floor(x * np.float32(size)).astype(np.intp)
    seen = (row >= 0) & (row < size) & (col >= 0) & (col < size)
    labels = axial.ravel().take(np.where(seen, row * size + col, 0))
    unseen = ~seen
    if unseen.any():
        labels[unseen] = rasterise(
            scene.anatomy, x[unseen][None, :], y[unseen][None, :], _beyond_the_grid, scene.plan
        )[0]
    return labels


def _beyond_the_grid(bounds: tuple[float, float, float, float]) -> tuple[slice, slice] | None:
    """Locator for points outside the axial field of view: a structure whose box lies
    inside it cannot hold them."""
    x0, x1, y0, y1 = bounds
    if x0 >= 0.0 and x1 <= 1.0 and y0 >= 0.0 and y1 <= 1.0:
        return None
    return slice(None), slice(None)


def _to_beam(probe: Probe, x: float, y: float, size: int) -> tuple[float, float]:
    """Beam-grid position (column, row) as fractions of ``size`` of the axial point (x, y)."""
    dx, dy = x - probe.apex_x, y - probe.apex_y
    radius = math.hypot(dx, dy)
    angle = math.atan2(dy, dx) - probe.beam_angle
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return (
        (angle + FAN_HALF_ANGLE) / (2 * FAN_HALF_ANGLE),
        (radius - PROBE_RADIUS) / DEPTH,
    )


def psf_sigmas(size: int) -> tuple[float, float]:
    """SDs of the point-spread function on the (size, size) beam grid: (rows, columns)."""
    mm = 1.0 / (10.0 * FOV_CM)  # FOV fractions per mm
    sigma_axial = max(PSF_AXIAL_MM * mm / (DEPTH / size), 0.35)
    line_spacing = (PROBE_RADIUS + DEPTH / 2) * 2.0 * FAN_HALF_ANGLE / size
    return sigma_axial, max(PSF_LATERAL_MM * mm / line_spacing, 0.5)


_ECHO_TABLE = label_table(TISSUE_ECHO)
#: The body wall along a scan line (and the air before the skin).
_WALL = membership(
    frozenset({L.BACKGROUND, L.SUBCUTANEOUS_FAT, L.MUSCLE, L.RIB, L.COSTAL_CARTILAGE})
)
#: Effective attenuation per label, dB/cm/MHz: the sonographer's near-field gain restores
#: the body wall's (fat, muscle) own loss.
_ATTENUATION_TABLE = label_table({**TISSUE_ATTENUATION, L.SUBCUTANEOUS_FAT: 0.0, L.MUSCLE: 0.0})


def render_ultrasound(params: UltrasoundParameters, scene: Scene) -> Rendering:
    """Render the B-mode image.

    Returns a ``Rendering`` of: image, float32 (S, S) in [0, 1], log-compressed
    envelope, exactly 0 outside the fan; label_map, uint8 (S, S), ids of ``label_ids``
    in the probe's view (0 outside the fan), with ``REFLECTION`` for the reflections.
    """
    size = scene.size
    geometry = fan_geometry(size)
    x, y = beam_points(params.probe, geometry)
    labels = beam_labels(scene, x, y)
    table = _ECHO_TABLE.copy()
    table[L.LIVER] = params.liver_echo
    echo = table[labels]
    noise = params.noise.rng("fields").standard_normal((2, size, size), dtype=np.float32)
    # Specular interfaces: label changes along each scan line (rows).
    edge = np.zeros(labels.shape, dtype=bool)
    edge[1:] = labels[1:] != labels[:-1]
    edge[1:] &= (labels[1:] != L.BACKGROUND) & (labels[:-1] != L.BACKGROUND)
    echo[edge] += np.float32(BOUNDARY_ECHO)
    viscera = labels == L.VISCERA
    loops = scene.fields.at("bowel", x[viscera], y[viscera])
    echo[viscera] *= np.exp(np.float32(BOWEL_TEXTURE_SD) * loops)
    # Liver scatterers: Gamma(m) intensities, clustered by a correlated log-normal field.
    liver = labels == L.LIVER
    count = int(liver.sum())
    if count:
        m = params.gamma_shape
        speckle = params.noise.rng("speckle")
        gamma = speckle.standard_gamma(m, size=count, dtype=np.float32) / np.float32(m)
        clusters = params.noise.rng("clusters")
        cluster = correlated_field(clusters, size, "gaussian", params.cluster_length)
        sd = np.float32(params.cluster_sd)
        echo[liver] *= gamma * np.exp(sd * cluster[liver] - sd * sd / 2)
    # Bright reflections are coherent (specular) echoes: added to the intensity after
    # the speckle, so they show as smooth bright foci rather than as brighter speckle.
    specular = np.zeros_like(echo) if params.reflections else None
    for x0, y0, radius in params.reflections:
        stamp_disc(
            specular,
            _to_beam(params.probe, x0, y0, size),
            radius / DEPTH,
            REFLECTION_ECHO,
            label_map=labels,
            label=L.REFLECTION,
            inside=(L.LIVER, L.REFLECTION),
        )
    # Complex scatterers convolved with the point-spread function; intensity = |.|^2.
    amplitude = np.sqrt(echo)
    sigma_ax, sigma_lat = psf_sigmas(size)
    norm = blur_power(sigma_ax, sigma_lat)
    real = separable_blur(amplitude * noise[0], sigma_ax, sigma_lat)
    imag = separable_blur(amplitude * noise[1], sigma_ax, sigma_lat)
    intensity = (real * real + imag * imag) * np.float32(0.5 / norm)
    if specular is not None:
        intensity += specular
    # Round-trip loss accumulated along each scan line (to the middle of each sample),
    # partly restored by depth-dependent time-gain compensation.
    loss_db = _ATTENUATION_TABLE[labels] * np.float32(
        2.0 * FREQUENCY_MHZ * geometry.row_spacing * FOV_CM
    )
    path_db = np.cumsum(loss_db, axis=0, dtype=np.float32) - np.float32(0.5) * loss_db
    gain_db = geometry.tgc_db - path_db
    intensity *= np.exp(gain_db * np.float32(math.log(10.0) / 10.0), out=gain_db)
    intensity *= np.float32(params.gain)
    _add_reverberation(intensity, labels)
    decibels = np.float32(10.0) * np.log10(intensity + np.float32(1e-6))
    floor = np.float32(REFERENCE_DB - DYNAMIC_RANGE_DB)
    beam_image = np.clip((decibels - floor) * np.float32(1.0 / DYNAMIC_RANGE_DB), 0.0, 1.0)
    # Scan conversion to the display.
    image = np.zeros((size, size), dtype=np.float32)
    image[geometry.inside] = beam_image.ravel()[geometry.source]
    label_map = np.zeros((size, size), dtype=np.uint8)
    label_map[geometry.inside] = labels.ravel()[geometry.source]
    return Rendering(image, label_map)


def _add_reverberation(intensity: np.ndarray, beam_labels: np.ndarray) -> None:
    """Add the wall's reverberations to the beam-grid ``intensity`` (rows = depth), in
    place: the echoes above the wall's median depth (first row past fat, muscle, ribs
    and cartilage along each scan line) repeat below it at multiples of that depth."""
    wall_rows = int(np.median(np.argmin(_WALL[beam_labels], axis=0)))
    if wall_rows < 2:
        return
    near = intensity[:wall_rows].copy()
    size = intensity.shape[0]
    for order in range(1, REVERB_ORDERS + 1):
        start = order * wall_rows
        if start >= size:
            break
        rows = min(wall_rows, size - start)
        intensity[start : start + rows] += np.float32(REVERB_GAIN**order) * near[:rows]


def mask_outside_fan(image: np.ndarray) -> np.ndarray:
    """Set the display pixels outside the sector to 0 (after block-averaging); in place."""
    image[~fan_geometry(image.shape[0]).inside] = 0.0
    return image


MODALITY = Modality(
    name="US",
    column="ultrasound",
    title="Ultrasound",
    tissue_tables={"echo": TISSUE_ECHO, "attenuation_db_cm_mhz": TISSUE_ATTENUATION},
    sample=sample_ultrasound_parameters,
    render=render_ultrasound,
    finish=mask_outside_fan,
)
