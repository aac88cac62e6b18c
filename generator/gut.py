"""The stomach and the colon at the level of the porta hepatis (ANATOMY.md 2.5).

The stomach lies in the left upper quadrant deep to the left lobe: a wall (3-6 mm, as the
antrum's in Pickhardt 2003, with rugal folds on its inner surface) around its contents,
supine: gas in the non-dependent (anterior) part above a horizontal level, fluid below.
The colon is cut at the hepatic flexure (under the right lobe, anterior) and at the
splenic flexure (anterior to the spleen): a thin wall around mottled stool with gas
bubbles, or a gas-filled lumen.

These are soft contents (``label_ids.DISPLACEABLE_IDS``): the liver and the spleen
displace them as they grow.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from generator.body import Body
from generator.geometry import Ellipse, mm

#: Probability that the colon at a flexure holds a gas-filled lumen rather than stool.
GAS_FILLED_COLON_PROBABILITY = 0.3


@dataclasses.dataclass(frozen=True)
class Stomach:
    """The stomach: its outer wall ``outline``, the wall's relative depth, the rugal folds
    (count, relative depth, phase) and the gas-fluid level (a y, FOV fractions)."""

    outline: Ellipse
    wall: float  # fraction of the outline's radius
    rugae_count: int
    rugae_depth: float  # fraction of the lumen's radius
    rugae_phase: float
    gas_level: float

    def lumen(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bool mask of the points inside the lumen (inside the wall and its folds)."""
        u, v = self.outline.local(x, y)
        angle = np.arctan2(v, u)
        folds = np.sin(np.float32(self.rugae_count) * angle + np.float32(self.rugae_phase))
        radius = np.float32(1.0 - self.wall) * (
            1.0 - np.float32(self.rugae_depth) * (0.5 + 0.5 * folds) ** 2
        )
        return u * u + v * v <= radius * radius


@dataclasses.dataclass(frozen=True)
class Colon:
    """A colonic flexure: its outline (wall and stool) and the gas inside it."""

    outline: Ellipse
    gas: tuple[Ellipse, ...]


def sample_stomach(body: Body, rng: np.random.Generator) -> Stomach:
    """Draw the stomach from the ``stomach`` stream."""
    x, y = body.place(rng.uniform(0.17, 0.22), rng.uniform(-0.04, 0.04))
    scale = body.organ_scale
    outline = Ellipse(
        x,
        y,
        rng.uniform(0.07, 0.10) * scale,
        rng.uniform(0.05, 0.07) * scale,
        rng.uniform(-0.2, 0.9),
    )
    wall = mm(rng.uniform(3.0, 6.0)) / outline.semi_minor
    gas_fraction = rng.uniform(-0.2, 0.6)  # below 0: no gas
    top = outline.center_y - outline.semi_minor
    gas_level = top + max(gas_fraction, 0.0) * 2.0 * outline.semi_minor
    return Stomach(
        outline=outline,
        wall=wall,
        rugae_count=int(rng.integers(9, 16)),
        rugae_depth=rng.uniform(0.1, 0.3),
        rugae_phase=rng.uniform(0.0, 2.0 * math.pi),
        gas_level=gas_level,
    )


def _flexure(
    body: Body, rng: np.random.Generator, dx: tuple[float, float], dy: tuple[float, float]
) -> Colon:
    x, y = body.place(rng.uniform(*dx), rng.uniform(*dy))
    scale = body.organ_scale
    outline = Ellipse(
        x, y, rng.uniform(0.035, 0.055) * scale, rng.uniform(0.025, 0.04) * scale, rng.uniform(0, 3)
    )
    if rng.uniform() < GAS_FILLED_COLON_PROBABILITY:
        wall = mm(2.5)
        lumen = Ellipse(
            x, y, outline.semi_major - wall, outline.semi_minor - wall, outline.rotation
        )
        return Colon(outline, (lumen,))
    bubbles = []
    for _ in range(int(rng.integers(1, 4))):
        u, v = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)
        bx, by = outline.to_fov(u, v)
        radius = mm(rng.uniform(1.5, 4.0))
        bubbles.append(Ellipse(bx, by, radius, radius * rng.uniform(0.6, 1.0), rng.uniform(0, 3)))
    return Colon(outline, tuple(bubbles))


def sample_colon(body: Body, rng: np.random.Generator) -> tuple[Colon, Colon]:
    """The hepatic and splenic flexures, from the ``colon`` stream."""
    hepatic = _flexure(body, rng, (-0.2, -0.06), (-0.26, -0.2))
    splenic = _flexure(body, rng, (0.26, 0.31), (-0.1, 0.0))
    return hepatic, splenic
