"""The liver's portal and hepatic vein trees as the axial slice cuts them.

At the porta hepatis (ANATOMY.md 2.4) the main portal vein (about 15 mm on CT) enters
the hilum and divides into the right and left portal veins, which run in the slice and
branch, tapering, into the lobes: tubes and their branches. The hepatic veins run
craniocaudally to the IVC above this level, so the slice cuts the right, middle and
left veins and their tributaries across: circles and ovals, with a few short oblique
runs. Everything is drawn in the liver's frame (unit coordinates of its ellipse, which
disease does not change), so the trees are the same at every stage; the paint order
keeps only their parts inside the liver.
"""

from __future__ import annotations

import math

import numpy as np

from generator.geometry import Capsule, Ellipse, mm

#: Portal branches: (parent index or -1, end point (u, v) in the liver frame, radius at
#: the start and at the end, mm). The main portal vein starts at (0.30, 0.30).
PORTAL_START = (0.30, 0.30)
PORTAL_BRANCHES = (
    (-1, (0.16, 0.10), 7.5, 7.0),  # main portal vein to the hilum
    (0, (-0.12, 0.06), 6.0, 5.0),  # right portal vein
    (1, (-0.42, -0.22), 4.0, 2.5),  # right anterior branch
    (1, (-0.50, 0.34), 4.0, 2.5),  # right posterior branch
    (0, (0.40, -0.12), 5.0, 4.0),  # left portal vein, transverse part
    (4, (0.56, -0.36), 3.5, 2.0),  # umbilical part
)
#: Twigs at the end of every branch but the main trunk: count per end, length (frame
#: units), radii (mm) and the spread of their angle off the parent (radians).
TWIGS_PER_END, TWIG_LENGTH, TWIG_RADII, TWIG_SPREAD = 1, (0.06, 0.12), (2.6, 1.8), 0.6
#: Hepatic veins cut across: (u, v) in the liver frame and radius range (mm).
HEPATIC_VEINS = (
    ((-0.45, 0.15), (4.0, 6.0)),
    ((-0.02, -0.22), (3.5, 5.0)),
    ((0.5, -0.25), (2.5, 4.0)),
)
#: Small hepatic tributaries cut across: count range and radius range (mm).
TRIBUTARIES, TRIBUTARY_MM = (3, 5), (1.2, 2.5)
#: SD of the jitter of every node (liver-frame units).
NODE_JITTER = 0.05


def sample_vessels(frame: Ellipse, rng: np.random.Generator) -> tuple[Capsule | Ellipse, ...]:
    """The portal tree (tubes) and the hepatic veins (cross-sections) in ``frame``."""
    jitter = rng.normal(0.0, NODE_JITTER, size=(len(PORTAL_BRANCHES), 2))
    nodes: list[tuple[float, float]] = []
    shapes: list[Capsule | Ellipse] = []
    for k, (parent, (u, v), r0, r1) in enumerate(PORTAL_BRANCHES):
        start = PORTAL_START if parent < 0 else nodes[parent]
        end = (u + jitter[k, 0], v + jitter[k, 1])
        nodes.append(end)
        shapes.append(Capsule(frame.to_fov(*start), frame.to_fov(*end), mm(r0), mm(r1)))
        if parent < 0:
            continue
        heading = math.atan2(end[1] - start[1], end[0] - start[0])
        for _ in range(TWIGS_PER_END):
            angle = heading + rng.uniform(-TWIG_SPREAD, TWIG_SPREAD)
            length = rng.uniform(*TWIG_LENGTH)
            tip = (end[0] + length * math.cos(angle), end[1] + length * math.sin(angle))
            shapes.append(
                Capsule(
                    frame.to_fov(*end), frame.to_fov(*tip), mm(TWIG_RADII[0]), mm(TWIG_RADII[1])
                )
            )
    for (u, v), (low, high) in HEPATIC_VEINS:
        x, y = frame.to_fov(u + rng.normal(0, NODE_JITTER), v + rng.normal(0, NODE_JITTER))
        radius = mm(rng.uniform(low, high))
        shapes.append(Ellipse(x, y, radius, radius * rng.uniform(0.65, 1.0), rng.uniform(0, 3)))
    for _ in range(int(rng.integers(TRIBUTARIES[0], TRIBUTARIES[1] + 1))):
        x, y = frame.to_fov(rng.uniform(-0.75, 0.6), rng.uniform(-0.5, 0.55))
        radius = mm(rng.uniform(*TRIBUTARY_MM))
        shapes.append(Ellipse(x, y, radius, radius * rng.uniform(0.6, 1.0), rng.uniform(0, 3)))
    return tuple(shapes)
