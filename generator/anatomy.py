"""A patient's anatomy: frozen records of an axial slice through the upper abdomen.

The slice is at the level of the porta hepatis and the upper pole of the right kidney
(about L1), radiological convention. Positions and sizes are field-of-view fractions
(``generator.geometry``), so a patient has the same anatomy at every image size. The
records: the body and its habitus, wall, ribs, costal cartilages and lung bases
(``generator.body``); the vertebra, back muscles, psoas and crura
(``generator.spine``); the stomach and the colonic flexures (``generator.gut``); the
liver, a smooth union of three lobes (right, left, caudate) in a patient-specific
ellipse, with its portal and hepatic vein trees (``generator.vessels``); the spleen,
both kidneys, adrenals, pancreatic tail, gallbladder, aorta, IVC and small-bowel gas.

Stage-dependent morphology (REFERENCE.md, "Morphology"): surface nodularity (flat until
F3, marked at F4), caudate/right-lobe enlargement in F3-F4 (normal ratio 0.30, Harbin's
cut-off 0.65: ANATOMY.md 2.1), spleen growth (gradual, steepest at F3-F4), perihepatic
ascites in a minority of F4 patients. Morphology reads the latent severity through the
anatomy's own noise (``MORPHOLOGY_READOUT_SD``).

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

from generator.body import Body, Wall, sample_body, sample_wall
from generator.geometry import Capsule, Ellipse, mm
from generator.gut import Colon, Stomach, sample_colon, sample_stomach
from generator.random_streams import StreamFamily
from generator.spine import Spine, sample_crura, sample_spine
from generator.vessels import sample_vessels

# ---------------------------------------------------------------------------------------
# Morphology effect sizes (severity: 0 at the F0 median stiffness, 1 at the F4 median).
#: Severity above which the surface becomes nodular, and the severity span to full effect.
NODULARITY_ONSET, NODULARITY_SPAN = 0.65, 0.35
#: Surface bump amplitude (fraction of the liver's local radius^2) at full effect; a
#: small baseline keeps every liver slightly irregular.
NODULARITY_BASE, NODULARITY_FULL = 0.012, 0.17
#: Cap of the nodularity ramp (beyond it the bumps would become spikes).
NODULARITY_CAP = 1.4
#: Caudate width / right-lobe width at full effect: caudate growth and right-lobe
#: shrinkage (onset as for nodularity); the healthy ratio is CAUDATE_WIDTH / RIGHT_WIDTH.
CAUDATE_ONSET, CAUDATE_SPAN = 0.55, 0.45
CAUDATE_GROWTH, RIGHT_LOBE_SHRINK = 0.9, 0.18
CAUDATE_WIDTH, RIGHT_WIDTH = 0.26, 0.86
#: Spleen linear scale: 1 + SPLEEN_GROWTH * severity^SPLEEN_EXPONENT (volume ~2.7x in
#: cirrhosis, Ozgen 2024: linear ~1.4x), times a per-patient log-normal; its width in the
#: slice about 8.9 cm (Caglar 2014: ANATOMY.md 2.3).
SPLEEN_GROWTH, SPLEEN_EXPONENT, SPLEEN_SPREAD = 0.36, 2.0, 0.18
SPLEEN_SEMI_AXES = (0.12, 0.06)
#: Probability that the gallbladder is seen (it may be contracted or removed).
GALLBLADDER_PROBABILITY = 0.85
#: Probability that an adrenal, and the pancreatic tail, are cut by the slice.
ADRENAL_PROBABILITY, PANCREAS_PROBABILITY = 0.8, 0.9
#: SD of the anatomy's own read-out of severity (severity units), shared by all
#: morphological signs of one patient.
MORPHOLOGY_READOUT_SD = 0.35
#: Probability of ascites in F4 (decompensation: a minority).
ASCITES_PROBABILITY_F4 = 0.2
#: Small-bowel gas pockets: between these counts.
MIN_GAS_POCKETS, MAX_GAS_POCKETS = 2, 4
#: Aortic diameter, mm, by sex (suprarenal: ANATOMY.md 2.4), and its SD.
AORTA_MM, AORTA_MM_SD = {"M": 20.0, "F": 18.5}, 1.5


def _ramp(severity: float, onset: float, span: float) -> float:
    """0 below ``onset``, rising as t^1.5 to 1 at ``onset + span``, then linearly."""
    t = max(severity - onset, 0.0) / span
    return t**1.5 if t < 1.0 else 1.0 + 1.5 * (t - 1.0)


# ---------------------------------------------------------------------------------------
# Records


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
    vessels: tuple[Capsule | Ellipse, ...]  # portal tree (tubes), hepatic veins (cut across)
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
class Anatomy:
    """A patient's axial slice: one record per structure (see module docstring)."""

    body: Body
    wall: Wall
    liver: Liver
    spleen: Ellipse
    kidneys: tuple[Ellipse, Ellipse]  # right, left (upper pole)
    spine: Spine
    crura: tuple[Ellipse, Ellipse]  # right, left
    aorta: Ellipse
    ivc: Ellipse
    gallbladder: Ellipse | None  # None: contracted or removed
    stomach: Stomach
    colon: tuple[Colon, Colon]  # hepatic and splenic flexures
    bowel_gas: tuple[Ellipse, ...]  # small-bowel gas
    adrenals: tuple[Ellipse, ...]  # limbs of the adrenals the slice cuts
    pancreas: Ellipse | None  # the pancreatic tail, None where the slice misses it

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


def sample_anatomy(severity: float, stage: str, sex: str, streams: StreamFamily) -> Anatomy:
    """Draw a patient's anatomy from ``streams`` (its ``anatomy`` family); size independent.

    ``severity`` (normalised log stiffness) drives every morphological change through the
    anatomy's own read-out of it; ``stage`` only gates ascites (F4); ``sex`` ("M" or "F")
    shapes the habitus, the muscles and the aorta.
    """
    readout = severity + MORPHOLOGY_READOUT_SD * streams.rng("morphology").standard_normal()
    body = sample_body(sex, streams.rng("body"))
    spine = sample_spine(body, sex, streams.rng("spine"))
    liver = _sample_liver(body, readout, stage, streams)
    aorta = _sample_aorta(spine, sex, streams.rng("aorta"))
    ivc = _sample_ivc(spine, streams.rng("ivc"))
    return Anatomy(
        body=body,
        wall=sample_wall(body, streams.rng("wall")),
        liver=liver,
        spleen=_sample_spleen(body, readout, streams.rng("spleen")),
        kidneys=_sample_kidneys(spine, body, streams.rng("kidney")),
        spine=spine,
        crura=sample_crura(aorta, streams.rng("crura")),
        aorta=aorta,
        ivc=ivc,
        gallbladder=_sample_gallbladder(liver.frame, streams.rng("gallbladder")),
        stomach=sample_stomach(body, streams.rng("stomach")),
        colon=sample_colon(body, streams.rng("colon")),
        bowel_gas=_sample_bowel_gas(body, streams.rng("bowel_gas")),
        adrenals=_sample_adrenals(aorta, ivc, streams.rng("adrenals")),
        pancreas=_sample_pancreas(body, streams.rng("pancreas")),
    )


def _sample_liver(body: Body, readout: float, stage: str, streams: StreamFamily) -> Liver:
    """The liver frame, lobes and surface (stream ``liver``), ascites, diaphragm, vessels."""
    rng = streams.rng("liver")
    scale = body.organ_scale
    x, y = body.place(rng.uniform(-0.09, 0.01), rng.uniform(-0.07, 0.05))
    frame = Ellipse(
        center_x=x,
        center_y=y,
        semi_major=rng.uniform(0.21, 0.27) * scale,
        semi_minor=rng.uniform(0.14, 0.19) * scale,
        rotation=rng.uniform(-0.5, 0.5),
    )
    jitter = rng.uniform(0.9, 1.1, size=6)
    bump_count, bump_phase = int(rng.integers(22, 34)), rng.uniform(0.0, 2.0 * math.pi)
    caudate_gain = _ramp(readout, CAUDATE_ONSET, CAUDATE_SPAN)
    right_scale = (1.0 - RIGHT_LOBE_SHRINK * min(caudate_gain, 1.5)) * jitter[0]
    caudate_scale = (1.0 + CAUDATE_GROWTH * min(caudate_gain, 1.5)) * jitter[1]
    nodularity = NODULARITY_BASE + NODULARITY_FULL * min(
        _ramp(readout, NODULARITY_ONSET, NODULARITY_SPAN), NODULARITY_CAP
    )
    ascites = streams.rng("ascites")
    ascites_draw, ascites_thickness = ascites.uniform(), ascites.uniform(0.25, 0.5)
    has_ascites = stage == "F4" and ascites_draw < ASCITES_PROBABILITY_F4
    right_lobe = (-0.30, 0.12, RIGHT_WIDTH * right_scale, 0.88 * jitter[2], 0.0)
    left_lobe = (0.42, -0.30, 0.60 * jitter[3], 0.40 * jitter[4], -0.35 * jitter[5])
    caudate = (0.30, 0.40, CAUDATE_WIDTH * caudate_scale, 0.24 * caudate_scale, 0.3)
    smallest_right = RIGHT_WIDTH * (1.0 - RIGHT_LOBE_SHRINK * 1.5) * jitter[0]
    core = (
        (-0.30, 0.12, smallest_right, 0.88 * jitter[2], 0.0),
        left_lobe,
        (0.30, 0.40, CAUDATE_WIDTH * jitter[1], 0.24 * jitter[1], 0.3),
    )
    return Liver(
        frame=frame,
        right_lobe=right_lobe,
        left_lobe=left_lobe,
        caudate=caudate,
        nodularity=nodularity,
        bump_count=bump_count,
        bump_phase=bump_phase,
        ascites_thickness=ascites_thickness if has_ascites else 0.0,
        diaphragm_thickness=streams.rng("diaphragm").uniform(0.12, 0.18),
        vessels=sample_vessels(frame, streams.rng("vessels")),
        core=core,
    )


def _sample_spleen(body: Body, readout: float, rng: np.random.Generator) -> Ellipse:
    dx, dy, rotation = rng.uniform(0.2, 0.25), rng.uniform(0.08, 0.14), rng.uniform(-1.3, -0.9)
    spread = math.exp(SPLEEN_SPREAD * rng.standard_normal())
    scale = (1.0 + SPLEEN_GROWTH * max(readout, 0.0) ** SPLEEN_EXPONENT) * spread
    scale *= body.organ_scale
    x, y = body.place(dx, dy)
    semi_major, semi_minor = SPLEEN_SEMI_AXES
    return Ellipse(x, y, semi_major * scale, semi_minor * scale, rotation)


def _sample_kidneys(spine: Spine, body: Body, rng: np.random.Generator) -> tuple[Ellipse, Ellipse]:
    """The right kidney and the upper pole of the left, lateral to the psoas."""
    vertebra = spine.vertebral_body
    spread = math.sqrt(body.organ_scale)
    right = Ellipse(
        center_x=vertebra.center_x - rng.uniform(0.14, 0.17) * spread,
        center_y=vertebra.center_y - rng.uniform(0.0, 0.03),
        semi_major=rng.uniform(0.05, 0.06),
        semi_minor=rng.uniform(0.032, 0.04),
        rotation=rng.uniform(0.8, 1.2),
    )
    left = Ellipse(
        center_x=vertebra.center_x + rng.uniform(0.14, 0.16) * spread,
        center_y=vertebra.center_y - rng.uniform(-0.01, 0.02),
        semi_major=rng.uniform(0.038, 0.048),
        semi_minor=rng.uniform(0.028, 0.034),
        rotation=-rng.uniform(0.8, 1.2),
    )
    return right, left


def _sample_aorta(spine: Spine, sex: str, rng: np.random.Generator) -> Ellipse:
    vertebra = spine.vertebral_body
    radius = mm(AORTA_MM[sex] + AORTA_MM_SD * rng.standard_normal()) / 2
    x = vertebra.center_x + rng.uniform(0.012, 0.028)
    y = vertebra.center_y - vertebra.semi_minor - radius - mm(3.0)
    return Ellipse(x, y, radius, radius * rng.uniform(0.92, 1.0), 0.0)


def _sample_ivc(spine: Spine, rng: np.random.Generator) -> Ellipse:
    """A transverse oval (about 26 x 16 mm, ANATOMY.md 2.4) right of the aorta, anterior."""
    vertebra = spine.vertebral_body
    return Ellipse(
        vertebra.center_x - rng.uniform(0.04, 0.06),
        vertebra.center_y - vertebra.semi_minor - rng.uniform(0.035, 0.055),
        mm(rng.uniform(11.0, 14.0)),
        mm(rng.uniform(6.5, 9.0)),
        rng.uniform(0.2, 0.6),
    )


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
    pockets = []
    for _ in range(MAX_GAS_POCKETS):
        x, y = body.place(rng.uniform(0.0, 0.2), rng.uniform(-0.22, -0.08))
        semi = (rng.uniform(0.008, 0.02), rng.uniform(0.006, 0.014))
        pockets.append(Ellipse(x, y, *semi, rng.uniform(0.0, math.pi)))
    return tuple(pockets[:count])


def _sample_adrenals(aorta: Ellipse, ivc: Ellipse, rng: np.random.Generator) -> tuple[Ellipse, ...]:
    """The right adrenal (a thin limb behind the IVC) and the left (two limbs, a lambda,
    beside the aorta), each where the slice cuts it; limbs about 4 mm thick."""
    seen = rng.uniform(size=2) < ADRENAL_PROBABILITY
    limb = (mm(rng.uniform(10.0, 14.0)), mm(rng.uniform(1.8, 2.4)))
    right = Ellipse(ivc.center_x - mm(4.0), ivc.center_y + ivc.semi_minor + mm(9.0), *limb, 1.2)
    apex_x, apex_y = aorta.center_x + aorta.semi_major + mm(14.0), aorta.center_y - mm(2.0)
    left = tuple(
        Ellipse(apex_x + dx, apex_y + mm(8.0), *limb, angle)
        for dx, angle in ((-mm(2.0), 1.85), (mm(3.5), 1.25))
    )
    return ((right,) if seen[0] else ()) + (left if seen[1] else ())


def _sample_pancreas(body: Body, rng: np.random.Generator) -> Ellipse | None:
    """The pancreatic tail between the stomach and the left kidney, towards the spleen."""
    seen = rng.uniform() < PANCREAS_PROBABILITY
    x, y = body.place(rng.uniform(0.12, 0.17), rng.uniform(0.05, 0.09))
    tail = Ellipse(x, y, mm(rng.uniform(22.0, 30.0)), mm(rng.uniform(7.0, 10.0)), -0.45)
    return tail if seen else None
