"""Label maps from the anatomy records: the paint order as data, evaluated at any points.

``PAINT_ORDER`` lists every structure's layer: its label, its shapes and the labels it
may cover. The body's wall layers come first; then the disease-driven structures (liver,
diaphragm, ascites, spleen), which cover only the soft abdominal contents and each
other; then every other structure, which covers the soft contents and every
disease-driven label. So a change of stage moves only the disease-driven and the soft
labels (``label_ids.STAGE_DEPENDENT_IDS``), and ``tests/test_registry.py`` checks this
rule on the table itself.

``rasterise`` evaluates the layers at any set of points (the CT/MRI pixel grid, or the
ultrasound probe's beam grid).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from generator import label_ids as L
from generator.anatomy import Anatomy, Liver
from generator.geometry import Ellipse, Locator, grid_slices, membership, pixel_grid


class Shape(Protocol):
    """A region of the slice: a bounding box and a membership test (FOV fractions)."""

    def bounds(self) -> tuple[float, float, float, float]: ...

    def inside(self, x: np.ndarray, y: np.ndarray, patch: Patch) -> np.ndarray: ...


class Patch:
    """The points of one window of a rasterisation, with a memo for shared fields."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        self._memo: dict[object, object] = {}

    def memo(self, key: object, compute: Callable[[], object]) -> object:
        """``compute()`` once per ``key`` for this window."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


@dataclasses.dataclass(frozen=True)
class _EllipseShape:
    ellipse: Ellipse

    def bounds(self):
        return self.ellipse.bounds()

    def inside(self, x, y, patch):
        return self.ellipse.inside(x, y)


def _liver_fields(liver: Liver, patch: Patch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(smooth field, nodular field, frame v) of ``liver`` at the patch's points."""

    def compute():
        smooth, nodular = liver.fields(patch.x, patch.y)
        return smooth, nodular, liver.frame.local(patch.x, patch.y)[1]

    return patch.memo(("liver", liver), compute)


@dataclasses.dataclass(frozen=True)
class _LiverShape:
    """The liver (``part="liver"``, nodular outline) or a shell around its smooth outline:
    ``"ascites"`` all round, ``"diaphragm"`` over the posterior surface."""

    liver: Liver
    part: str

    def bounds(self):
        return self.liver.bounds()

    def inside(self, x, y, patch):
        smooth, nodular, v = _liver_fields(self.liver, patch)
        shell = 1.0 + self.liver.ascites_thickness
        if self.part == "liver":
            return nodular <= 1.0
        if self.part == "ascites":
            return smooth <= np.float32(shell)
        return (smooth <= np.float32(shell + self.liver.diaphragm_thickness)) & (v > 0.25)


def _ellipses(*getters: Callable[[Anatomy], object]) -> Callable[[Anatomy], list]:
    """Shapes of the ellipses (or tuples of ellipses, or ``None``) the getters return."""

    def shapes(anatomy: Anatomy) -> list:
        out = []
        for getter in getters:
            value = getter(anatomy)
            values = value if isinstance(value, tuple) else (value,)
            out.extend(_EllipseShape(e) for e in values if e is not None)
        return out

    return shapes


@dataclasses.dataclass(frozen=True)
class Layer:
    """One step of the paint order: ``label`` painted over ``shapes`` where the current
    label is in ``onto`` (``None``: any)."""

    structure: str
    label: int
    shapes: Callable[[Anatomy], Sequence[Shape]]
    onto: frozenset[int] | None


_SOFT = frozenset(L.DISPLACEABLE_IDS)
#: What a structure painted after the disease-driven ones may cover, besides its own list.
_OVER_DISEASE = frozenset(L.STAGE_DEPENDENT_IDS)

PAINT_ORDER: tuple[Layer, ...] = (
    Layer("bowel_gas", L.BOWEL_GAS, _ellipses(lambda a: a.bowel_gas), frozenset({L.VISCERA})),
    Layer(
        "diaphragm",
        L.DIAPHRAGM,
        lambda a: [_LiverShape(a.liver, "diaphragm")],
        _SOFT,
    ),
    Layer(
        "ascites",
        L.ASCITES,
        lambda a: [_LiverShape(a.liver, "ascites")] if a.has_ascites else [],
        _SOFT | {L.DIAPHRAGM},
    ),
    Layer(
        "liver",
        L.LIVER,
        lambda a: [_LiverShape(a.liver, "liver")],
        _SOFT | {L.DIAPHRAGM, L.ASCITES},
    ),
    Layer(
        "hepatic_vessels",
        L.HEPATIC_VESSEL,
        _ellipses(lambda a: a.liver.vessels),
        frozenset({L.LIVER}),
    ),
    Layer(
        "spleen",
        L.SPLEEN,
        _ellipses(lambda a: a.spleen),
        _SOFT | {L.DIAPHRAGM, L.ASCITES, L.LIVER},
    ),
    Layer("gallbladder", L.GALLBLADDER, _ellipses(lambda a: a.gallbladder), _OVER_DISEASE),
    Layer("kidney", L.KIDNEY, _ellipses(lambda a: a.kidney), _OVER_DISEASE),
    Layer(
        "paraspinal_muscles",
        L.MUSCLE,
        _ellipses(lambda a: a.spine.paraspinal),
        _OVER_DISEASE | {L.SUBCUTANEOUS_FAT, L.KIDNEY},
    ),
    Layer(
        "ribs",
        L.RIB,
        _ellipses(lambda a: a.ribs),
        _OVER_DISEASE | {L.SUBCUTANEOUS_FAT, L.MUSCLE},
    ),
    Layer("vertebral_body", L.VERTEBRA, _ellipses(lambda a: a.spine.vertebral_body), None),
    Layer(
        "posterior_elements",
        L.VERTEBRA,
        _ellipses(lambda a: a.spine.posterior_elements),
        _OVER_DISEASE | {L.SUBCUTANEOUS_FAT, L.MUSCLE},
    ),
    Layer("spinal_canal", L.SPINAL_CANAL, _ellipses(lambda a: a.spine.canal), None),
    Layer("aorta", L.AORTA, _ellipses(lambda a: a.aorta), None),
    Layer("ivc", L.IVC, _ellipses(lambda a: a.ivc), None),
)


def _everywhere(bounds: tuple[float, float, float, float]) -> tuple[slice, slice]:
    return slice(None), slice(None)


def rasterise(
    anatomy: Anatomy, x: np.ndarray, y: np.ndarray, locate: Locator | None = None
) -> np.ndarray:
    """Label ids at points (x, y) in field-of-view fractions: uint8, shape of ``x``.

    Points outside the body are ``BACKGROUND``. Ids are those of ``label_ids``, without
    the modality-specific focal findings (nodules, spots, reflections). ``locate``
    (optional) restricts each structure to the part of the point arrays that can contain
    its bounding box; it changes speed, not the result.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    locate = locate or _everywhere
    labels = np.zeros(x.shape, dtype=np.uint8)
    body = anatomy.body
    level = body.level(x, y)
    muscle_level, cavity_level = body.layer_levels()
    labels[level <= 1.0] = L.SUBCUTANEOUS_FAT
    labels[level <= np.float32(muscle_level)] = L.MUSCLE
    labels[level <= np.float32(cavity_level)] = L.VISCERA
    patches: dict[tuple, Patch] = {}
    for layer in PAINT_ORDER:
        for shape in layer.shapes(anatomy):
            where = locate(shape.bounds())
            if where is None:
                continue
            key = tuple((s.start, s.stop) for s in where)
            patch = patches.get(key)
            if patch is None:
                patch = patches[key] = Patch(x[where], y[where])
            sub = labels[where]
            target = shape.inside(patch.x, patch.y, patch)
            if layer.onto is not None:
                target &= membership(layer.onto)[sub]
            sub[target] = layer.label
    labels[level > 1.0] = L.BACKGROUND
    return labels


def axial_label_map(anatomy: Anatomy, size: int) -> np.ndarray:
    """The axial slice's label map shared by MRI and CT: uint8 (size, size)."""
    y, x = pixel_grid(size)
    return rasterise(anatomy, x, y, functools.partial(grid_slices, size=size))


def label_table(values: Mapping[int, float]) -> np.ndarray:
    """Per-label look-up table: float32 (NUM_LABELS,) with ``values[label]`` for every id.

    Indexing it with a label map paints a tissue property (HU, signal, echo) per pixel.
    ``values`` must name every id of ``label_ids.LABEL_NAMES``: a missing id would
    silently paint 0, so it raises ``ValueError`` naming the ids.
    """
    missing = sorted(set(L.LABEL_NAMES) - set(values))
    extra = sorted(set(values) - set(L.LABEL_NAMES))
    if missing or extra:
        names = [L.LABEL_NAMES.get(i, str(i)) for i in missing] + [str(i) for i in extra]
        raise ValueError(f"a tissue table must cover every label id exactly; check {names}")
    table = np.zeros(L.NUM_LABELS, dtype=np.float32)
    for label, value in values.items():
        table[label] = value
    return table
