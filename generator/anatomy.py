"""A patient's anatomy: frozen records of an axial slice through the upper abdomen.

Positions and sizes are field-of-view fractions (``generator.geometry``), so a patient
has the same anatomy at every image size. Structures: body outline with a subcutaneous
fat layer and abdominal-wall muscle, ribs, intra-abdominal fat and bowel (with gas),
vertebra, spinal canal and paraspinal muscles, aorta, inferior vena cava, right kidney,
spleen, diaphragm, gallbladder and a liver built as a smooth union of three lobes
(right, left, caudate) with intrahepatic vessels, inside a patient-specific ellipse.

Stage-dependent morphology (REFERENCE.md, "Morphology"): surface nodularity (flat until
F3, marked at F4), caudate/right-lobe enlargement in F3-F4, spleen growth (gradual,
steepest at F3-F4), perihepatic ascites in a minority of F4 patients. Morphology reads
the latent severity through the anatomy's own noise (``MORPHOLOGY_READOUT_SD``).

Sampling: every structure draws from its own named child stream of the patient's
``anatomy`` family (``StreamFamily.rng(name)``), and the draws of a stream never depend
on the stage or the severity: disease only decides how the draws are used. Changing a
patient's stage therefore changes only the disease-driven structures, and adding a
structure shifts no other.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from generator.geometry import Ellipse
from generator.random_streams import StreamFamily

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
#: Intrahepatic vessel cross-sections besides the portal vein: between these counts.
MIN_VESSELS, MAX_VESSELS = 3, 5
#: Bowel-gas pockets: between these counts.
MIN_GAS_POCKETS, MAX_GAS_POCKETS = 2, 4

#: Superellipse exponent of the body outline (flatter flanks than an ellipse); 2.5 so that
#: |a|^2.5 = a^2 * sqrt(|a|) avoids a general power.
BODY_EXPONENT = 2.5


def _ramp(severity: float, onset: float, span: float) -> float:
    """0 below ``onset``, rising as t^1.5 to 1 at ``onset + span``, then linearly."""
    t = max(severity - onset, 0.0) / span
    return t**1.5 if t < 1.0 else 1.0 + 1.5 * (t - 1.0)


# ---------------------------------------------------------------------------------------
# Records


@dataclasses.dataclass(frozen=True)
class Body:
    """The body outline (a superellipse, flatter behind) and its wall layers."""

    center: tuple[float, float]
    semi_x: float
    semi_y_anterior: float
    semi_y_posterior: float
    fat_thickness: float
    muscle_thickness: float

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

    def layer_levels(self) -> tuple[float, float]:
        """Levels (as ``level``) of the muscle's and the abdominal cavity's outer edges."""
        mean_semi = (self.semi_x + 0.5 * (self.semi_y_anterior + self.semi_y_posterior)) / 2.0
        muscle = 1.0 - self.fat_thickness / mean_semi
        cavity = 1.0 - (self.fat_thickness + self.muscle_thickness) / mean_semi
        return muscle**BODY_EXPONENT, cavity**BODY_EXPONENT

    def radius(self, px: float, py: float) -> float:
        """Normalised radius of the point (px, py): < 1 inside the skin."""
        dx, dy = px - self.center[0], py - self.center[1]
        semi_y = self.semi_y_anterior if dy < 0 else self.semi_y_posterior
        p = BODY_EXPONENT
        return (abs(dx / self.semi_x) ** p + abs(dy / semi_y) ** p) ** (1.0 / p)

    def outline_point(self, angle: float, depth: float) -> tuple[float, float]:
        """The point ``depth`` (FOV fractions, radially) inside the skin at ``angle``."""
        dx, dy = math.cos(angle), math.sin(angle)
        reach = 1.0 / self.radius(self.center[0] + dx, self.center[1] + dy)
        return self.center[0] + (reach - depth) * dx, self.center[1] + (reach - depth) * dy

    def skin_point(self, x: float, y: float, angle: float) -> tuple[float, float]:
        """Where the ray from (x, y) inside the body in direction ``angle`` leaves the skin."""
        inner, outer = 0.0, 1.0
        dx, dy = math.cos(angle), math.sin(angle)
        for _ in range(30):  # bisection on the normalised radius
            mid = (inner + outer) / 2
            inside = self.radius(x + mid * dx, y + mid * dy) <= 1.0
            inner, outer = (mid, outer) if inside else (inner, mid)
        return x + inner * dx, y + inner * dy


#: Sharpness of the soft union (log-sum-exp) of the liver's lobes.
_UNION_SHARPNESS = 8.0


def _soft_union(lobes, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smooth liver function of ``lobes`` at frame coordinates (u, v): <= 1 inside;
    float32 like ``u``. Growing a lobe lowers it everywhere."""
    smooth = _UNION_SHARPNESS
    uu, vv, uv = u * u, v * v, u * v
    total = np.full(u.shape, 1e-30, dtype=np.float32)
    for cu, cv, ru, rv, rot in lobes:
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
    return 1.0 - np.log(total) * np.float32(1.0 / smooth)


#: A liver lobe in the liver frame's unit coordinates: (centre_u, centre_v, radius_u,
#: radius_v, rotation).
Lobe = tuple[float, float, float, float, float]


@dataclasses.dataclass(frozen=True)
class Liver:
    """The liver: three lobes (ellipses in the frame of the patient's ellipse) and its surface.

    ``frame`` is the patient's liver ellipse (position, size, rotation), which disease
    does not change; the lobes, the surface and the ascites around it follow severity.
    """

    frame: Ellipse
    right_lobe: Lobe
    left_lobe: Lobe
    caudate: Lobe
    nodularity: float  # surface bump amplitude (fraction of q)
    bump_count: int  # nodules around the outline
    bump_phase: float  # radians
    ascites_thickness: float  # in q units; 0 without ascites
    diaphragm_thickness: float  # in q units, over the posterior surface
    vessels: tuple[Ellipse, ...]  # intrahepatic vessel cross-sections, FOV fractions
    #: The lobes at the smallest extent any severity gives them (right lobe fully
    #: shrunk, caudate not grown): the soft union only grows with a lobe, so this core
    #: lies inside the liver at every stage. Focal findings are placed in it.
    core: tuple[Lobe, Lobe, Lobe]

    @property
    def caudate_right_ratio(self) -> float:
        """Caudate width / right-lobe width (the Harbin ratio's geometry), dimensionless."""
        return self.caudate[2] / self.right_lobe[2]

    def field(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Implicit liver function: <= 1 inside the (nodular) outline; float32 like ``x``."""
        return self.fields(x, y)[1]

    def fields(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The liver function without and with the surface nodules (float32 like ``x``).

        The nodular field is exact where it is at most about 1 (inside and near the
        outline) and ``inf`` farther out.
        """
        u, v = self.frame.local(x, y)
        q = _soft_union((self.right_lobe, self.left_lobe, self.caudate), u, v)
        # The bumps scale q by 1 - nodularity * (b - 0.64) with b in [0, 1], at least
        # 1 - 0.36 * nodularity: where q exceeds the inverse (with a margin), the nodular
        # field exceeds 1 whatever the angle, so the angle is computed only nearer in.
        near = q <= np.float32(1.01 / (1.0 - 0.36 * self.nodularity))
        nodular = np.full(q.shape, np.inf, dtype=np.float32)
        angle = np.arctan2(v[near], u[near])
        bumps = np.abs(np.sin(np.float32(self.bump_count / 2.0) * angle + self.bump_phase))
        nodular[near] = q[near] * (1.0 - np.float32(self.nodularity) * (bumps - np.float32(0.64)))
        return q, nodular

    def core_field(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The smooth liver function of ``core``: where it is at most 0.8, the point lies
        inside the liver at every stage (the nodules scale the field by at most 1.1)."""
        u, v = self.frame.local(x, y)
        return _soft_union(self.core, u, v)

    def bounds(self) -> tuple[float, float, float, float]:
        """A box (x0, x1, y0, y1) holding the liver, its ascites and its diaphragm."""
        reach = math.sqrt(1.0 + self.ascites_thickness + self.diaphragm_thickness) * 1.25
        x0, x1, y0, y1 = self.frame.bounds()
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        hx, hy = (x1 - x0) / 2 * reach, (y1 - y0) / 2 * reach
        return mx - hx, mx + hx, my - hy, my + hy


@dataclasses.dataclass(frozen=True)
class Spine:
    """The vertebra at this level, its canal and the paraspinal muscles."""

    vertebral_body: Ellipse
    posterior_elements: tuple[Ellipse, Ellipse]  # neural arch and spinous process (bone)
    canal: Ellipse
    paraspinal: tuple[Ellipse, Ellipse]


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """A patient's axial slice: one record per structure (see module docstring)."""

    body: Body
    liver: Liver
    spleen: Ellipse
    kidney: Ellipse
    spine: Spine
    aorta: Ellipse
    ivc: Ellipse
    ribs: tuple[Ellipse, ...]
    gallbladder: Ellipse | None  # None: contracted or removed
    bowel_gas: tuple[Ellipse, ...]

    @property
    def has_ascites(self) -> bool:
        """Whether perihepatic ascites is present."""
        return self.liver.ascites_thickness > 0.0

    @property
    def surface_nodularity(self) -> float:
        """Surface bump amplitude of the liver outline (dimensionless, 0 = smooth)."""
        return self.liver.nodularity

    @property
    def caudate_right_ratio(self) -> float:
        """Caudate width / right-lobe width."""
        return self.liver.caudate_right_ratio


# ---------------------------------------------------------------------------------------
# Sampling: one helper and one named stream per structure.


def sample_anatomy(severity: float, stage: str, streams: StreamFamily) -> Anatomy:
    """Draw a patient's anatomy from ``streams`` (its ``anatomy`` family); size independent.

    ``severity`` (normalised log stiffness) drives every morphological change through the
    anatomy's own read-out of it; ``stage`` only gates ascites (F4).
    """
    readout = severity + MORPHOLOGY_READOUT_SD * streams.rng("morphology").standard_normal()
    body = _sample_body(streams.rng("body"))
    spine = _sample_spine(body, streams.rng("spine"))
    liver = _sample_liver(readout, stage, streams)
    return Anatomy(
        body=body,
        liver=liver,
        spleen=_sample_spleen(body, readout, streams.rng("spleen")),
        kidney=_sample_kidney(spine, streams.rng("kidney")),
        spine=spine,
        aorta=_sample_aorta(spine, streams.rng("aorta")),
        ivc=_sample_ivc(spine, streams.rng("ivc")),
        ribs=_sample_ribs(body, streams.rng("ribs")),
        gallbladder=_sample_gallbladder(liver.frame, streams.rng("gallbladder")),
        bowel_gas=_sample_bowel_gas(body, streams.rng("bowel_gas")),
    )


def _sample_body(rng: np.random.Generator) -> Body:
    center = (0.5 + rng.normal(0.0, 0.01), 0.5 + rng.normal(0.0, 0.01))
    return Body(
        center=center,
        semi_x=rng.uniform(0.42, 0.46),
        semi_y_anterior=rng.uniform(0.33, 0.38),
        semi_y_posterior=rng.uniform(0.30, 0.34),
        fat_thickness=rng.uniform(0.015, 0.04),
        muscle_thickness=rng.uniform(0.012, 0.02),
    )


def _sample_spine(body: Body, rng: np.random.Generator) -> Spine:
    spine_y = body.center[1] + body.semi_y_posterior - rng.uniform(0.13, 0.15)
    spine_x = body.center[0] + rng.normal(0.0, 0.008)
    radius = rng.uniform(0.045, 0.055)
    canal_y = spine_y + radius + 0.022
    return Spine(
        vertebral_body=Ellipse(spine_x, spine_y, radius * 1.05, radius, 0.0),
        posterior_elements=(
            Ellipse(spine_x, canal_y + 0.006, 0.034, 0.026, 0.0),
            Ellipse(spine_x, canal_y + 0.045, 0.009, 0.03, 0.0),
        ),
        canal=Ellipse(spine_x, canal_y, 0.018, 0.016, 0.0),
        paraspinal=tuple(
            Ellipse(spine_x + side * 0.065, spine_y + 0.075, 0.055, 0.04, side * 0.3)
            for side in (-1.0, 1.0)
        ),
    )


def _sample_liver(readout: float, stage: str, streams: StreamFamily) -> Liver:
    """The liver frame, lobes and surface (stream ``liver``), ascites, diaphragm, vessels."""
    rng = streams.rng("liver")
    frame = Ellipse(
        center_x=rng.uniform(0.38, 0.50),
        center_y=rng.uniform(0.42, 0.56),
        semi_major=rng.uniform(0.22, 0.30),
        semi_minor=rng.uniform(0.15, 0.21),
        rotation=rng.uniform(-0.5, 0.5),
    )
    jitter = rng.uniform(0.9, 1.1, size=6)
    bump_count, bump_phase = int(rng.integers(22, 34)), rng.uniform(0.0, 2.0 * math.pi)
    caudate_gain = _ramp(readout, CAUDATE_ONSET, CAUDATE_SPAN)
    right_scale = (1.0 - RIGHT_LOBE_SHRINK * min(caudate_gain, 1.5)) * jitter[0]
    caudate_scale = (1.0 + CAUDATE_GROWTH * caudate_gain) * jitter[1]
    nodularity = NODULARITY_BASE + NODULARITY_FULL * min(
        _ramp(readout, NODULARITY_ONSET, NODULARITY_SPAN), NODULARITY_CAP
    )
    ascites = streams.rng("ascites")
    ascites_draw, ascites_thickness = ascites.uniform(), ascites.uniform(0.25, 0.5)
    has_ascites = stage == "F4" and ascites_draw < ASCITES_PROBABILITY_F4
    right_lobe = (-0.30, 0.12, 0.86 * right_scale, 0.88 * jitter[2], 0.0)
    left_lobe = (0.42, -0.30, 0.60 * jitter[3], 0.40 * jitter[4], -0.35 * jitter[5])
    caudate = (0.30, 0.40, 0.34 * caudate_scale, 0.30 * caudate_scale, 0.3)
    smallest_right = 0.86 * (1.0 - RIGHT_LOBE_SHRINK * 1.5) * jitter[0]
    core = (
        (-0.30, 0.12, smallest_right, 0.88 * jitter[2], 0.0),
        left_lobe,
        (0.30, 0.40, 0.34 * jitter[1], 0.30 * jitter[1], 0.3),
    )
    liver = Liver(
        frame=frame,
        right_lobe=right_lobe,
        left_lobe=left_lobe,
        caudate=caudate,
        nodularity=nodularity,
        bump_count=bump_count,
        bump_phase=bump_phase,
        ascites_thickness=ascites_thickness if has_ascites else 0.0,
        diaphragm_thickness=streams.rng("diaphragm").uniform(0.12, 0.18),
        vessels=(),
        core=core,
    )
    return dataclasses.replace(liver, vessels=_sample_vessels(liver, streams.rng("vessels")))


def _sample_vessels(liver: Liver, rng: np.random.Generator) -> tuple[Ellipse, ...]:
    """Hepatic and portal vein cross-sections in the liver frame, then the portal vein."""
    count = int(rng.integers(MIN_VESSELS, MAX_VESSELS + 1))
    u = rng.uniform(-0.7, 0.2, size=MAX_VESSELS)
    v = rng.uniform(-0.45, 0.5, size=MAX_VESSELS)
    radius = rng.uniform(0.006, 0.012, size=MAX_VESSELS)
    centres = [(u[k], v[k], radius[k]) for k in range(count)]
    centres.append((0.18, 0.12, rng.uniform(0.012, 0.017)))  # portal vein at the hilum
    vessels = []
    for cu, cv, r in centres:
        x, y = liver.frame.to_fov(float(cu), float(cv))
        vessels.append(Ellipse(float(x), float(y), float(r), float(r) * 0.8, 0.5))
    return tuple(vessels)


def _sample_spleen(body: Body, readout: float, rng: np.random.Generator) -> Ellipse:
    dx, dy, rotation = rng.uniform(0.25, 0.30), rng.uniform(0.08, 0.14), rng.uniform(-1.3, -0.9)
    spread = math.exp(SPLEEN_SPREAD * rng.standard_normal())
    scale = (1.0 + SPLEEN_GROWTH * max(readout, 0.0) ** SPLEEN_EXPONENT) * spread
    return Ellipse(body.center[0] + dx, body.center[1] + dy, 0.085 * scale, 0.045 * scale, rotation)


def _sample_kidney(spine: Spine, rng: np.random.Generator) -> Ellipse:
    vertebra = spine.vertebral_body
    return Ellipse(
        center_x=vertebra.center_x - rng.uniform(0.14, 0.17),
        center_y=vertebra.center_y - rng.uniform(0.0, 0.03),
        semi_major=rng.uniform(0.05, 0.06),
        semi_minor=rng.uniform(0.032, 0.04),
        rotation=rng.uniform(0.8, 1.2),
    )


def _sample_aorta(spine: Spine, rng: np.random.Generator) -> Ellipse:
    vertebra = spine.vertebral_body
    x = vertebra.center_x + rng.uniform(0.015, 0.03)
    return Ellipse(x, vertebra.center_y - vertebra.semi_minor - 0.022, 0.02, 0.02, 0.0)


def _sample_ivc(spine: Spine, rng: np.random.Generator) -> Ellipse:
    vertebra = spine.vertebral_body
    return Ellipse(
        vertebra.center_x - rng.uniform(0.04, 0.06),
        vertebra.center_y - vertebra.semi_minor - rng.uniform(0.02, 0.04),
        rng.uniform(0.022, 0.028),
        rng.uniform(0.014, 0.018),
        0.3,
    )


def _sample_ribs(body: Body, rng: np.random.Generator) -> tuple[Ellipse, ...]:
    """Rib cross-sections in the body wall, leaving the right lateral intercostal window
    (body-centre angles 150-210 degrees, image y downwards) free for the ultrasound probe.
    """
    ranges = ((125.0, 145.0), (218.0, 240.0), (-65.0, -40.0), (15.0, 40.0))
    ribs = []
    for low, high in ranges:
        theta = math.radians(rng.uniform(low, high))
        px, py = body.outline_point(theta, body.fat_thickness + body.muscle_thickness / 2)
        ribs.append(Ellipse(px, py, 0.02, 0.011, theta + math.pi / 2))
    return tuple(ribs)


def _sample_gallbladder(frame: Ellipse, rng: np.random.Generator) -> Ellipse | None:
    """The gallbladder in the fossa between the lobes, on the liver's anterior surface."""
    present = rng.uniform() < GALLBLADDER_PROBABILITY
    u, v = rng.uniform(-0.1, 0.15), rng.uniform(-0.55, -0.4)
    semi_major, semi_minor = rng.uniform(0.035, 0.055), rng.uniform(0.02, 0.03)
    rotation = frame.rotation + rng.uniform(-0.4, 0.4)
    if not present:
        return None
    x, y = frame.to_fov(u, v)
    return Ellipse(x, y, semi_major, semi_minor, rotation)


def _sample_bowel_gas(body: Body, rng: np.random.Generator) -> tuple[Ellipse, ...]:
    count = int(rng.integers(MIN_GAS_POCKETS, MAX_GAS_POCKETS + 1))
    pockets = [
        Ellipse(
            body.center[0] + rng.uniform(0.05, 0.25),
            body.center[1] + rng.uniform(-0.22, -0.02),
            rng.uniform(0.012, 0.03),
            rng.uniform(0.01, 0.02),
            rng.uniform(0.0, math.pi),
        )
        for _ in range(MAX_GAS_POCKETS)
    ]
    return tuple(pockets[:count])
