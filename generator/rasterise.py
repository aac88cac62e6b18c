"""Label maps from the anatomy records: the paint order as data, evaluated at any points.

``PAINT_ORDER`` lists every structure's layer: its label, its shapes and the labels it
may cover. The body's wall layers come first; then the disease-driven structures (liver,
diaphragm, ascites, spleen), which cover only the soft abdominal contents and each
other; then every other structure, which covers the soft contents and every
disease-driven label. So a change of stage moves only the disease-driven and the soft
labels (``label_ids.STAGE_DEPENDENT_IDS``), and ``tests/test_registry.py`` checks this
rule on the table itself.

``rasterise`` evaluates the layers at any set of points: the axial pixel grid (MRI, CT
and, through it, ultrasound) and the ultrasound samples beyond that grid.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from generator import label_ids as L
from generator.anatomy import Anatomy, Liver
from generator.body import WallBand
from generator.geometry import Ellipse, Locator, grid_slices, membership, pixel_grid
from generator.gut import Stomach


class Shape(Protocol):
    """A region of the slice: a bounding box and a membership test (FOV fractions)."""

    def bounds(self) -> tuple[float, float, float, float]: ...

    def inside(self, x: np.ndarray, y: np.ndarray, patch: Patch) -> np.ndarray: ...


class Patch:
    """The points of one window of a rasterisation (x, y and the body outline's
    ``level`` there), with a memo for shared fields."""

    def __init__(self, x: np.ndarray, y: np.ndarray, level: np.ndarray) -> None:
        self.x, self.y, self.level = x, y, level
        self._memo: dict[object, object] = {}

    def memo(self, key: object, compute: Callable[[], object]) -> object:
        """``compute()`` once per ``key`` for this window."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


class _Region(Protocol):
    """A record with its own box and membership test (``Ellipse``, ``Capsule``, ``WallBand``)."""

    def bounds(self) -> tuple[float, float, float, float]: ...

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class _PlainShape:
    region: _Region

    def bounds(self):
        return self.region.bounds()

    def inside(self, x, y, patch):
        return self.region.inside(x, y)


@dataclasses.dataclass(frozen=True)
class _WallBandShape:
    """A band of the body wall, tested on the patch's outline level (computed once)."""

    band: WallBand

    def bounds(self):
        return self.band.bounds()

    def inside(self, x, y, patch):
        return self.band.inside_at_level(x, y, patch.level)


@dataclasses.dataclass(frozen=True)
class _StomachLumen:
    """The stomach's lumen above its gas-fluid level (``part="gas"``) or below it."""

    stomach: Stomach
    part: str

    def bounds(self):
        return self.stomach.outline.bounds()

    def inside(self, x, y, patch):
        lumen = patch.memo(("lumen", self.stomach), lambda: self.stomach.lumen(x, y))
        gas = y < np.float32(self.stomach.gas_level)
        return lumen & gas if self.part == "gas" else lumen & ~gas


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


def _plain(*getters: Callable[[Anatomy], object]) -> Callable[[Anatomy], list]:
    """Shapes of the regions (or tuples of regions, or ``None``) the getters return."""

    def shapes(anatomy: Anatomy) -> list:
        out = []
        for getter in getters:
            value = getter(anatomy)
            values = value if isinstance(value, tuple) else (value,)
            out.extend(_shape(r) for r in values if r is not None)
        return out

    return shapes


def _shape(region: _Region) -> Shape:
    return _WallBandShape(region) if isinstance(region, WallBand) else _PlainShape(region)


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
#: What the bones and muscles of the wall and back may cover besides those.
_WALL = _OVER_DISEASE | {L.SUBCUTANEOUS_FAT, L.MUSCLE, L.LUNG, L.CRUS, L.KIDNEY}

PAINT_ORDER: tuple[Layer, ...] = (
    # Soft contents, displaced by the disease-driven structures below.
    Layer(
        "colon",
        L.COLON,
        _plain(lambda a: tuple(c.outline for c in a.colon)),
        frozenset({L.VISCERA}),
    ),
    Layer(
        "colon_gas",
        L.BOWEL_GAS,
        _plain(lambda a: tuple(g for c in a.colon for g in c.gas)),
        frozenset({L.COLON}),
    ),
    Layer(
        "stomach_wall", L.STOMACH_WALL, _plain(lambda a: a.stomach.outline), frozenset({L.VISCERA})
    ),
    Layer(
        "stomach_content",
        L.STOMACH_CONTENT,
        lambda a: [_StomachLumen(a.stomach, "fluid")],
        frozenset({L.STOMACH_WALL}),
    ),
    Layer(
        "stomach_gas",
        L.BOWEL_GAS,
        lambda a: [_StomachLumen(a.stomach, "gas")],
        frozenset({L.STOMACH_WALL}),
    ),
    Layer("bowel_gas", L.BOWEL_GAS, _plain(lambda a: a.bowel_gas), frozenset({L.VISCERA})),
    # Disease-driven structures.
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
        _plain(lambda a: a.liver.vessels),
        frozenset({L.LIVER}),
    ),
    Layer(
        "spleen",
        L.SPLEEN,
        _plain(lambda a: a.spleen),
        _SOFT | {L.DIAPHRAGM, L.ASCITES, L.LIVER},
    ),
    # Everything else: never moved by the disease.
    Layer("gallbladder", L.GALLBLADDER, _plain(lambda a: a.gallbladder), _OVER_DISEASE),
    Layer("kidneys", L.KIDNEY, _plain(lambda a: a.kidneys), _OVER_DISEASE),
    Layer("pancreas", L.PANCREAS, _plain(lambda a: a.pancreas), _OVER_DISEASE),
    Layer("adrenals", L.ADRENAL, _plain(lambda a: a.adrenals), _OVER_DISEASE),
    Layer("posterior_diaphragm", L.CRUS, _plain(lambda a: a.wall.diaphragm), _OVER_DISEASE),
    Layer("lungs", L.LUNG, _plain(lambda a: a.wall.lungs), _OVER_DISEASE | {L.CRUS}),
    Layer("crura", L.CRUS, _plain(lambda a: a.crura), _OVER_DISEASE | {L.ADRENAL}),
    Layer("psoas", L.MUSCLE, _plain(lambda a: a.spine.psoas), _OVER_DISEASE | {L.KIDNEY}),
    Layer("back_muscles", L.MUSCLE, _plain(lambda a: a.spine.back_muscles), _WALL),
    Layer("ribs", L.RIB, _plain(lambda a: a.wall.ribs), _WALL),
    Layer("costal_cartilage", L.COSTAL_CARTILAGE, _plain(lambda a: a.wall.cartilages), _WALL),
    Layer("vertebral_body", L.VERTEBRA, _plain(lambda a: a.spine.vertebral_body), None),
    Layer(
        "posterior_elements",
        L.VERTEBRA,
        _plain(lambda a: a.spine.posterior_elements),
        _WALL,
    ),
    Layer("spinal_canal", L.SPINAL_CANAL, _plain(lambda a: a.spine.canal), None),
    Layer("aorta", L.AORTA, _plain(lambda a: a.aorta), None),
    Layer("ivc", L.IVC, _plain(lambda a: a.ivc), None),
)


def _everywhere(bounds: tuple[float, float, float, float]) -> tuple[slice, slice]:
    return slice(None), slice(None)


#: Every layer of ``PAINT_ORDER`` with its shapes for one anatomy, each with its box.
PaintPlan = tuple[tuple[Layer, tuple[tuple[Shape, tuple[float, float, float, float]], ...]], ...]


def paint_plan(anatomy: Anatomy) -> PaintPlan:
    """The shapes of every layer for ``anatomy`` and their boxes (computed once, for
    every set of points it is rasterised at)."""
    return tuple(
        (layer, tuple((shape, shape.bounds()) for shape in layer.shapes(anatomy)))
        for layer in PAINT_ORDER
    )


def rasterise(
    anatomy: Anatomy,
    x: np.ndarray,
    y: np.ndarray,
    locate: Locator | None = None,
    plan: PaintPlan | None = None,
) -> np.ndarray:
    """Label ids at points (x, y) in field-of-view fractions: uint8, shape of ``x``.

    Points outside the body are ``BACKGROUND``. Ids are those of ``label_ids``, without
    the modality-specific focal findings (nodules, spots, reflections). ``locate``
    (optional) restricts each structure to the part of the point arrays that can contain
    its bounding box; it changes speed, not the result. ``plan`` is
    ``paint_plan(anatomy)``, computed here when not given.
    """
    plan = plan if plan is not None else paint_plan(anatomy)
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
    for layer, shapes in plan:
        for shape, box in shapes:
            where = locate(box)
            if where is None:
                continue
            rows, cols = where
            key = (rows.start, rows.stop, cols.start, cols.stop)
            patch = patches.get(key)
            if patch is None:
                patch = patches[key] = Patch(x[where], y[where], level[where])
            sub = labels[where]
            target = shape.inside(patch.x, patch.y, patch)
            if layer.onto is not None:
                target &= membership(layer.onto)[sub]
            sub[target] = layer.label
    labels[level > 1.0] = L.BACKGROUND
    return labels


def axial_label_map(anatomy: Anatomy, size: int, plan: PaintPlan | None = None) -> np.ndarray:
    """The axial slice's label map shared by MRI and CT: uint8 (size, size)."""
    y, x = pixel_grid(size)
    return rasterise(anatomy, x, y, functools.partial(grid_slices, size=size), plan)


def vertebral_body_pixels(
    vertebra: Ellipse, label_map: np.ndarray, cortex_fraction: float
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """The vertebral body on the axial grid: its patch (rows, columns) and two bool masks
    in that patch, the body's ``VERTEBRA`` pixels and those of them in the outer
    ``cortex_fraction`` of its radius (the cortical shell); ``None`` off the grid."""
    size = label_map.shape[0]
    patch = grid_slices(vertebra.bounds(), size)
    if patch is None:
        return None
    y, x = pixel_grid(size)
    q = vertebra.q(x[patch], y[patch])
    body = (q <= 1.0) & (label_map[patch] == L.VERTEBRA)
    return patch, body, body & (q > (1.0 - cortex_fraction) ** 2)


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
