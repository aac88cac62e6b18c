"""A picture of sample images for the dataset card: one row per stage, two patients per row.

Each row shows the first ``PER_STAGE`` patients of that stage in the export (by patient
index), each as one image per modality, so the picture is a function of the export and
changes only when the data does. The images are the export's own (``load_image``), not
rendered again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generator.contract import STAGES
from generator.figures import STAGE_WORDS, centred_text, font, save_png, tile
from generator.layout import SAMPLE_GRID_FILE
from generator.modalities import MODALITIES, MODALITY_TITLES

#: Patients shown per stage (fewer where the export has fewer).
PER_STAGE = 2
#: Side of one cell, pixels: the image size clamped to this range (small images are
#: enlarged without smoothing, large ones shrunk), so the picture stays legible and small
#: (30 cells at 224 px: under 1 MB of PNG).
MIN_CELL, MAX_CELL = 128, 224
_MARGIN = 12  # around the picture
_GAP = 3  # between the cells of one patient
_GROUP_GAP = 18  # between the patients of a row
_LABEL_WIDTH = 104  # the stage, left of each row
_TITLE_HEIGHT = 28
_HEADER_HEIGHT = 22  # the modality titles
_CAPTION_HEIGHT = 20  # the patient id, above each patient's cells
_ROW_GAP = 8  # below each row
_BACKGROUND = 255
_EMPTY = 236  # the cells of a patient the export lacks
_INK = 32
_SOFT_INK = 96


def patients_per_stage(stages: Sequence[str], count: int = PER_STAGE) -> dict[str, list[int]]:
    """Indices of the first ``count`` patients of each stage in ``stages`` (fewer, or none,
    where the stage has fewer), keyed by ``STAGES`` in order."""
    chosen: dict[str, list[int]] = {stage: [] for stage in STAGES}
    for index, stage in enumerate(stages):
        if len(chosen[stage]) < count:
            chosen[stage].append(index)
    return chosen


def cell_size(image_size: int) -> int:
    """Side of one cell in pixels: ``image_size`` clamped to ``MIN_CELL..MAX_CELL``."""
    return min(max(image_size, MIN_CELL), MAX_CELL)


def cell_box(row: int, slot: int, column: int, *, cell: int) -> tuple[int, int, int, int]:
    """Pixel box ``(left, top, right, bottom)`` of a cell: stage ``row``, patient ``slot``
    of that row, modality ``column``; ``right`` and ``bottom`` exclusive."""
    group_width = len(MODALITIES) * (cell + _GAP) - _GAP
    left = _MARGIN + _LABEL_WIDTH + slot * (group_width + _GROUP_GAP) + column * (cell + _GAP)
    row_height = _CAPTION_HEIGHT + cell + _ROW_GAP
    top = _MARGIN + _TITLE_HEIGHT + _HEADER_HEIGHT + row * row_height + _CAPTION_HEIGHT
    return left, top, left + cell, top + cell


def grid_size(*, cell: int, per_stage: int = PER_STAGE) -> tuple[int, int]:
    """``(width, height)`` in pixels of the grid of ``per_stage`` patients per stage."""
    right = cell_box(0, per_stage - 1, len(MODALITIES) - 1, cell=cell)[2]
    bottom = cell_box(len(STAGES) - 1, 0, 0, cell=cell)[3]
    return right + _MARGIN, bottom + _MARGIN


def make_sample_grid(
    samples: Mapping[str, Sequence[int]],
    patient_ids: Sequence[str],
    load_image: Callable[[int, str], np.ndarray],
    *,
    per_stage: int = PER_STAGE,
) -> Image.Image:
    """Draw the grid: a row per stage of ``STAGES``, ``per_stage`` patients per row, a cell
    per modality of ``MODALITIES``.

    ``samples`` maps a stage to at most ``per_stage`` patient indices (a missing patient's
    cells are left light grey and captioned "no patient"); ``load_image(index, modality)``
    returns that patient's image as uint8 (S, S), the same S for all. Returns a mode ``L``
    image of ``grid_size(cell=cell_size(S), per_stage=per_stage)``.
    """
    first = next((index for indices in samples.values() for index in indices), None)
    if first is None:
        raise ValueError("`samples` names no patient")
    if any(len(indices) > per_stage for indices in samples.values()):
        raise ValueError(f"`samples` names more than {per_stage} patients for a stage")
    size = load_image(first, MODALITIES[0]).shape[0]
    cell = cell_size(size)
    grid = Image.new("L", grid_size(cell=cell, per_stage=per_stage), _BACKGROUND)
    draw = ImageDraw.Draw(grid)
    title_font, header_font, stage_font, small_font = font(17), font(14), font(20), font(12)
    draw.text(
        (_MARGIN, _MARGIN),
        f"The first {per_stage} patients of each fibrosis stage in this export",
        fill=_INK,
        font=title_font,
    )
    for slot in range(per_stage):
        for column, modality in enumerate(MODALITIES):
            x0, _, x1, _ = cell_box(0, slot, column, cell=cell)
            y = _MARGIN + _TITLE_HEIGHT
            centred_text(draw, (x0 + x1) / 2, y, MODALITY_TITLES[modality], header_font, _INK)
    for row, stage in enumerate(STAGES):
        _, top, _, bottom = cell_box(row, 0, 0, cell=cell)
        middle = (top + bottom) // 2
        draw.text((_MARGIN, middle - 20), stage, fill=_INK, font=stage_font)
        draw.text((_MARGIN, middle + 4), STAGE_WORDS[stage], fill=_SOFT_INK, font=small_font)
        indices = samples.get(stage, ())
        for slot in range(per_stage):
            left, top, _, _ = cell_box(row, slot, 0, cell=cell)
            caption_y = top - _CAPTION_HEIGHT + 3
            if slot >= len(indices):
                draw.text((left, caption_y), "no patient", fill=_SOFT_INK, font=small_font)
                for column in range(len(MODALITIES)):
                    x0, y0, x1, y1 = cell_box(row, slot, column, cell=cell)
                    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=_EMPTY)
                continue
            index = indices[slot]
            draw.text((left, caption_y), patient_ids[index], fill=_INK, font=small_font)
            for column, modality in enumerate(MODALITIES):
                image = load_image(index, modality)
                if image.dtype != np.uint8 or image.shape != (size, size):
                    raise ValueError(
                        f"`load_image` must return uint8 {(size, size)}, "
                        f"got {image.dtype} {image.shape}"
                    )
                grid.paste(tile(image, cell), cell_box(row, slot, column, cell=cell)[:2])
    return grid


def write_sample_grid(
    folder: Path,
    *,
    stages: Sequence[str],
    patient_ids: Sequence[str],
    load_image: Callable[[int, str], np.ndarray],
) -> Path:
    """Draw the grid for the export in ``folder`` and save it as PNG atomically; return its path."""
    grid = make_sample_grid(patients_per_stage(stages), patient_ids, load_image)
    return save_png(grid, Path(folder) / SAMPLE_GRID_FILE)
