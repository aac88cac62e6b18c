"""A picture of disease progression for the dataset card: the same patients at F0..F4.

Each of the first few patients of the export (indices 0, 1, 2) is rendered at every stage
at that stage's median liver stiffness (``generator.patient.progression``): everything
that disease does not drive (body, organs, vessels, noise) is identical along a row, so
the cells differ only in the liver parenchyma, surface and shape, its focal findings, the
spleen's size and ascites. One block of rows per patient, one row per modality of the
registry, one column per stage. The picture is a function of the export's parameters
(seed, image size, patient count), so the same export gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PIL import Image, ImageDraw

from generator.cohort import patient_id
from generator.contract import STAGES, GenerationParameters
from generator.encoding import quantize_to_uint8
from generator.figures import STAGE_WORDS, centred_text, font, save_png, tile
from generator.layout import PROGRESSION_FIGURE_FILE
from generator.modalities import REGISTRY
from generator.patient import Patient, progression

#: Patients shown: the first ones of the export (fewer if it has fewer).
NUM_SHOWN = 3
#: Side of one cell, pixels: the image size clamped to this range (small images are
#: enlarged without smoothing, large ones shrunk), so the picture stays legible and small
#: (45 cells at 224 px: well under 1 MB of PNG).
MIN_CELL, MAX_CELL = 128, 160
_MARGIN = 12  # around the picture
_GAP = 3  # between cells of a block
_LABEL_WIDTH = 92  # the modality titles, left of the cells
_TITLE_HEIGHT = 30
_COLUMN_HEADER_HEIGHT = 40
_PATIENT_HEADER_HEIGHT = 30
_BLOCK_GAP = 10  # below each block
_BACKGROUND = 255
_INK = 32  # text
_SOFT_INK = 96  # secondary text
_RULE = 176  # thin separators


def cell_size(image_size: int) -> int:
    """Side of one cell in pixels: ``image_size`` clamped to ``MIN_CELL..MAX_CELL``."""
    return min(max(image_size, MIN_CELL), MAX_CELL)


def _block_top(block: int, cell: int) -> int:
    top = _MARGIN + _TITLE_HEIGHT + _COLUMN_HEADER_HEIGHT
    block_height = _PATIENT_HEADER_HEIGHT + len(REGISTRY) * (cell + _GAP) - _GAP + _BLOCK_GAP
    return top + block * block_height


def cell_box(block: int, row: int, column: int, *, cell: int) -> tuple[int, int, int, int]:
    """Pixel box ``(left, top, right, bottom)`` of a cell: patient ``block``, modality
    ``row`` (registry order), stage ``column``; ``right`` and ``bottom`` exclusive."""
    left = _MARGIN + _LABEL_WIDTH + column * (cell + _GAP)
    top = _block_top(block, cell) + _PATIENT_HEADER_HEIGHT + row * (cell + _GAP)
    return left, top, left + cell, top + cell


def figure_size(num_patients: int, *, cell: int) -> tuple[int, int]:
    """``(width, height)`` in pixels of the figure of ``num_patients`` blocks."""
    right = cell_box(0, 0, len(STAGES) - 1, cell=cell)[2]
    bottom = cell_box(num_patients - 1, len(REGISTRY) - 1, 0, cell=cell)[3]
    return right + _MARGIN, bottom + _MARGIN


def make_progression_figure(progressions: Mapping[str, Mapping[str, Patient]]) -> Image.Image:
    """Draw the figure: a block per patient, a row per modality, a column per stage.

    Parameters
    ----------
    progressions : mapping of patient id (``PAT_0001``) to that patient by stage
        (``F0``..``F4``, as ``generator.patient.progression`` returns it); every image
        float32 (S, S) in [0, 1], the same S throughout.

    Returns
    -------
    PIL.Image.Image, mode ``L``, of ``figure_size(len(progressions), cell=cell_size(S))``:
    each image quantised by ``quantize_to_uint8`` in its ``cell_box``, labelled with the
    modality titles (rows), the stage, its words and the stiffness in kPa (columns), and
    the patient's id, sex and age (blocks), on white with thin grey rules.
    """
    if not progressions:
        raise ValueError("`progressions` names no patient")
    for pid, by_stage in progressions.items():
        if tuple(by_stage) != STAGES:
            raise ValueError(f"{pid}: stages must be {', '.join(STAGES)}, got {tuple(by_stage)}")
    reference = next(iter(progressions.values()))
    size = reference["F0"].images[REGISTRY[0].name].shape[0]
    cell = cell_size(size)
    figure = Image.new("L", figure_size(len(progressions), cell=cell), _BACKGROUND)
    draw = ImageDraw.Draw(figure)
    title_font, header_font, small_font = font(18), font(15), font(12)
    left = cell_box(0, 0, 0, cell=cell)[0]
    right = cell_box(0, 0, len(STAGES) - 1, cell=cell)[2]

    draw.text(
        (_MARGIN, _MARGIN),
        "Each patient at every fibrosis stage: only disease-driven structures change",
        fill=_INK,
        font=title_font,
    )
    for column, stage in enumerate(STAGES):
        x0, _, x1, _ = cell_box(0, 0, column, cell=cell)
        kpa = reference[stage].labels.liver_stiffness_kpa  # the stage's median: all rows
        y = _MARGIN + _TITLE_HEIGHT
        centred_text(draw, (x0 + x1) / 2, y, f"{stage} · {kpa:.1f} kPa", header_font, _INK)
        centred_text(draw, (x0 + x1) / 2, y + 17, STAGE_WORDS[stage], small_font, _SOFT_INK)
    # A thin rule with an arrowhead under the headers: severity grows to the right.
    arrow_y = _block_top(0, cell) - 6
    draw.line([(left, arrow_y), (right - 1, arrow_y)], fill=_RULE, width=1)
    draw.polygon(
        [(right - 1, arrow_y), (right - 7, arrow_y - 3), (right - 7, arrow_y + 3)], fill=_RULE
    )

    for block, (pid, by_stage) in enumerate(progressions.items()):
        y0 = _block_top(block, cell)
        labels = by_stage["F0"].labels
        sex = {"M": "male", "F": "female"}.get(labels.sex, labels.sex)
        draw.text((_MARGIN, y0 + 8), pid, fill=_INK, font=header_font)
        name_width = draw.textlength(pid, font=header_font)
        draw.text(
            (_MARGIN + name_width + 8, y0 + 9),
            f"{sex}, {labels.age} years",
            fill=_SOFT_INK,
            font=small_font,
        )
        rule_y = y0 + _PATIENT_HEADER_HEIGHT - 4
        draw.line([(_MARGIN, rule_y), (right - 1, rule_y)], fill=_RULE, width=1)
        for row, modality in enumerate(REGISTRY):
            y = cell_box(block, row, 0, cell=cell)[1]
            draw.text((_MARGIN, y + cell // 2 - 8), modality.title, fill=_INK, font=header_font)
            for column, stage in enumerate(STAGES):
                image = by_stage[stage].images[modality.name]
                if image.shape != (size, size):
                    raise ValueError(
                        f"{pid} {stage} {modality.name}: image shape {image.shape}, "
                        f"expected {(size, size)}"
                    )
                pixels = quantize_to_uint8(image)
                figure.paste(tile(pixels, cell), cell_box(block, row, column, cell=cell)[:2])
    return figure


def shown_indices(num_patients: int, count: int = NUM_SHOWN) -> range:
    """Indices of the patients the figure shows: the first ``count`` of the export."""
    return range(min(count, num_patients))


def write_progression_figure(
    folder: Path, parameters: GenerationParameters, *, count: int = NUM_SHOWN
) -> Path:
    """Render the figure of the export made with ``parameters`` and save it atomically.

    Shows the first ``count`` patients (``shown_indices``) at their ``image_size``, from
    their ``seed``. Returns the path of the PNG, ``folder / PROGRESSION_FIGURE_FILE``.
    """
    if count < 1:
        raise ValueError(f"`count` must be >= 1, got {count=}")
    progressions = {
        patient_id(index, parameters.num_patients): progression(
            index, seed=parameters.seed, image_size=parameters.image_size
        )
        for index in shown_indices(parameters.num_patients, count)
    }
    return save_png(make_progression_figure(progressions), Path(folder) / PROGRESSION_FIGURE_FILE)
