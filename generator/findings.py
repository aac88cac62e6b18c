"""Focal findings inside the liver (nodules, spots, reflections), drawn stage-stably.

Each finding family draws from its own named stream: one uniform fixes the count through
the Poisson quantile function (so a higher mean never gives fewer findings), then
candidate points come in fixed batches from the liver frame's unit box and are kept
where they lie well inside the liver's core (``Liver.core_field``), the part of the
liver that no stage changes. Which candidates are kept therefore never depends on the
stage or the severity, so the same patient keeps its findings, in the same places, as
it progresses, and a later stage only adds to them.
"""

from __future__ import annotations

import math

import numpy as np

from generator.anatomy import Liver

#: Candidates drawn per batch (u, v and a radius factor each).
_BATCH = 32
#: Batches tried before giving up on a liver too thin to hold the findings.
_MAX_BATCHES = 64

#: A focal finding: centre (x, y) and radius, field-of-view fractions.
Finding = tuple[float, float, float]


def poisson_quantile(u: float, mean: float) -> int:
    """The smallest k with P(Poisson(mean) <= k) >= u; non-decreasing in ``mean``."""
    if mean <= 0.0:
        return 0
    k, term = 0, math.exp(-mean)
    cdf = term
    while cdf < u and k < 10_000:
        k += 1
        term *= mean / k
        cdf += term
    return k


def sample_findings(
    rng: np.random.Generator,
    liver: Liver,
    mean_count: float,
    radius: float,
    radius_spread: tuple[float, float],
    *,
    depth: float,
) -> tuple[Finding, ...]:
    """Findings in ``liver``'s core (core field <= ``depth``, at most 0.8), each of
    ``radius`` times a factor drawn uniformly in ``radius_spread``; their count is
    Poisson(``mean_count``)."""
    count = poisson_quantile(float(rng.uniform()), mean_count)
    found: list[Finding] = []
    low, high = radius_spread
    for _ in range(_MAX_BATCHES):
        if len(found) >= count:
            break
        u = rng.uniform(-1.0, 1.0, size=_BATCH)
        v = rng.uniform(-1.0, 1.0, size=_BATCH)
        factor = rng.uniform(low, high, size=_BATCH)
        x, y = liver.frame.to_fov(u, v)
        inside = liver.core_field(x.astype(np.float32), y.astype(np.float32)) <= depth
        for k in np.flatnonzero(inside):
            found.append((float(x[k]), float(y[k]), float(radius * factor[k])))
    return tuple(found[:count])
