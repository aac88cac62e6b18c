"""The L1 vertebra and the muscles around it: back muscles, psoas and diaphragmatic crura.

Sizes (ANATOMY.md 2.6): the vertebral body about 40-46 mm wide and 30-35 mm deep, the
canal about 15-17 mm deep and 20-24 mm wide; pedicles, laminae meeting behind the canal,
transverse processes and the spinous process. Erector spinae and multifidus lie either
side of the spinous process, quadratus lumborum lateral to them, the psoas (small at L1)
beside the vertebral body; men's muscles are larger (L1 muscle area 1.52x). The crura
(ANATOMY.md 2.5) arise from the front of the vertebral body and pass either side of the
aorta, the right longer and thicker; about as thick as an adrenal limb (about 4 mm).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from generator.body import Body
from generator.geometry import Ellipse, mm

#: Linear size of men's back muscles and psoas relative to women's.
MALE_MUSCLE_SCALE = 1.22


@dataclasses.dataclass(frozen=True)
class Spine:
    """The vertebra (all label ``VERTEBRA`` but the canal), its canal and the back muscles.

    ``vertebral_body`` is the cancellous body in its cortex (CT paints the shell);
    ``posterior_elements`` the pedicles, laminae, transverse and spinous processes.
    """

    vertebral_body: Ellipse
    posterior_elements: tuple[Ellipse, ...]
    canal: Ellipse
    back_muscles: tuple[Ellipse, ...]  # erector spinae and quadratus lumborum, both sides
    psoas: tuple[Ellipse, Ellipse]


def sample_spine(body: Body, sex: str, rng: np.random.Generator) -> Spine:
    """Draw the vertebra and back muscles from the ``spine`` stream."""
    half_width = mm(rng.uniform(40.0, 46.0)) / 2
    half_depth = mm(rng.uniform(30.0, 35.0)) / 2
    x = body.center[0] + rng.normal(0.0, 0.006)
    y = body.center[1] + body.semi_y_posterior - body.fat_thickness - rng.uniform(0.105, 0.125)
    muscle = MALE_MUSCLE_SCALE if sex == "M" else 1.0
    muscle *= math.exp(0.1 * rng.standard_normal())
    canal_half_width = mm(rng.uniform(20.0, 24.0)) / 2
    canal_half_depth = mm(rng.uniform(15.0, 17.0)) / 2
    canal_y = y + half_depth + canal_half_depth + mm(3.0)
    pedicle_y = y + half_depth + mm(5.0)
    lamina_y = canal_y + canal_half_depth + mm(1.5)
    elements: list[Ellipse] = []
    for side in (-1.0, 1.0):
        elements += [
            Ellipse(x + side * (canal_half_width + mm(3.5)), pedicle_y, mm(5.0), mm(4.0), 1.4),
            Ellipse(x + side * mm(9.0), lamina_y, mm(10.5), mm(3.0), -side * 0.55),
            Ellipse(x + side * mm(19.0), pedicle_y + mm(3.0), mm(9.0), mm(3.2), side * 0.25),
        ]
    spinous_length = mm(rng.uniform(18.0, 24.0))
    elements.append(Ellipse(x, lamina_y + spinous_length, spinous_length, mm(3.5), math.pi / 2))
    back = []
    for side in (-1.0, 1.0):
        back += [
            Ellipse(
                x + side * mm(27.0) * muscle,
                lamina_y + mm(12.0),
                mm(24.0) * muscle,
                mm(17.0) * muscle,
                -side * 0.2,
            ),
            Ellipse(x + side * mm(50.0) * muscle, y + mm(14.0), mm(14.0), mm(6.0), -side * 0.7),
        ]
    psoas = tuple(
        Ellipse(
            x + side * (half_width + mm(6.0) * muscle),
            y - mm(2.0),
            mm(8.0) * muscle,
            mm(6.0) * muscle,
            0.0,
        )
        for side in (-1.0, 1.0)
    )
    return Spine(
        vertebral_body=Ellipse(x, y, half_width, half_depth, 0.0),
        posterior_elements=tuple(elements),
        canal=Ellipse(x, canal_y, canal_half_width, canal_half_depth, 0.0),
        back_muscles=tuple(back),
        psoas=psoas,  # type: ignore[arg-type]
    )


def sample_crura(aorta: Ellipse, rng: np.random.Generator) -> tuple[Ellipse, Ellipse]:
    """The right (longer, thicker) and left crus, either side of ``aorta`` (``crura`` stream)."""
    r = aorta.semi_major
    right = Ellipse(
        aorta.center_x - r - mm(2.5),
        aorta.center_y - mm(2.0),
        mm(rng.uniform(16.0, 22.0)),
        mm(rng.uniform(2.5, 3.5)),
        -1.25,
    )
    left = Ellipse(
        aorta.center_x + r + mm(2.0),
        aorta.center_y,
        mm(rng.uniform(12.0, 16.0)),
        mm(rng.uniform(2.0, 3.0)),
        1.25,
    )
    return right, left
