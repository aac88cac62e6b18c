"""The body outline, its habitus and its wall: fat, muscle, ribs, costal cartilage, lung bases.

Habitus (ANATOMY.md 1.1-1.3, 2.6): a BMI is drawn per sex (log-normal, men mu 3.35 and
sigma 0.18, women 3.36 and 0.24). It sets the subcutaneous fat (women about 10 mm more
at the same BMI) and, through visceral fat, the size of the abdominal cavity, which
grows faster with BMI in men (android fat). The abdominal-wall and back muscles are
thicker in men (L1 muscle area about 134 against 88 cm2). Organs are placed relative to
the cavity (``Body.place``), so a larger cavity leaves more visceral fat between them
and the wall. The field of view stays 360 mm: the heaviest patients are cut laterally,
as they are clinically.

The wall (ANATOMY.md 2.5): ribs 7-12 are cut obliquely, so they show as arcs in the
wall (eight in all), with the costal cartilages of the costal margin anteriorly on
either side of the rectus sheath; the right lateral intercostal window (body-centre
angles 150-210 degrees, image y downwards) is left free for the ultrasound probe. The
lung bases are crescents in the posterior costophrenic recesses, behind the liver and
the spleen, with the diaphragm's muscle on their abdominal side.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from generator.geometry import FOV_MM, mm

#: Superellipse exponent of the body outline (flatter flanks than an ellipse); 2.5 so that
#: |a|^2.5 = a^2 * sqrt(|a|) avoids a general power.
BODY_EXPONENT = 2.5
#: BMI, log-normal per sex: (mu, sigma) of log BMI (ANATOMY.md 1.2, adults 40-80), and
#: the range kept.
BMI_LOG_NORMAL = {"M": (3.35, 0.18), "F": (3.36, 0.24)}
BMI_RANGE = (17.0, 45.0)
#: Subcutaneous fat depth, mm, at BMI 25 and per kg/m2 (women 6-24 mm more at matched
#: sites: ANATOMY.md 1.3), and its between-patient SD.
FAT_MM_AT_25 = {"M": 13.0, "F": 22.0}
FAT_MM_PER_BMI = {"M": 1.3, "F": 1.6}
FAT_MM_SD, FAT_MM_MIN = 4.0, 3.0
#: Abdominal-wall muscle depth, mm (men about 1.25x: muscle area 1.52x).
MUSCLE_MM = {"M": 12.0, "F": 9.5}
#: Cavity (inside the wall muscle) semi-axes at BMI 28 in FOV fractions, and the relative
#: growth per kg/m2 of BMI through visceral fat (men more: ANATOMY.md 1.3).
CAVITY_SEMI_X, CAVITY_SEMI_Y_ANTERIOR, CAVITY_SEMI_Y_POSTERIOR = 0.355, 0.235, 0.235
CAVITY_GROWTH_PER_BMI = {"M": 0.012, "F": 0.007}
#: Android shape: men's cavity grows this much faster front to back than sideways.
ANDROID_AP_GAIN = 0.5
CAVITY_SD = 0.045
#: Ribs: thickness in the wall, mm; angular spans (degrees, body-centre angle, image y
#: down: 0 is the patient's left, 90 posterior, 180 right, 270 anterior) of the rib arcs
#: and of the costal cartilages. The right window 150-210 degrees stays free.
RIB_MM = (7.0, 9.0)
RIB_ARCS = (
    (100.0, 116.0),
    (122.0, 142.0),
    (214.0, 232.0),
    (38.0, 56.0),
    (16.0, 33.0),
    (-8.0, 10.0),
    (-32.0, -15.0),
    (64.0, 78.0),
)
CARTILAGE_ARCS = ((238.0, 254.0), (-58.0, -44.0), (-76.0, -64.0))
RIB_JITTER_DEGREES = 3.0
#: Lung-base crescents: angular span (degrees) per side, greatest depth (mm) and the
#: probability that a side is seen at this level (the recess reaches L1 in most people).
LUNG_ARCS = {"right": (103.0, 146.0), "left": (34.0, 78.0)}
LUNG_DEPTH_MM = (8.0, 22.0)
LUNG_PROBABILITY = 0.85
#: Thickness of the diaphragm's muscle on the lung's abdominal side, mm.
DIAPHRAGM_MM = (3.0, 5.0)


@dataclasses.dataclass(frozen=True)
class Body:
    """The body outline (a superellipse, flatter behind), its wall layers and habitus.

    ``fat_thickness`` and ``muscle_thickness`` are the wall layers (FOV fractions);
    ``bmi`` (kg/m2) the patient's BMI; ``organ_scale`` the cavity's size relative to the
    reference, by which ``place`` spreads the organs.
    """

    center: tuple[float, float]
    semi_x: float
    semi_y_anterior: float
    semi_y_posterior: float
    fat_thickness: float
    muscle_thickness: float
    bmi: float
    organ_scale: float

    def level(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """|dx/a|^2.5 + |dy/b|^2.5 of the outline: 1 on the skin (radius r -> r^2.5); float32."""
        cx, cy = self.center
        dx, dy = x - np.float32(cx), y - np.float32(cy)
        inv_y = np.where(
            dy < 0, np.float32(1.0 / self.semi_y_anterior), np.float32(1.0 / self.semi_y_posterior)
        )
        a = np.abs(dx * np.float32(1.0 / self.semi_x))
        b = np.abs(dy * inv_y)
        return a * a * np.sqrt(a) + b * b * np.sqrt(b)

    @property
    def effective_diameter_mm(self) -> float:
        """sqrt(AP x LAT) of the outline, mm (the CT size metric; ANATOMY.md 1.1)."""
        ap = self.semi_y_anterior + self.semi_y_posterior
        return FOV_MM * math.sqrt(ap * 2.0 * self.semi_x)

    @property
    def mean_semi(self) -> float:
        """Mean semi-axis of the outline, FOV fractions (converts depths to radii)."""
        return (self.semi_x + 0.5 * (self.semi_y_anterior + self.semi_y_posterior)) / 2.0

    def depth_level(self, depth: float) -> float:
        """The ``level`` of the points ``depth`` (FOV fractions) inside the skin."""
        return max(1.0 - depth / self.mean_semi, 0.0) ** BODY_EXPONENT

    def layer_levels(self) -> tuple[float, float]:
        """Levels (as ``level``) of the muscle's and the abdominal cavity's outer edges."""
        return (
            self.depth_level(self.fat_thickness),
            self.depth_level(self.fat_thickness + self.muscle_thickness),
        )

    def place(self, dx: float, dy: float) -> tuple[float, float]:
        """The point at offset (dx, dy) of the reference cavity, in this patient's cavity."""
        return self.center[0] + self.organ_scale * dx, self.center[1] + self.organ_scale * dy

    def radius(self, px: float, py: float) -> float:
        """Normalised radius of the point (px, py): < 1 inside the skin."""
        dx, dy = px - self.center[0], py - self.center[1]
        semi_y = self.semi_y_anterior if dy < 0 else self.semi_y_posterior
        p = BODY_EXPONENT
        return (abs(dx / self.semi_x) ** p + abs(dy / semi_y) ** p) ** (1.0 / p)

    def outline_point(self, angle: float, depth: float) -> tuple[float, float]:
        """The point ``depth`` (FOV fractions, radially) inside the skin at ``angle``
        (radians, from the body's centre): (x, y) floats."""
        cx, cy = self.center
        dx, dy = math.cos(angle), math.sin(angle)
        reach = (1.0 - depth / self.mean_semi) / self.radius(cx + dx, cy + dy)
        return cx + reach * dx, cy + reach * dy

    def skin_point(self, x: float, y: float, angle: float) -> tuple[float, float]:
        """Where the ray from (x, y) inside the body in direction ``angle`` leaves the skin."""
        inner, outer = 0.0, 1.0
        dx, dy = math.cos(angle), math.sin(angle)
        for _ in range(30):  # bisection on the normalised radius
            mid = (inner + outer) / 2
            inside = self.radius(x + mid * dx, y + mid * dy) <= 1.0
            inner, outer = (mid, outer) if inside else (inner, mid)
        return x + inner * dx, y + inner * dy


@dataclasses.dataclass(frozen=True)
class WallBand:
    """A band of the body wall between two depths below the skin, over an arc of angles.

    At the fraction t (0..1) along the arc from ``start`` (radians, body-centre angle)
    over ``span``, the band runs from depth ``depth - outer * p`` to ``depth + inner * p``
    (FOV fractions) with the profile p = sin(pi t) ** ``power``: rounded ends for a rib
    (``outer = inner``), a crescent for a lung base (``outer = 0``).
    """

    body: Body
    start: float
    span: float
    depth: float
    outer: float
    inner: float
    power: float

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bool mask of the points inside the band."""
        return self.inside_at_level(x, y, self.body.level(x, y))

    def inside_at_level(self, x: np.ndarray, y: np.ndarray, level: np.ndarray) -> np.ndarray:
        """``inside``, given the body outline's ``level`` at the points."""
        cx, cy = self.body.center
        return self.contains(np.arctan2(y - np.float32(cy), x - np.float32(cx)), level)

    def contains(self, angle: np.ndarray, level: np.ndarray) -> np.ndarray:
        """Whether points at body-centre ``angle`` (radians) and outline ``level`` lie in
        the band: bool, the shape of ``angle``."""
        t = np.mod(angle - np.float32(self.start), np.float32(2.0 * math.pi))
        t *= np.float32(1.0 / self.span)
        along = t <= 1.0
        profile = np.maximum(np.sin(np.float32(math.pi) * np.minimum(t, 1.0)), 0.0)
        if self.power != 1.0:
            profile **= np.float32(self.power)
        scale = np.float32(1.0 / self.body.mean_semi)
        radius_outer = 1.0 - (np.float32(self.depth) - np.float32(self.outer) * profile) * scale
        radius_inner = 1.0 - (np.float32(self.depth) + np.float32(self.inner) * profile) * scale
        outer_level = np.maximum(radius_outer, 0.0) ** np.float32(BODY_EXPONENT)
        inner_level = np.maximum(radius_inner, 0.0) ** np.float32(BODY_EXPONENT)
        return along & (level <= outer_level) & (level >= inner_level)

    @functools.cached_property
    def _box(self) -> tuple[float, float, float, float]:
        points = [
            self.body.outline_point(self.start + self.span * k / 8, depth)
            for k in range(9)
            for depth in (self.depth - self.outer, self.depth + self.inner)
        ]
        xs, ys = zip(*points, strict=True)
        margin = 0.01
        return min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin

    def bounds(self) -> tuple[float, float, float, float]:
        """A box (x0, x1, y0, y1) holding the band (its outline sampled along the arc)."""
        return self._box


@dataclasses.dataclass(frozen=True)
class Wall:
    """The bony and pleural parts of the wall: rib arcs, costal cartilages, lung bases and
    the diaphragm's muscle over them."""

    ribs: tuple[WallBand, ...]
    cartilages: tuple[WallBand, ...]
    lungs: tuple[WallBand, ...]
    diaphragm: tuple[WallBand, ...]


def sample_body(sex: str, rng: np.random.Generator) -> Body:
    """Draw the habitus of a patient of ``sex`` ("M" or "F") from its ``body`` stream."""
    mu, sigma = BMI_LOG_NORMAL[sex]
    bmi = float(np.clip(math.exp(mu + sigma * rng.standard_normal()), *BMI_RANGE))
    fat_mm = FAT_MM_AT_25[sex] + FAT_MM_PER_BMI[sex] * (bmi - 25.0)
    fat_mm = max(fat_mm + FAT_MM_SD * rng.standard_normal(), FAT_MM_MIN)
    muscle_mm = MUSCLE_MM[sex] * math.exp(0.12 * rng.standard_normal())
    growth = CAVITY_GROWTH_PER_BMI[sex] * (bmi - 28.0)
    scale = math.exp(CAVITY_SD * rng.standard_normal()) * (1.0 + growth)
    ap_gain = 1.0 + (ANDROID_AP_GAIN * growth if sex == "M" else 0.0)
    wall = mm(fat_mm + muscle_mm)
    # Women carry more subcutaneous fat laterally (the flanks), men front to back.
    lateral_fat = mm(fat_mm) * (0.15 if sex == "F" else 0.0)
    center = (0.5 + rng.normal(0.0, 0.008), 0.5 + rng.normal(0.0, 0.008))
    semi_x = CAVITY_SEMI_X * scale * rng.uniform(0.97, 1.03) + wall + lateral_fat
    return Body(
        center=center,
        semi_x=semi_x,
        semi_y_anterior=CAVITY_SEMI_Y_ANTERIOR * scale * ap_gain * rng.uniform(0.95, 1.05) + wall,
        semi_y_posterior=CAVITY_SEMI_Y_POSTERIOR * scale * rng.uniform(0.97, 1.03) + wall,
        fat_thickness=mm(fat_mm),
        muscle_thickness=mm(muscle_mm),
        bmi=bmi,
        organ_scale=scale,
    )


def _arc(low: float, high: float, rng: np.random.Generator) -> tuple[float, float]:
    """A jittered arc (start, span) in radians from the degree range (low, high)."""
    start = low + rng.uniform(-RIB_JITTER_DEGREES, RIB_JITTER_DEGREES)
    span = (high - low) * rng.uniform(0.8, 1.1)
    return math.radians(start), math.radians(span)


def sample_wall(body: Body, rng: np.random.Generator) -> Wall:
    """Draw the rib arcs, costal cartilages and lung bases from the ``wall`` stream."""
    rib_depth = body.fat_thickness + 0.6 * body.muscle_thickness

    def band(low: float, high: float) -> WallBand:
        start, span = _arc(low, high, rng)
        half = mm(rng.uniform(*RIB_MM)) / 2
        return WallBand(body, start, span, rib_depth, half, half, 0.35)

    ribs = tuple(band(low, high) for low, high in RIB_ARCS)
    cartilages = tuple(band(low, high) for low, high in CARTILAGE_ARCS)
    cavity = body.fat_thickness + body.muscle_thickness
    lungs, diaphragm = [], []
    for low, high in LUNG_ARCS.values():
        seen = rng.uniform() < LUNG_PROBABILITY
        start, span = _arc(low, high, rng)
        depth = mm(rng.uniform(*LUNG_DEPTH_MM))
        muscle = mm(rng.uniform(*DIAPHRAGM_MM))
        if seen:
            lungs.append(WallBand(body, start, span, cavity, 0.0, depth, 0.8))
            diaphragm.append(WallBand(body, start, span, cavity, 0.0, depth + muscle, 0.8))
    return Wall(ribs, cartilages, tuple(lungs), tuple(diaphragm))
