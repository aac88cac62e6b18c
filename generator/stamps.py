"""Small round structures (nodules, spots, reflections) stamped in local patches.

Centres and radii are given in field-of-view fractions (size independent); only the
bounding patch of each disc is touched, never the whole image.
"""

from __future__ import annotations

import numpy as np

from generator.geometry import membership


def stamp_disc(
    image: np.ndarray,
    center_xy: tuple[float, float],
    radius: float,
    amplitude: float,
    *,
    label_map: np.ndarray | None = None,
    label: int = 0,
    inside: tuple[int, ...] = (),
) -> None:
    """Add a soft-edged disc to ``image`` in place, and optionally label it.

    Parameters
    ----------
    image : float32 (S, S), modified in place (``amplitude`` times a weight in [0, 1]).
    center_xy : disc centre (x, y) in field-of-view fractions.
    radius : disc radius in field-of-view fractions (at least half a pixel is drawn).
    amplitude : value added at the disc's centre, in the image's units.
    label_map, label, inside : if given, only pixels whose current label is in ``inside``
        receive the disc, and those among them with weight >= 0.5 are set to ``label``.
    """
    size_y, size_x = image.shape
    cx, cy = center_xy[0] * size_x, center_xy[1] * size_y
    radius_px = max(radius * size_x, 0.5)
    reach = radius_px + 1.0
    y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, size_y)
    x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, size_x)
    if y0 >= y1 or x0 >= x1:
        return
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] + np.float32(0.5 - cy)
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] + np.float32(0.5 - cx)
    weight = np.clip(np.float32(radius_px + 0.5) - np.sqrt(yy * yy + xx * xx), 0.0, 1.0)
    if label_map is not None:
        patch = label_map[y0:y1, x0:x1]
        allowed = membership(frozenset(inside))[patch]
        weight *= allowed
        patch[weight >= 0.5] = label
    image[y0:y1, x0:x1] += np.float32(amplitude) * weight
