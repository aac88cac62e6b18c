"""A picture of one patient's label maps for the dataset card, with a legend of their ids.

Inputs: one patient's images, uint8 (S, S) grey levels as the ``default`` config stores
them, and label maps, uint8 (S, S) ids of ``generator.label_ids.LABEL_NAMES``, per
modality of ``MODALITIES``. Output: an RGB picture, one row per modality with the image
beside its label map in ``generator.label_colours`` colours (background black), and a
legend naming every id that appears in the maps, with the modalities it appears in when
not all. The ids come from the maps, so new anatomy labels show without a change here.
The patient is the export's first of its most advanced stage (``shown_patient``), whose
focal findings show the most ids; the figure is a function of the export.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generator.contract import STAGES
from generator.figures import STAGE_WORDS, centred_text, font, save_png, tile
from generator.label_colours import colour_label_map, label_colours
from generator.label_ids import LABEL_NAMES
from generator.layout import ANATOMY_FIGURE_FILE
from generator.modalities import MODALITIES, MODALITY_TITLES

#: Side of one cell, pixels: the image size clamped to this range (label maps are resized
#: without smoothing, images enlarged without it or shrunk with Lanczos).
MIN_CELL, MAX_CELL = 192, 256
#: The columns of each row.
COLUMN_TITLES = ("image", "label map")
_MARGIN = 14  # around the picture
_GAP = 4  # between a row's cells
_LABEL_WIDTH = 96  # the modality titles, left of the cells
_TITLE_HEIGHT = 30
_HEADER_HEIGHT = 22  # the column titles
_ROW_GAP = 10  # below each row
_LEGEND_GAP = 28  # between the cells and the legend
_LEGEND_LINE = 21  # height of one legend entry
_LEGEND_COLUMN_GAP = 18
_SWATCH = 14
_BACKGROUND = (255, 255, 255)
_INK = (32, 32, 32)
_SOFT_INK = (110, 110, 110)
_SWATCH_EDGE = (150, 150, 150)


def shown_patient(stages: Sequence[str]) -> int:
    """Index of the patient the figure shows: the first of the most advanced stage in
    ``stages`` (``labels.csv`` order)."""
    for stage in reversed(STAGES):
        if stage in stages:
            return stages.index(stage)
    raise ValueError(f"`stages` holds none of {', '.join(STAGES)}: no patient to show")


def legend_entries(
    label_maps: Mapping[str, np.ndarray], names: Mapping[int, str] = LABEL_NAMES
) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(id, name, modalities)`` of every id in any of ``label_maps`` (modality name ->
    uint8 (S, S)), by id; ``modalities`` are those whose map holds it, in map order.
    Raises ``ValueError`` for an id that ``names`` lacks."""
    present = {
        modality: set(np.unique(label_map).tolist()) for modality, label_map in label_maps.items()
    }
    ids = sorted(set().union(*present.values()))
    unknown = [label_id for label_id in ids if label_id not in names]
    if unknown:
        raise ValueError(f"label ids {unknown} have no name in `names`")
    return [
        (label_id, names[label_id], tuple(m for m, found in present.items() if label_id in found))
        for label_id in ids
    ]


def cell_size(image_size: int) -> int:
    """Side of one cell in pixels: ``image_size`` clamped to ``MIN_CELL..MAX_CELL``."""
    return min(max(image_size, MIN_CELL), MAX_CELL)


def cell_box(row: int, column: int, *, cell: int) -> tuple[int, int, int, int]:
    """Pixel box ``(left, top, right, bottom)`` of a cell: modality ``row``, column
    ``column`` (0 image, 1 label map); ``right`` and ``bottom`` exclusive."""
    left = _MARGIN + _LABEL_WIDTH + column * (cell + _GAP)
    top = _MARGIN + _TITLE_HEIGHT + _HEADER_HEIGHT + row * (cell + _ROW_GAP)
    return left, top, left + cell, top + cell


def _label_tile(label_map: np.ndarray, cell: int) -> Image.Image:
    image = Image.fromarray(colour_label_map(label_map))  # uint8 (S, S, 3): mode RGB
    return image.resize((cell, cell), Image.Resampling.NEAREST)


def _where(found: tuple[str, ...]) -> str:
    """The modalities of a legend entry, or nothing where the id is in every map."""
    return "" if len(found) == len(MODALITIES) else " · ".join(found)


class _Legend:
    """The legend's layout: entries in columns of ``per_column`` from ``(left, top)``, a
    swatch, the id right-aligned and the name, then a footnote if an id is not in every map.
    """

    def __init__(self, entries, left: int, top: int, bottom: int):
        self.entries, self.left, self.top = entries, left, top
        self.fonts = font(14), font(13), font(12)  # header, entry, note
        _, entry_font, note_font = self.fonts
        self.per_column = max(1, (bottom - top - _LEGEND_LINE) // _LEGEND_LINE)
        self.num_columns = math.ceil(len(entries) / self.per_column)
        self.id_right = _SWATCH + 8 + entry_font.getlength(str(entries[-1][0]))
        self.name_left = self.id_right + 8
        self.column_width = self.name_left + max(
            entry_font.getlength(name) + note_font.getlength(f"  {_where(found)}")
            for _, name, found in entries
        )
        self.has_note = any(_where(found) for _, _, found in entries)
        self.note = "grey: the only maps the id appears in"

    def size(self) -> tuple[int, int]:
        """``(right, bottom)`` of the legend, pixels."""
        right = self.left + self.num_columns * (self.column_width + _LEGEND_COLUMN_GAP)
        if self.has_note:
            right = max(right, self.left + self.fonts[2].getlength(self.note))
        rows = min(len(self.entries), self.per_column) + self.has_note
        return round(right), self.top + rows * _LEGEND_LINE

    def _x(self, column: int) -> float:
        return self.left + column * (self.column_width + _LEGEND_COLUMN_GAP)

    def draw(self, draw: ImageDraw.ImageDraw, header_y: int) -> None:
        header_font, entry_font, note_font = self.fonts
        for column in range(self.num_columns):
            x = self._x(column)
            id_x = round(x + self.id_right - header_font.getlength("id"))
            draw.text((id_x, header_y), "id", fill=_INK, font=header_font)
            draw.text((round(x + self.name_left), header_y), "label", fill=_INK, font=header_font)
        colours = label_colours()
        for number, (label_id, name, found) in enumerate(self.entries):
            x = self._x(number // self.per_column)
            y = self.top + (number % self.per_column) * _LEGEND_LINE
            swatch = (round(x), y + 1, round(x) + _SWATCH - 1, y + _SWATCH)
            draw.rectangle(swatch, fill=tuple(colours[label_id].tolist()), outline=_SWATCH_EDGE)
            id_x = round(x + self.id_right - entry_font.getlength(str(label_id)))
            draw.text((id_x, y), str(label_id), fill=_INK, font=entry_font)
            draw.text((round(x + self.name_left), y), name, fill=_INK, font=entry_font)
            if _where(found):
                after = round(x + self.name_left + entry_font.getlength(name))
                draw.text((after, y + 2), f"  {_where(found)}", fill=_SOFT_INK, font=note_font)
        if self.has_note:
            y = self.top + min(len(self.entries), self.per_column) * _LEGEND_LINE + 6
            draw.text((round(self.left), y), self.note, fill=_SOFT_INK, font=note_font)


def make_anatomy_figure(
    patient_id: str,
    stage: str,
    images: Mapping[str, np.ndarray],
    label_maps: Mapping[str, np.ndarray],
) -> Image.Image:
    """Draw the figure of one patient (``patient_id`` at ``stage``, for the title).

    ``images`` and ``label_maps``: modality name (``MODALITIES``) -> uint8 (S, S) grey
    levels and label ids, the same S for all. Returns a mode ``RGB`` image: a row per
    modality, its image in ``cell_box(row, 0)`` and its coloured map in ``cell_box(row,
    1)`` (``cell = cell_size(S)``), and right of them the legend of ``legend_entries``
    in as many columns as the rows' height needs.
    """
    if set(images) != set(MODALITIES) or set(label_maps) != set(MODALITIES):
        raise ValueError(f"`images` and `label_maps` must cover {', '.join(MODALITIES)}")
    size = images[MODALITIES[0]].shape[0]
    for modality in MODALITIES:
        for kind, array in (("image", images[modality]), ("label map", label_maps[modality])):
            if array.dtype != np.uint8 or array.shape != (size, size):
                raise ValueError(
                    f"{modality} {kind} must be uint8 {(size, size)}, "
                    f"got {array.dtype} {array.shape}"
                )
    cell = cell_size(size)
    _, top, right, _ = cell_box(0, len(COLUMN_TITLES) - 1, cell=cell)
    bottom = cell_box(len(MODALITIES) - 1, 0, cell=cell)[3]
    legend = _Legend(
        legend_entries({m: label_maps[m] for m in MODALITIES}), right + _LEGEND_GAP, top, bottom
    )
    legend_right, legend_bottom = legend.size()
    figure = Image.new(
        "RGB", (legend_right + _MARGIN, max(bottom, legend_bottom) + _MARGIN), _BACKGROUND
    )
    draw = ImageDraw.Draw(figure)
    title_font, header_font = font(17), font(14)
    draw.text(
        (_MARGIN, _MARGIN),
        f"{patient_id} ({stage}, {STAGE_WORDS[stage]}): each image beside its label map",
        fill=_INK,
        font=title_font,
    )
    header_y = _MARGIN + _TITLE_HEIGHT
    for column, title in enumerate(COLUMN_TITLES):
        x0, _, x1, _ = cell_box(0, column, cell=cell)
        centred_text(draw, (x0 + x1) / 2, header_y, title, header_font, _INK)
    for row, modality in enumerate(MODALITIES):
        _, y0, _, y1 = cell_box(row, 0, cell=cell)
        title = MODALITY_TITLES[modality]
        draw.text((_MARGIN, (y0 + y1) // 2 - 8), title, fill=_INK, font=header_font)
        figure.paste(tile(images[modality], cell), cell_box(row, 0, cell=cell)[:2])
        figure.paste(_label_tile(label_maps[modality], cell), cell_box(row, 1, cell=cell)[:2])
    legend.draw(draw, header_y)
    return figure


def write_anatomy_figure(
    folder: Path,
    *,
    stages: Sequence[str],
    patient_ids: Sequence[str],
    load_image: Callable[[int, str], np.ndarray],
    load_label_map: Callable[[int, str], np.ndarray],
) -> Path:
    """Draw the figure of the export in ``folder`` and save it as PNG atomically.

    ``stages`` and ``patient_ids`` are ``labels.csv``'s columns; ``load_image(index,
    modality)`` and ``load_label_map(index, modality)`` return that patient's uint8
    (S, S) image and label map. Returns ``folder / ANATOMY_FIGURE_FILE``.
    """
    index = shown_patient(stages)
    figure = make_anatomy_figure(
        patient_ids[index],
        stages[index],
        {m: load_image(index, m) for m in MODALITIES},
        {m: load_label_map(index, m) for m in MODALITIES},
    )
    return save_png(figure, Path(folder) / ANATOMY_FIGURE_FILE)
