"""Independent random streams keyed by (seed, patient index, purpose).

Each patient draws from its own ``PCG64`` streams built from a ``SeedSequence`` whose
entropy is ``(seed, index, purpose)``, never ``seed + index``: a patient therefore does
not depend on how many patients are generated, in which order, or in which process.

The cohort's labels use the two numbered streams of ``Stream``. Everything else (each
anatomical structure, each finding family, each modality's acquisition and noise) draws
from a named child stream of a ``StreamFamily``: its entropy is ``(seed, index,
crc32(family), crc32(part))``, so a structure or finding added later, or a stage that
uses fewer draws, shifts no other stream.
"""

from __future__ import annotations

import dataclasses
import enum
import zlib

import numpy as np


class Stream(enum.IntEnum):
    """The cohort's numbered streams; the value is part of the stream's key."""

    LABELS = 0  # stage, stiffness, age
    SEX_PAIR = 1  # which patient of an index pair (2k, 2k+1) is male


def stream_rng(seed: int, key: int, stream: Stream) -> np.random.Generator:
    """Return the ``Generator`` for ``stream`` of ``key`` (a patient or pair index)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key, int(stream)])))


def name_key(name: str) -> int:
    """The 32-bit key of a stream family or part name (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8"))


@dataclasses.dataclass(frozen=True)
class StreamFamily:
    """The named child streams of one patient for one purpose (``anatomy``, a modality).

    A small frozen value: records keep it so that rendering, which draws noise fields,
    stays a pure function of the records.
    """

    seed: int
    index: int
    family: str

    def rng(self, part: str) -> np.random.Generator:
        """A fresh ``Generator`` for ``part``; the same arguments give the same draws."""
        entropy = [self.seed, self.index, name_key(self.family), name_key(part)]
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
