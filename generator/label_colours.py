"""A fixed colour for every label-map id, for figures: background black, the others far apart.

The colours are picked greedily (Glasbey et al. 2007): each id takes the colour of a
fixed RGB lattice that is farthest, in CIELAB, from the colours of the ids before it,
among lattice colours of medium lightness (visible on black, and on white in a legend).
Every uint8 id has its colour, so a new id needs no change here, and it gets a colour
unlike those of the ids below it.
"""

from __future__ import annotations

import functools

import numpy as np

BACKGROUND_COLOUR = (0, 0, 0)
#: Levels of each RGB channel in the candidate lattice, and the lightness (CIELAB L*) the
#: candidates keep: not so dark that they vanish on black, nor so light on white.
_LEVELS = np.linspace(0, 255, 18)
_LIGHTNESS = (40.0, 88.0)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours, float64 (N, 3) in 0..255 -> (N, 3)."""
    linear = rgb / 255.0
    linear = np.where(linear > 0.04045, ((linear + 0.055) / 1.055) ** 2.4, linear / 12.92)
    xyz = linear @ np.array(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]]
    )
    xyz /= np.array([0.9505, 1.0, 1.089])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1
    )


@functools.cache
def label_colours() -> np.ndarray:
    """The colour of every uint8 id: uint8 (256, 3) RGB, read-only; row 0 (background) black.

    CIELAB is rounded to hundredths and compared in exact integer distances, so that
    last-bit differences of floating point between machines do not change the choice.
    """
    grid = np.stack(np.meshgrid(_LEVELS, _LEVELS, _LEVELS, indexing="ij"), -1).reshape(-1, 3)
    lab = np.round(_lab(grid) * 100).astype(np.int64)
    background_lab = np.round(_lab(np.array([BACKGROUND_COLOUR], float)) * 100).astype(np.int64)
    keep = (lab[:, 0] >= 100 * _LIGHTNESS[0]) & (lab[:, 0] <= 100 * _LIGHTNESS[1])
    candidates, candidates_lab = np.round(grid[keep]).astype(np.uint8), lab[keep]
    colours = [np.array(BACKGROUND_COLOUR, dtype=np.uint8)]
    nearest = ((candidates_lab - background_lab) ** 2).sum(axis=1)
    for _ in range(255):
        best = int(np.argmax(nearest))  # the first of equals
        colours.append(candidates[best])
        nearest = np.minimum(nearest, ((candidates_lab - candidates_lab[best]) ** 2).sum(axis=1))
    palette = np.stack(colours)
    palette.flags.writeable = False
    return palette


def colour_label_map(label_map: np.ndarray) -> np.ndarray:
    """uint8 (S, S) label ids -> uint8 (S, S, 3) RGB, each id in its ``label_colours`` row."""
    if label_map.dtype != np.uint8 or label_map.ndim != 2:
        raise ValueError(
            f"`label_map` must be uint8 (S, S), got {label_map.dtype} {label_map.shape}"
        )
    return label_colours()[label_map]
