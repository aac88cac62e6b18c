"""Drawing helpers shared by the card's figures (``generator.sample_grid``,
``generator.progression_figure``, ``generator.anatomy_figure``): Pillow's own font,
grey tiles, centred text, the stage words and the PNG writer, so that the figures look
alike and have the same bytes on every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generator.files import atomic_writer

#: METAVIR stages in words, for row and column labels.
STAGE_WORDS = {
    "F0": "no fibrosis",
    "F1": "portal fibrosis",
    "F2": "few septa",
    "F3": "many septa",
    "F4": "cirrhosis",
}


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


def centred_text(
    draw: ImageDraw.ImageDraw, centre_x: float, y: float, text: str, font, fill
) -> None:
    """Draw one line of ``text`` with its top at ``y``, centred on ``centre_x``."""
    width = draw.textlength(text, font=font)
    draw.text((round(centre_x - width / 2), y), text, fill=fill, font=font)


def save_png(image: Image.Image, path: Path) -> Path:
    """Save ``image`` as an optimised PNG at ``path`` atomically (making its folder); return
    ``path``. The same image gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        image.save(handle, format="PNG", optimize=True)
    return path
