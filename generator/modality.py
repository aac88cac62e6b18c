"""The interface every imaging modality implements, and the scene it renders.

A modality module (``generator.mri``, ``generator.ct``, ``generator.ultrasound``)
exposes one ``Modality`` value, ``MODALITY``; ``generator.modalities`` lists them. The
patient's pipeline is the same for all: ``sample`` draws the modality's frozen parameter
record from the patient's labels and anatomy (and the modality's own stream family),
``render`` turns that record and the scene into a ``Rendering``: the image, its label
map and, where the modality has physical units, the image in those units (a pure
function: any noise it draws comes from streams the record names), and ``finish``
post-processes the image at the output size (after block-averaging a supersampled
render).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import numpy as np

from generator.anatomy import Anatomy
from generator.cohort import PatientLabels
from generator.random_streams import StreamFamily
from generator.rasterise import axial_label_map


@dataclasses.dataclass(frozen=True)
class Scene:
    """What every modality renders: the anatomy at one rendering size (pixels).

    The axial label map is computed once and shared by the modalities that use it.
    """

    anatomy: Anatomy
    size: int

    @functools.cached_property
    def axial_labels(self) -> np.ndarray:
        """uint8 (size, size) axial label map (read-only; copy before changing it)."""
        labels = axial_label_map(self.anatomy, self.size)
        labels.flags.writeable = False
        return labels


@dataclasses.dataclass(frozen=True)
class Rendering:
    """What a modality renders at the scene's size.

    image : float32 (S, S) in [0, 1], the displayed image
    label_map : uint8 (S, S), ids of ``generator.label_ids``
    physical : float32 (S, S) in the modality's ``physical_unit`` before the mapping to
        [0, 1] (CT: Hounsfield units before the window), or ``None``
    """

    image: np.ndarray
    label_map: np.ndarray
    physical: np.ndarray | None = None


def _unchanged(image: np.ndarray) -> np.ndarray:
    return image


@dataclasses.dataclass(frozen=True)
class Modality:
    """One imaging modality of the dataset.

    name : file suffix (``images/PAT_0001_<name>.npy``) and key of ``Patient.images``
    column : the builder's and the Parquet's column (``<column>``, ``<column>_label_map``)
    title : human-readable name for figures and the card
    tissue_tables : the modality's per-label tissue properties, each covering every
        label id (``generator.label_ids``), by property name
    sample : (labels, anatomy, streams) -> the modality's frozen parameter record
    render : (parameters, scene) -> ``Rendering``
    finish : float32 (S, S) image at the output size -> the final image
    physical_unit : unit of ``Rendering.physical`` (``"HU"``), ``None`` if it has none
    """

    name: str
    column: str
    title: str
    tissue_tables: Mapping[str, Mapping[int, float]]
    sample: Callable[[PatientLabels, Anatomy, StreamFamily], object]
    render: Callable[[object, Scene], Rendering]
    finish: Callable[[np.ndarray], np.ndarray] = _unchanged
    physical_unit: str | None = None
