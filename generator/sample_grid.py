"""A picture of sample images for the dataset card: one row per stage, one column per modality.

Each row shows the first patient of that stage in the export (by patient index), so the
picture is a function of the export and changes only when the data does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generator.contract import STAGES
from generator.files import atomic_writer
from generator.layout import SAMPLE_GRID_FILE
from generator.modalities import MODALITIES, MODALITY_TITLES

#: Side of one cell, pixels: the image size clamped to this range (small images are
#: enlarged without smoothing, large ones shrunk), so the picture stays legible and small.
MIN_CELL, MAX_CELL = 128, 256
_MARGIN = 6
_LABEL_WIDTH = 110
_HEADER_HEIGHT = 28
_BACKGROUND = 255
_INK = 0


def first_patient_per_stage(stages: Sequence[str]) -> dict[str, int | None]:
    """Index of the first patient of each stage in ``stages`` (``None`` if the stage is absent)."""
    first: dict[str, int | None] = dict.fromkeys(STAGES)
    for index, stage in enumerate(stages):
        if first.get(stage, 0) is None:
            first[stage] = index
    return first


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's own font at ``size`` pixels: the same on every machine."""
    return ImageFont.load_default(size=size)


def tile(pixels: np.ndarray, cell: int) -> Image.Image:
    """uint8 (S, S) grey levels as a mode ``L`` tile of ``cell`` x ``cell`` pixels: enlarged
    without smoothing, or shrunk with Lanczos."""
    image = Image.fromarray(pixels)  # uint8 2-D: mode L
    size = pixels.shape[0]
    if size < cell:
        return image.resize((cell, cell), Image.Resampling.NEAREST)
    if size > cell:
        return image.resize((cell, cell), Image.Resampling.LANCZOS)
    return image


def make_sample_grid(
    samples: Mapping[str, int | None],
    patient_ids: Sequence[str],
    load_image: Callable[[int, str], np.ndarray],
) -> Image.Image:
    """Draw the grid: rows ``STAGES``, columns ``MODALITIES``, mode ``L``.

    ``samples`` maps a stage to a patient index (or ``None``: the row says "no patient");
    ``load_image(index, modality)`` returns that patient's image as uint8 (S, S).
    """
    first = next((index for index in samples.values() if index is not None), None)
    if first is None:
        raise ValueError("`samples` names no patient")
    size = load_image(first, MODALITIES[0]).shape[0]
    cell = min(max(size, MIN_CELL), MAX_CELL)
    width = _LABEL_WIDTH + len(MODALITIES) * (cell + _MARGIN) + _MARGIN
    height = _HEADER_HEIGHT + len(STAGES) * (cell + _MARGIN) + _MARGIN
    grid = Image.new("L", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(grid)
    title_font, label_font = font(16), font(14)
    for column, modality in enumerate(MODALITIES):
        x = _LABEL_WIDTH + _MARGIN + column * (cell + _MARGIN)
        draw.text((x, 6), MODALITY_TITLES[modality], fill=_INK, font=title_font)
    for row, stage in enumerate(STAGES):
        y = _HEADER_HEIGHT + _MARGIN + row * (cell + _MARGIN)
        index = samples.get(stage)
        label = f"{stage}\n{patient_ids[index]}" if index is not None else f"{stage}\nno patient"
        draw.multiline_text((_MARGIN, y + cell // 2 - 18), label, fill=_INK, font=label_font)
        if index is None:
            continue
        for column, modality in enumerate(MODALITIES):
            image = load_image(index, modality)
            if image.dtype != np.uint8 or image.ndim != 2:
                raise ValueError(
                    f"`load_image` must return uint8 (S, S), got {image.dtype} {image.shape}"
                )
            grid.paste(tile(image, cell), (_LABEL_WIDTH + _MARGIN + column * (cell + _MARGIN), y))
    return grid


def write_sample_grid(
    folder: Path,
    *,
    stages: Sequence[str],
    patient_ids: Sequence[str],
    load_image: Callable[[int, str], np.ndarray],
) -> Path:
    """Draw the grid for the export in ``folder`` and save it as PNG atomically; return its path."""
    grid = make_sample_grid(first_patient_per_stage(stages), patient_ids, load_image)
    path = Path(folder) / SAMPLE_GRID_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        grid.save(handle, format="PNG", optimize=True)
    return path
