"""Small round structures (nodules, spots, reflections) stamped in local patches."""

from __future__ import annotations

import numpy as np


def stamp_disc(
    image: np.ndarray, center_yx: tuple[float, float], radius: float, amplitude: float
) -> None:
    """Add a soft-edged disc of ``amplitude`` and ``radius`` pixels at ``center_yx``, in place.

    Only the disc's bounding patch is touched.
    """
    size_y, size_x = image.shape
    cy, cx = center_yx
    reach = radius + 1.0
    y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, size_y)
    x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, size_x)
    if y0 >= y1 or x0 >= x1:
        return
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    distance = np.sqrt(yy * yy + xx * xx)
    weight = np.clip(radius + 0.5 - distance, 0.0, 1.0)
    image[y0:y1, x0:x1] += amplitude * weight


def random_points_in_mask(mask: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` (y, x) pixel centres drawn uniformly from ``mask``: float array (count, 2)."""
    candidates = np.flatnonzero(mask)
    if count == 0 or candidates.size == 0:
        return np.empty((0, 2), dtype=np.float64)
    chosen = candidates[rng.integers(candidates.size, size=count)]
    rows, cols = np.divmod(chosen, mask.shape[1])
    return np.stack([rows + 0.5, cols + 0.5], axis=1).astype(np.float64)
