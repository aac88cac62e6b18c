"""Plane geometry in field-of-view fractions: ellipses, the pixel grid and its patches.

Every position and size is a fraction of the axial field of view (``FOV_MM``), so a
patient has the same anatomy at every image size. Image y points down (anterior at the
top), image x to the patient's left (radiological convention).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np

#: Side of the axial field of view, mm: the one definition (``mm`` converts to fractions).
FOV_MM = 360.0


def mm(length_mm: float) -> float:
    """``length_mm`` millimetres as a fraction of the axial field of view."""
    return length_mm / FOV_MM


#: Maps a bounding box (x0, x1, y0, y1) in FOV fractions to the (rows, cols) slices of
#: the point arrays that can hold it; ``None`` means "no point can".
Locator = Callable[[tuple[float, float, float, float]], "tuple[slice, slice] | None"]


@dataclasses.dataclass(frozen=True)
class Ellipse:
    """An ellipse in field-of-view fractions: centre, semi-axes, rotation (radians)."""

    center_x: float
    center_y: float
    semi_major: float
    semi_minor: float
    rotation: float

    def local(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit coordinates (u along the major axis, v along the minor): float32 like ``x``."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        dx, dy = x - np.float32(self.center_x), y - np.float32(self.center_y)
        u = (dx * np.float32(cos) + dy * np.float32(sin)) * np.float32(1.0 / self.semi_major)
        v = (dy * np.float32(cos) - dx * np.float32(sin)) * np.float32(1.0 / self.semi_minor)
        return u, v

    def to_fov(self, u, v):
        """Inverse of ``local``: field-of-view (x, y) of unit coordinates (floats or arrays)."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        a, b = u * self.semi_major, v * self.semi_minor
        return self.center_x + a * cos - b * sin, self.center_y + a * sin + b * cos

    def q(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Squared normalised radius: < 1 inside, 1 on the outline; float32 like ``x``."""
        u, v = self.local(x, y)
        return u * u + v * v

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bool mask of the points (x, y) inside the ellipse (outline included)."""
        return self.q(x, y) <= 1.0

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
class Capsule:
    """A tapered tube segment (a vessel branch): from ``start`` (radius ``start_radius``)
    to ``end`` (radius ``end_radius``), FOV fractions."""

    start: tuple[float, float]
    end: tuple[float, float]
    start_radius: float
    end_radius: float

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bool mask of the points within the tube (round caps included)."""
        (ax, ay), (bx, by) = self.start, self.end
        ex, ey = bx - ax, by - ay
        length2 = max(ex * ex + ey * ey, 1e-12)
        dx, dy = x - np.float32(ax), y - np.float32(ay)
        t = np.clip((dx * np.float32(ex) + dy * np.float32(ey)) * np.float32(1.0 / length2), 0, 1)
        px, py = dx - t * np.float32(ex), dy - t * np.float32(ey)
        radius = np.float32(self.start_radius) + t * np.float32(self.end_radius - self.start_radius)
        return px * px + py * py <= radius * radius

    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box (x0, x1, y0, y1) in field-of-view fractions."""
        reach = max(self.start_radius, self.end_radius)
        (ax, ay), (bx, by) = self.start, self.end
        return min(ax, bx) - reach, max(ax, bx) + reach, min(ay, by) - reach, max(ay, by) + reach


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y, x) in FOV fractions: two read-only float32 (size, size)."""
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


@functools.lru_cache(maxsize=32)
def membership(ids: frozenset[int]) -> np.ndarray:
    """Read-only bool (256,): True at ``ids``; indexing it with a uint8 map tests membership."""
    table = np.zeros(256, dtype=bool)
    table[list(ids)] = True
    table.flags.writeable = False
    return table
