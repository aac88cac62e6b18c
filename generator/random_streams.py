"""Independent random streams keyed by (seed, patient index, purpose).

Each patient draws from its own ``PCG64`` streams built from a ``SeedSequence`` whose
entropy is ``(seed, index, purpose)``, never ``seed + index``: a patient therefore does
not depend on how many patients are generated, in which order, or in which process.
"""

from __future__ import annotations

import enum

import numpy as np


class Stream(enum.IntEnum):
    """What a stream is used for; the value is part of the stream's key."""

    LABELS = 0  # stage, stiffness, age
    SEX_PAIR = 1  # which patient of an index pair (2k, 2k+1) is male
    ANATOMY = 2  # geometry shared by all modalities (independent of image size)
    MRI = 3
    CT = 4
    ULTRASOUND = 5


def stream_rng(seed: int, key: int, stream: Stream) -> np.random.Generator:
    """Return the ``Generator`` for ``stream`` of ``key`` (a patient or pair index)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key, int(stream)])))
