"""Per-patient geometry shared by all modalities.

Positions and sizes are fractions of the field of view, so the same patient has the
same anatomy at every image size. Rasterising turns them into masks.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

#: Label-map ids shared by every modality.
BACKGROUND, LIVER = 0, 1
LABEL_NAMES = {BACKGROUND: "background", LIVER: "liver"}

#: The ultrasound probe magnifies the liver region by this factor around the liver centre.
ULTRASOUND_ZOOM = 1.5


@dataclasses.dataclass(frozen=True)
class Ellipse:
    """An ellipse in field-of-view fractions: centre, semi-axes, rotation (radians)."""

    center_x: float
    center_y: float
    semi_major: float
    semi_minor: float
    rotation: float

    def zoomed(self, factor: float) -> Ellipse:
        """The ellipse seen through a view magnified by ``factor`` around its centre."""
        return dataclasses.replace(
            self,
            center_x=0.5,
            center_y=0.5,
            semi_major=self.semi_major * factor,
            semi_minor=self.semi_minor * factor,
        )


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """The patient's liver, placed in the axial slice (radiological convention)."""

    liver: Ellipse


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw a liver position, size and rotation; independent of image size."""
    liver = Ellipse(
        center_x=rng.uniform(0.38, 0.50),
        center_y=rng.uniform(0.42, 0.56),
        semi_major=rng.uniform(0.22, 0.30),
        semi_minor=rng.uniform(0.15, 0.21),
        rotation=rng.uniform(-0.5, 0.5),
    )
    return Anatomy(liver=liver)


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as field-of-view fractions: two read-only (size, size) float32."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    y, x = np.meshgrid(axis, axis, indexing="ij")
    y.flags.writeable = False
    x.flags.writeable = False
    return y, x


def ellipse_mask(ellipse: Ellipse, size: int) -> np.ndarray:
    """Boolean (size, size) mask of the pixels whose centre lies inside ``ellipse``."""
    y, x = pixel_grid(size)
    cos, sin = np.cos(ellipse.rotation), np.sin(ellipse.rotation)
    dx, dy = x - ellipse.center_x, y - ellipse.center_y
    u = (dx * cos + dy * sin) / ellipse.semi_major
    v = (-dx * sin + dy * cos) / ellipse.semi_minor
    return u * u + v * v <= 1.0


def label_map(mask: np.ndarray) -> np.ndarray:
    """uint8 label map (0 background, 1 liver) from a liver mask."""
    return np.where(mask, LIVER, BACKGROUND).astype(np.uint8)
