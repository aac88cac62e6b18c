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
from generator.noise import correlated_field
from generator.random_streams import StreamFamily
from generator.rasterise import PaintPlan, axial_label_map, paint_plan


@dataclasses.dataclass(frozen=True)
class TissueFields:
    """Zero-mean, unit-SD random fields of the tissues themselves, on the axial grid:
    float32 (S, S) each. Every modality that images a tissue sees the same pattern.

    texture : parenchymal texture (correlation length 1 % of the field of view), also the
        trabecular pattern of the vertebral body
    bowel : small-bowel loops in the visceral fat and the mottling of stool
        (wavelength ``BOWEL_WAVELENGTH``)
    septa : the lobules of fat; its zero crossings are the fibrous septa
    """

    texture: np.ndarray
    bowel: np.ndarray
    septa: np.ndarray

    def at(self, name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Field ``name`` at points (x, y) in FOV fractions (nearest pixel): float32."""
        field = getattr(self, name)
        size = field.shape[0]
        rows = np.clip((y * size).astype(np.intp), 0, size - 1)
        cols = np.clip((x * size).astype(np.intp), 0, size - 1)
        return field[rows, cols]


#: Wavelength of the small-bowel loops, FOV fractions (about 27 mm).
BOWEL_WAVELENGTH = 0.075
#: Wavelength of the fat lobules, FOV fractions (about 13 mm).
SEPTA_WAVELENGTH = 0.035


def septa_ridges(field: np.ndarray, width: float = 4.0) -> np.ndarray:
    """Thin ridges along the zero crossings of ``field`` (1 on a septum, ~0 between)."""
    return np.exp(-((field * np.float32(width)) ** 2))


@dataclasses.dataclass(frozen=True)
class Scene:
    """What every modality renders: the anatomy at one rendering size (pixels).

    The axial label map and the tissue fields (drawn from ``streams``, the patient's
    ``anatomy`` family, part ``tissue_fields``) are computed once and shared by the
    modalities that use them.
    """

    anatomy: Anatomy
    size: int
    streams: StreamFamily

    @functools.cached_property
    def plan(self) -> PaintPlan:
        """The anatomy's paint plan (``rasterise.paint_plan``), for every label map."""
        return paint_plan(self.anatomy)

    @functools.cached_property
    def fields(self) -> TissueFields:
        """The tissue fields at the scene's size (see ``TissueFields``)."""
        rng = self.streams.rng("tissue_fields")
        return TissueFields(
            texture=correlated_field(rng, self.size, "gaussian", 0.01),
            bowel=correlated_field(rng, self.size, "bandpass", BOWEL_WAVELENGTH, 0.8),
            septa=correlated_field(rng, self.size, "bandpass", SEPTA_WAVELENGTH, 0.5),
        )

    @functools.cached_property
    def axial_labels(self) -> np.ndarray:
        """uint8 (size, size) axial label map (read-only; copy before changing it)."""
        labels = axial_label_map(self.anatomy, self.size, self.plan)
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
