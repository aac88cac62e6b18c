"""Per-patient anatomy of an axial slice through the upper abdomen, shared by all modalities.

Every position and size is a fraction of the axial field of view (about 36 cm), so a
patient has the same anatomy at every image size. The slice follows the radiological
convention: the patient's right is on the image's left, anterior at the top.

Structures: body outline with a subcutaneous fat layer, abdominal-wall and paraspinal
muscle, ribs, intra-abdominal fat and bowel (with gas), vertebra and spinal canal,
aorta, inferior vena cava, right kidney, spleen, diaphragm, gallbladder and a liver
built as a smooth union of three lobes (right, left, caudate) with intrahepatic vessels,
inside the seed's patient-specific ellipse (position, size, rotation). Stage-dependent
morphology (REFERENCE.md, "Morphology"): surface nodularity (flat until F3, marked at
F4), caudate/right-lobe enlargement in F3-F4, spleen growth (gradual, steepest at
F3-F4), perihepatic ascites in a minority of F4 patients. Morphology reads the latent
severity through the anatomy's own noise (``MORPHOLOGY_READOUT_SD``). Geometry is
sampled once (``sample_anatomy``) into a frozen record; ``rasterise`` evaluates it at
any set of points (the CT/MRI pixel grid, or the ultrasound probe's beam grid).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping

import numpy as np

# ---------------------------------------------------------------------------------------
# Label-map ids (uint8). MRI and CT share the axial map; ultrasound has its own view.
BACKGROUND = 0  # air outside the body (ultrasound: outside the fan)
LIVER = 1  # liver parenchyma
SUBCUTANEOUS_FAT = 2
MUSCLE = 3  # abdominal wall and paraspinal muscles
VISCERA = 4  # intra-abdominal fat and bowel wall
BOWEL_GAS = 5
VERTEBRA = 6  # vertebra: body (cortex and marrow) and posterior elements
SPINAL_CANAL = 7  # cerebrospinal fluid
AORTA = 8
IVC = 9  # inferior vena cava
KIDNEY = 10  # right kidney
SPLEEN = 11
DIAPHRAGM = 12
ASCITES = 13  # perihepatic free fluid (F4 minority only)
HEPATIC_VESSEL = 14  # hepatic and portal veins inside the liver
NODULE = 15  # MRI only: bright nodules inside the liver (F2-F4)
SPOT = 16  # CT only: high-density spots inside the liver (F3-F4)
REFLECTION = 17  # ultrasound only: bright reflections inside the liver (F3-F4)
RIB = 18  # rib cross-sections in the body wall
GALLBLADDER = 19  # bile-filled gallbladder in its fossa under the liver

LABEL_NAMES = {
    BACKGROUND: "background",
    LIVER: "liver",
    SUBCUTANEOUS_FAT: "subcutaneous_fat",
    MUSCLE: "muscle",
    VISCERA: "viscera",
    BOWEL_GAS: "bowel_gas",
    VERTEBRA: "vertebra",
    SPINAL_CANAL: "spinal_canal",
    AORTA: "aorta",
    IVC: "inferior_vena_cava",
    KIDNEY: "kidney",
    SPLEEN: "spleen",
    DIAPHRAGM: "diaphragm",
    ASCITES: "ascites",
    HEPATIC_VESSEL: "hepatic_vessel",
    NODULE: "liver_nodule",
    SPOT: "liver_spot",
    REFLECTION: "liver_reflection",
    RIB: "rib",
    GALLBLADDER: "gallbladder",
}
#: Ids that belong to the liver (parenchyma and the focal findings drawn inside it).
LIVER_IDS = (LIVER, NODULE, SPOT, REFLECTION)
#: Number of label ids (size of per-label lookup tables).
NUM_LABELS = len(LABEL_NAMES)

# ---------------------------------------------------------------------------------------
# Morphology effect sizes (severity: 0 at the F0 median stiffness, 1 at the F4 median).
#: Severity above which the surface becomes nodular, and the severity span to full effect.
NODULARITY_ONSET, NODULARITY_SPAN = 0.65, 0.35
#: Surface bump amplitude (fraction of the liver's local radius^2) at full effect; a
#: small baseline keeps every liver slightly irregular.
NODULARITY_BASE, NODULARITY_FULL = 0.012, 0.10
#: Cap of the nodularity ramp (beyond it the bumps would become spikes).
NODULARITY_CAP = 1.4
#: Caudate enlargement and right-lobe shrinkage at full effect (onset as for nodularity).
CAUDATE_ONSET, CAUDATE_SPAN = 0.55, 0.45
CAUDATE_GROWTH, RIGHT_LOBE_SHRINK = 0.35, 0.10
#: Spleen linear scale: 1 + SPLEEN_GROWTH * severity^SPLEEN_EXPONENT (volume ~2.7x in
#: cirrhosis, Ozgen 2024: linear ~1.4x), times a per-patient log-normal.
SPLEEN_GROWTH, SPLEEN_EXPONENT, SPLEEN_SPREAD = 0.28, 2.0, 0.30
#: Probability that the gallbladder is seen (it may be contracted or removed).
GALLBLADDER_PROBABILITY = 0.85
#: SD of the anatomy's own read-out of severity (severity units), shared by all
#: morphological signs of one patient.
MORPHOLOGY_READOUT_SD = 0.35
#: Probability of ascites in F4 (decompensation: a minority).
ASCITES_PROBABILITY_F4 = 0.2

#: Superellipse exponent of the body outline (flatter flanks than an ellipse); 2.5 so that
#: |a|^2.5 = a^2 * sqrt(|a|) avoids a general power.
BODY_EXPONENT = 2.5


def _ramp(severity: float, onset: float, span: float) -> float:
    """0 below ``onset``, rising as t^1.5 to 1 at ``onset + span``, then linearly."""
    t = max(severity - onset, 0.0) / span
    return t**1.5 if t < 1.0 else 1.0 + 1.5 * (t - 1.0)


@dataclasses.dataclass(frozen=True)
class Ellipse:
    """An ellipse in field-of-view fractions: centre, semi-axes, rotation (radians)."""

    center_x: float
    center_y: float
    semi_major: float
    semi_minor: float
    rotation: float

    def q(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Squared normalised radius: < 1 inside, 1 on the outline; float32 like ``x``."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        dx, dy = x - np.float32(self.center_x), y - np.float32(self.center_y)
        u = (dx * np.float32(cos) + dy * np.float32(sin)) * np.float32(1.0 / self.semi_major)
        v = (dy * np.float32(cos) - dx * np.float32(sin)) * np.float32(1.0 / self.semi_minor)
        return u * u + v * v

    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box (x0, x1, y0, y1) in field-of-view fractions."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        half_x = math.hypot(self.semi_major * cos, self.semi_minor * sin)
        half_y = math.hypot(self.semi_major * sin, self.semi_minor * cos)
        return (
            self.center_x - half_x,
            self.center_x + half_x,
            self.center_y - half_y,
            self.center_y + half_y,
        )


@dataclasses.dataclass(frozen=True)
class Liver:
    """The liver: three lobes (ellipses in the frame of the seed's ellipse) and its surface.

    ``frame`` is the seed's ellipse (position, size, rotation). Lobes are given as
    (centre_u, centre_v, radius_u, radius_v, rotation) in that frame's unit coordinates.
    """

    frame: Ellipse
    right_lobe: tuple[float, float, float, float, float]
    left_lobe: tuple[float, float, float, float, float]
    caudate: tuple[float, float, float, float, float]
    nodularity: float  # surface bump amplitude (fraction of q)
    bump_count: int  # nodules around the outline
    bump_phase: float  # radians
    ascites_thickness: float  # in q units; 0 without ascites
    vessels: tuple[tuple[float, float, float], ...]  # (u, v, radius in FOV fractions)

    @property
    def caudate_right_ratio(self) -> float:
        """Caudate width / right-lobe width (the Harbin ratio's geometry), dimensionless."""
        return self.caudate[2] / self.right_lobe[2]

    def local(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame coordinates (u along the major axis, v along the minor axis), unit ellipse."""
        frame = self.frame
        cos, sin = math.cos(frame.rotation), math.sin(frame.rotation)
        dx, dy = x - np.float32(frame.center_x), y - np.float32(frame.center_y)
        u = (dx * np.float32(cos) + dy * np.float32(sin)) * np.float32(1.0 / frame.semi_major)
        v = (dy * np.float32(cos) - dx * np.float32(sin)) * np.float32(1.0 / frame.semi_minor)
        return u, v

    def to_fov(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of ``local``: field-of-view (x, y) from frame (u, v)."""
        frame = self.frame
        cos, sin = math.cos(frame.rotation), math.sin(frame.rotation)
        a, b = u * frame.semi_major, v * frame.semi_minor
        return frame.center_x + a * cos - b * sin, frame.center_y + a * sin + b * cos

    def vessel_ellipses(self) -> tuple[Ellipse, ...]:
        """The intrahepatic vessels' cross-sections as ellipses in FOV fractions."""
        out = []
        for u, v, radius in self.vessels:
            vx, vy = self.to_fov(u, v)
            out.append(Ellipse(float(vx), float(vy), radius, radius * 0.8, 0.5))
        return tuple(out)

    def field(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Implicit liver function: <= 1 inside the (nodular) outline; float32 like ``x``."""
        return self.fields(x, y)[1]

    def fields(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The liver function without and with the surface nodules (float32 like ``x``)."""
        u, v = self.local(x, y)
        smooth = 8.0  # sharpness of the soft union (log-sum-exp) of the lobes
        uu, vv, uv = u * u, v * v, u * v
        total = np.full(u.shape, 1e-30, dtype=np.float32)
        for cu, cv, ru, rv, rot in (self.right_lobe, self.left_lobe, self.caudate):
            # -smooth * (q_lobe - 1) expanded as a quadratic polynomial in (u, v).
            cos, sin = math.cos(rot), math.sin(rot)
            ia, ib = 1.0 / ru**2, 1.0 / rv**2
            k_uu = ia * cos * cos + ib * sin * sin
            k_vv = ia * sin * sin + ib * cos * cos
            k_uv = 2.0 * (ia - ib) * cos * sin
            k_u = -(2.0 * k_uu * cu + k_uv * cv)
            k_v = -(2.0 * k_vv * cv + k_uv * cu)
            k_0 = k_uu * cu * cu + k_vv * cv * cv + k_uv * cu * cv - 1.0
            exponent = np.float32(-smooth * k_uu) * uu
            exponent += np.float32(-smooth * k_vv) * vv
            exponent += np.float32(-smooth * k_uv) * uv
            exponent += np.float32(-smooth * k_u) * u
            exponent += np.float32(-smooth * k_v) * v
            exponent += np.float32(-smooth * k_0)
            total += np.exp(exponent, out=exponent)
        q = 1.0 - np.log(total) * np.float32(1.0 / smooth)
        angle = np.arctan2(v, u)
        bumps = np.abs(np.sin(np.float32(self.bump_count / 2.0) * angle + self.bump_phase))
        return q, q * (1.0 - np.float32(self.nodularity) * (bumps - np.float32(0.64)))


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """A patient's axial slice geometry in field-of-view fractions (see module docstring)."""

    body_center: tuple[float, float]
    body_semi_x: float
    body_semi_y_anterior: float
    body_semi_y_posterior: float
    fat_thickness: float
    muscle_thickness: float
    liver: Liver
    spleen: Ellipse
    kidney: Ellipse
    vertebra: Ellipse
    posterior_elements: tuple[Ellipse, Ellipse]  # neural arch and spinous process (bone)
    spinal_canal: Ellipse
    aorta: Ellipse
    ivc: Ellipse
    paraspinal: tuple[Ellipse, Ellipse]
    ribs: tuple[Ellipse, ...]
    gallbladder: Ellipse | None  # None: contracted or removed
    bowel_gas: tuple[Ellipse, ...]
    diaphragm_thickness: float  # q units around the liver
    has_ascites: bool

    @property
    def surface_nodularity(self) -> float:
        """Surface bump amplitude of the liver outline (dimensionless, 0 = smooth)."""
        return self.liver.nodularity

    @property
    def caudate_right_ratio(self) -> float:
        """Caudate width / right-lobe width."""
        return self.liver.caudate_right_ratio


def _outline_point(
    center: tuple[float, float],
    semi_x: float,
    semi_y_anterior: float,
    semi_y_posterior: float,
    angle: float,
    depth: float,
) -> tuple[float, float]:
    """The point ``depth`` (FOV fractions, radially) inside the body outline at ``angle``."""
    dx, dy = math.cos(angle), math.sin(angle)
    semi_y = semi_y_anterior if dy < 0 else semi_y_posterior
    p = BODY_EXPONENT
    reach = (abs(dx / semi_x) ** p + abs(dy / semi_y) ** p) ** (-1.0 / p)
    return center[0] + (reach - depth) * dx, center[1] + (reach - depth) * dy


def sample_anatomy(rng: np.random.Generator, severity: float, stage: str) -> Anatomy:
    """Draw a patient's anatomy; independent of image size.

    The seed's liver ellipse (position, size, rotation) is drawn first, in the seed's
    order; the lobes, morphology and other organs follow. ``severity`` (normalised log
    stiffness) drives every morphological change; ``stage`` only gates ascites (F4).
    """
    frame = Ellipse(
        center_x=rng.uniform(0.38, 0.50),
        center_y=rng.uniform(0.42, 0.56),
        semi_major=rng.uniform(0.22, 0.30),
        semi_minor=rng.uniform(0.15, 0.21),
        rotation=rng.uniform(-0.5, 0.5),
    )
    jitter = rng.uniform(0.9, 1.1, size=8)
    # The anatomy's own read-out of severity: morphology varies between patients with
    # the same stiffness, so it is not an exact copy of the latent.
    severity = severity + MORPHOLOGY_READOUT_SD * rng.standard_normal()
    caudate_gain = _ramp(severity, CAUDATE_ONSET, CAUDATE_SPAN)
    right_scale = (1.0 - RIGHT_LOBE_SHRINK * min(caudate_gain, 1.5)) * jitter[0]
    caudate_scale = (1.0 + CAUDATE_GROWTH * caudate_gain) * jitter[1]
    right_lobe = (-0.30, 0.12, 0.86 * right_scale, 0.88 * jitter[2], 0.0)
    left_lobe = (0.42, -0.30, 0.60 * jitter[3], 0.40 * jitter[4], -0.35 * jitter[5])
    caudate = (0.30, 0.40, 0.34 * caudate_scale, 0.30 * caudate_scale, 0.3)
    nodularity = NODULARITY_BASE + NODULARITY_FULL * min(
        _ramp(severity, NODULARITY_ONSET, NODULARITY_SPAN), NODULARITY_CAP
    )
    has_ascites = stage == "F4" and rng.uniform() < ASCITES_PROBABILITY_F4
    vessels = []
    for _ in range(int(rng.integers(3, 6))):
        vessels.append((rng.uniform(-0.7, 0.2), rng.uniform(-0.45, 0.5), rng.uniform(0.006, 0.012)))
    vessels.append((0.18, 0.12, rng.uniform(0.012, 0.017)))  # portal vein at the hilum
    liver = Liver(
        frame=frame,
        right_lobe=right_lobe,
        left_lobe=left_lobe,
        caudate=caudate,
        nodularity=nodularity,
        bump_count=int(rng.integers(22, 34)),
        bump_phase=rng.uniform(0.0, 2.0 * math.pi),
        ascites_thickness=rng.uniform(0.25, 0.5) if has_ascites else 0.0,
        vessels=tuple(vessels),
    )
    body_x, body_y = 0.5 + rng.normal(0.0, 0.01), 0.5 + rng.normal(0.0, 0.01)
    semi_x = rng.uniform(0.42, 0.46)
    semi_y_anterior = rng.uniform(0.33, 0.38)
    semi_y_posterior = rng.uniform(0.30, 0.34)
    spine_y = body_y + semi_y_posterior - rng.uniform(0.13, 0.15)
    spine_x = body_x + rng.normal(0.0, 0.008)
    vertebra_radius = rng.uniform(0.045, 0.055)
    spleen_scale = (1.0 + SPLEEN_GROWTH * max(severity, 0.0) ** SPLEEN_EXPONENT) * math.exp(
        SPLEEN_SPREAD * rng.standard_normal()
    )
    spleen = Ellipse(
        center_x=body_x + rng.uniform(0.25, 0.30),
        center_y=body_y + rng.uniform(0.08, 0.14),
        semi_major=0.085 * spleen_scale,
        semi_minor=0.045 * spleen_scale,
        rotation=rng.uniform(-1.3, -0.9),
    )
    kidney = Ellipse(
        center_x=spine_x - rng.uniform(0.14, 0.17),
        center_y=spine_y - rng.uniform(0.0, 0.03),
        semi_major=rng.uniform(0.05, 0.06),
        semi_minor=rng.uniform(0.032, 0.04),
        rotation=rng.uniform(0.8, 1.2),
    )
    vertebra = Ellipse(spine_x, spine_y, vertebra_radius * 1.05, vertebra_radius, 0.0)
    canal_y = spine_y + vertebra_radius + 0.022
    canal = Ellipse(spine_x, canal_y, 0.018, 0.016, 0.0)
    posterior_elements = (
        Ellipse(spine_x, canal_y + 0.006, 0.034, 0.026, 0.0),
        Ellipse(spine_x, canal_y + 0.045, 0.009, 0.03, 0.0),
    )
    aorta = Ellipse(
        spine_x + rng.uniform(0.015, 0.03),
        spine_y - vertebra_radius - 0.022,
        0.02,
        0.02,
        0.0,
    )
    ivc = Ellipse(
        spine_x - rng.uniform(0.04, 0.06),
        spine_y - vertebra_radius - rng.uniform(0.02, 0.04),
        rng.uniform(0.022, 0.028),
        rng.uniform(0.014, 0.018),
        0.3,
    )
    paraspinal = tuple(
        Ellipse(spine_x + side * 0.065, spine_y + 0.075, 0.055, 0.04, side * 0.3)
        for side in (-1.0, 1.0)
    )
    # Ribs in the body wall, leaving the right lateral intercostal window (body-centre
    # angles 150-210 degrees, image y downwards) free for the ultrasound probe.
    fat, muscle = rng.uniform(0.015, 0.04), rng.uniform(0.012, 0.02)
    rib_angles = [
        *rng.uniform(125.0, 145.0, size=1),
        *rng.uniform(218.0, 240.0, size=1),
        *rng.uniform(-65.0, -40.0, size=1),
        *rng.uniform(15.0, 40.0, size=1),
    ]
    ribs = []
    for angle in rib_angles:
        theta = math.radians(float(angle))
        px, py = _outline_point(
            (body_x, body_y), semi_x, semi_y_anterior, semi_y_posterior, theta, fat + muscle / 2
        )
        ribs.append(Ellipse(px, py, 0.02, 0.011, theta + math.pi / 2))
    bowel_gas = tuple(
        Ellipse(
            body_x + rng.uniform(0.05, 0.25),
            body_y + rng.uniform(-0.22, -0.02),
            rng.uniform(0.012, 0.03),
            rng.uniform(0.01, 0.02),
            rng.uniform(0.0, math.pi),
        )
        for _ in range(int(rng.integers(2, 5)))
    )
    return Anatomy(
        body_center=(body_x, body_y),
        body_semi_x=semi_x,
        body_semi_y_anterior=semi_y_anterior,
        body_semi_y_posterior=semi_y_posterior,
        fat_thickness=fat,
        muscle_thickness=muscle,
        liver=liver,
        spleen=spleen,
        kidney=kidney,
        vertebra=vertebra,
        posterior_elements=posterior_elements,
        spinal_canal=canal,
        aorta=aorta,
        ivc=ivc,
        paraspinal=paraspinal,
        ribs=tuple(ribs),
        bowel_gas=bowel_gas,
        diaphragm_thickness=rng.uniform(0.12, 0.18),
        has_ascites=has_ascites,
        gallbladder=_sample_gallbladder(liver, rng),
    )


def _sample_gallbladder(liver: Liver, rng: np.random.Generator) -> Ellipse | None:
    """The gallbladder in the fossa between the lobes, on the liver's anterior surface."""
    present = rng.uniform() < GALLBLADDER_PROBABILITY
    u, v = rng.uniform(-0.1, 0.15), rng.uniform(-0.55, -0.4)
    x, y = liver.to_fov(u, v)
    semi_major, semi_minor = rng.uniform(0.035, 0.055), rng.uniform(0.02, 0.03)
    rotation = liver.frame.rotation + rng.uniform(-0.4, 0.4)
    return Ellipse(float(x), float(y), semi_major, semi_minor, rotation) if present else None


#: Maps a bounding box (x0, x1, y0, y1) in FOV fractions to the (rows, cols) slices of
#: the point arrays that can hold it; None means "evaluate everywhere".
Locator = Callable[[tuple[float, float, float, float]], "tuple[slice, slice] | None"]


def body_level(anatomy: Anatomy, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|dx/a|^2.5 + |dy/b|^2.5 of the body outline: 1 on the skin (radius r -> r^2.5); float32."""
    cx, cy = anatomy.body_center
    dx, dy = x - np.float32(cx), y - np.float32(cy)
    inv_y = np.where(
        dy < 0,
        np.float32(1.0 / anatomy.body_semi_y_anterior),
        np.float32(1.0 / anatomy.body_semi_y_posterior),
    )
    a = np.abs(dx * np.float32(1.0 / anatomy.body_semi_x))
    b = np.abs(dy * inv_y)
    return a * a * np.sqrt(a) + b * b * np.sqrt(b)


@functools.lru_cache(maxsize=16)
def _lookup(ids: tuple[int, ...]) -> np.ndarray:
    """Read-only bool (256,): True at ``ids``; indexing it with a uint8 map tests membership."""
    table = np.zeros(256, dtype=bool)
    table[list(ids)] = True
    table.flags.writeable = False
    return table


def label_table(values: Mapping[int, float]) -> np.ndarray:
    """Per-label look-up table: float32 (NUM_LABELS,), ``values[label]``, 0 elsewhere.

    Indexing it with a label map paints a tissue property (HU, signal, echo) per pixel.
    """
    table = np.zeros(NUM_LABELS, dtype=np.float32)
    for label, value in values.items():
        table[label] = value
    return table


def rasterise(
    anatomy: Anatomy, x: np.ndarray, y: np.ndarray, locate: Locator | None = None
) -> np.ndarray:
    """Label ids at points (x, y) in field-of-view fractions: uint8, shape of ``x``.

    Points outside the body are ``BACKGROUND``. Ids are those of ``LABEL_NAMES``,
    without the modality-specific focal findings (nodules, spots, reflections).
    ``locate`` (optional) restricts each small structure to the part of the point arrays
    that can contain its bounding box; it changes speed, not the result.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    labels = np.zeros(x.shape, dtype=np.uint8)
    level = body_level(anatomy, x, y)
    mean_semi = (
        anatomy.body_semi_x + 0.5 * (anatomy.body_semi_y_anterior + anatomy.body_semi_y_posterior)
    ) / 2.0
    muscle_radius = 1.0 - anatomy.fat_thickness / mean_semi
    viscera_radius = 1.0 - (anatomy.fat_thickness + anatomy.muscle_thickness) / mean_semi
    labels[level <= 1.0] = SUBCUTANEOUS_FAT
    labels[level <= np.float32(muscle_radius**BODY_EXPONENT)] = MUSCLE
    labels[level <= np.float32(viscera_radius**BODY_EXPONENT)] = VISCERA

    def paint(shape: Ellipse, label: int, allowed: tuple[int, ...]) -> None:
        where = locate(shape.bounds()) if locate is not None else (slice(None), slice(None))
        if where is None:
            return
        sub = labels[where]
        target = shape.q(x[where], y[where]) <= 1.0
        if allowed:
            target &= _lookup(allowed)[sub]
        sub[target] = label

    soft = (VISCERA, BOWEL_GAS)
    for gas in anatomy.bowel_gas:
        paint(gas, BOWEL_GAS, (VISCERA,))
    liver = anatomy.liver
    shell = 1.0 + liver.ascites_thickness
    reach = math.sqrt(shell + anatomy.diaphragm_thickness) * 1.25
    x0, x1, y0, y1 = liver.frame.bounds()
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 * reach, (y1 - y0) / 2 * reach
    where = locate((mx - hx, mx + hx, my - hy, my + hy)) if locate is not None else None
    where = where if where is not None else (slice(None), slice(None))
    sub, lx, ly = labels[where], x[where], y[where]
    smooth_q, liver_q = liver.fields(lx, ly)
    # The diaphragm covers the liver's posterior surface; it and the ascites around the
    # liver follow the smooth outline, the liver the nodular one.
    _, v = liver.local(lx, ly)
    behind = v > 0.25
    diaphragm = (smooth_q <= np.float32(shell + anatomy.diaphragm_thickness)) & behind
    sub[diaphragm & _lookup(soft)[sub]] = DIAPHRAGM
    if anatomy.has_ascites:
        sub[(smooth_q <= np.float32(shell)) & _lookup((*soft, DIAPHRAGM))[sub]] = ASCITES
    sub[(liver_q <= 1.0) & _lookup((*soft, DIAPHRAGM, ASCITES))[sub]] = LIVER
    for vessel in liver.vessel_ellipses():
        paint(vessel, HEPATIC_VESSEL, (LIVER,))
    paint(anatomy.spleen, SPLEEN, (*soft, DIAPHRAGM, ASCITES, LIVER))
    if anatomy.gallbladder is not None:
        paint(anatomy.gallbladder, GALLBLADDER, (*soft, LIVER, HEPATIC_VESSEL, DIAPHRAGM, ASCITES))
    paint(anatomy.kidney, KIDNEY, (*soft, DIAPHRAGM, LIVER, HEPATIC_VESSEL))
    for muscle in anatomy.paraspinal:
        paint(muscle, MUSCLE, (*soft, SUBCUTANEOUS_FAT, DIAPHRAGM, KIDNEY))
    for rib in anatomy.ribs:
        paint(rib, RIB, (SUBCUTANEOUS_FAT, MUSCLE, VISCERA, DIAPHRAGM))
    paint(anatomy.vertebra, VERTEBRA, ())
    for bone in anatomy.posterior_elements:
        paint(bone, VERTEBRA, (SUBCUTANEOUS_FAT, MUSCLE, VISCERA))
    paint(anatomy.spinal_canal, SPINAL_CANAL, ())
    paint(anatomy.aorta, AORTA, ())
    paint(anatomy.ivc, IVC, ())
    labels[level > 1.0] = BACKGROUND
    return labels


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as field-of-view fractions: two read-only (size, size) float32."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    y, x = np.meshgrid(axis, axis, indexing="ij")
    y.flags.writeable = False
    x.flags.writeable = False
    return y, x


def grid_slices(bounds: tuple[float, float, float, float], size: int) -> tuple[slice, slice] | None:
    """Rows and columns of the (size, size) pixel grid covering ``bounds`` (FOV fractions)."""
    x0, x1, y0, y1 = bounds
    i0, i1 = max(int(y0 * size) - 1, 0), min(int(y1 * size) + 2, size)
    j0, j1 = max(int(x0 * size) - 1, 0), min(int(x1 * size) + 2, size)
    if i0 >= i1 or j0 >= j1:
        return None
    return slice(i0, i1), slice(j0, j1)


def axial_label_map(anatomy: Anatomy, size: int) -> np.ndarray:
    """The axial slice's label map shared by MRI and CT: uint8 (size, size)."""
    y, x = pixel_grid(size)
    return rasterise(anatomy, x, y, functools.partial(grid_slices, size=size))


def liver_points(
    anatomy: Anatomy, count: int, rng: np.random.Generator, *, depth: float = 0.8
) -> np.ndarray:
    """``count`` points (x, y) inside the liver, well away from its outline (field <= depth).

    Drawn by rejection in the liver's frame, so they do not depend on image size.
    Returns float64 (count, 2) in field-of-view fractions.
    """
    liver = anatomy.liver
    found = np.empty((0, 2))
    while found.shape[0] < count:
        u = rng.uniform(-1.0, 1.0, size=4 * count + 8)
        v = rng.uniform(-1.0, 1.0, size=4 * count + 8)
        x, y = liver.to_fov(u, v)
        inside = liver.field(x.astype(np.float32), y.astype(np.float32)) <= depth
        found = np.concatenate([found, np.stack([x[inside], y[inside]], axis=1)])
    return found[:count]
