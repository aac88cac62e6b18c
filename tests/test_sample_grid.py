"""The card's sample grid: two patients per stage, read back cell by cell.

Drawn from ``generator.patient.generate_patient`` at 32 px (cells are exact 4x
enlargements), plus one grid at the default 224 px for its size in pixels and bytes.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from generator.cohort import patient_id, sample_labels
from generator.contract import DEFAULT_IMAGE_SIZE, DEFAULT_SEED, STAGES
from generator.encoding import quantize_to_uint8
from generator.modalities import MODALITIES
from generator.patient import generate_patient
from generator.sample_grid import (
    MIN_CELL,
    PER_STAGE,
    SAMPLE_GRID_FILE,
    cell_box,
    cell_size,
    grid_size,
    make_sample_grid,
    patients_per_stage,
    write_sample_grid,
)

SIZE = 32  # MIN_CELL / SIZE = 4
NUM_PATIENTS = 30  # seed 42: at least two patients of every stage


def loader(image_size: int):
    """``load(index, modality)``: the quantised image of a patient (seed 42), as the export
    reads it, rendering each patient once."""
    patients = {}

    def load(index: int, modality: str) -> np.ndarray:
        if index not in patients:
            patients[index] = generate_patient(index, image_size=image_size)
        return quantize_to_uint8(patients[index].images[modality])

    return load


@pytest.fixture(scope="module")
def stages():
    return [sample_labels(index, seed=DEFAULT_SEED).fibrosis_stage for index in range(NUM_PATIENTS)]


@pytest.fixture(scope="module")
def ids():
    return [patient_id(index, NUM_PATIENTS) for index in range(NUM_PATIENTS)]


def test_patients_per_stage_takes_the_first_of_each():
    chosen = patients_per_stage(["F4", "F0", "F4", "F4", "F1", "F0"])
    assert chosen == {"F0": [1, 5], "F1": [4], "F2": [], "F3": [], "F4": [0, 2]}
    assert list(chosen) == list(STAGES)
    assert patients_per_stage(["F2", "F2"], count=1)["F2"] == [0]


def test_cells_hold_the_images_of_the_chosen_patients(stages, ids):
    load = loader(SIZE)
    chosen = patients_per_stage(stages)
    assert all(len(indices) == PER_STAGE for indices in chosen.values())
    grid = make_sample_grid(chosen, ids, load)
    assert grid.mode == "L" and cell_size(SIZE) == MIN_CELL
    assert grid.size == grid_size(cell=MIN_CELL)
    factor = MIN_CELL // SIZE
    for row, stage in enumerate(STAGES):
        for slot, index in enumerate(chosen[stage]):
            for column, modality in enumerate(MODALITIES):
                pixels = np.asarray(grid.crop(cell_box(row, slot, column, cell=MIN_CELL)))
                np.testing.assert_array_equal(pixels[::factor, ::factor], load(index, modality))


def test_missing_patients_leave_grey_cells(stages, ids):
    chosen = {**patients_per_stage(stages), "F2": [], "F3": [stages.index("F3")]}
    grid = np.asarray(make_sample_grid(chosen, ids, loader(SIZE)))
    for row, slot in ((2, 0), (2, 1), (3, 1)):
        for column in range(len(MODALITIES)):
            x0, y0, x1, y1 = cell_box(row, slot, column, cell=MIN_CELL)
            assert (grid[y0:y1, x0:x1] == 236).all()
    x0, y0, x1, y1 = cell_box(3, 0, 0, cell=MIN_CELL)
    assert (grid[y0:y1, x0:x1] != 236).any()


def test_default_size_grid_is_readable_and_small(stages, ids, tmp_path):
    """At 224 px the cells are the images themselves, 2 x 3 per row, and the PNG is well
    under 1.5 MB; two writes give the same bytes."""
    load = loader(DEFAULT_IMAGE_SIZE)
    cell = cell_size(DEFAULT_IMAGE_SIZE)
    assert cell == DEFAULT_IMAGE_SIZE
    assert grid_size(cell=cell) == (1502, 1326)
    first = write_sample_grid(tmp_path / "a", stages=stages, patient_ids=ids, load_image=load)
    second = write_sample_grid(tmp_path / "b", stages=stages, patient_ids=ids, load_image=load)
    assert first == tmp_path / "a" / SAMPLE_GRID_FILE
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size < 1_200_000  # about 850 kB
    with Image.open(first) as picture:
        assert picture.format == "PNG" and picture.mode == "L"
        assert picture.size == (1502, 1326)


def test_bad_input_refused(stages, ids):
    load = loader(SIZE)
    with pytest.raises(ValueError, match="names no patient"):
        make_sample_grid(dict.fromkeys(STAGES, ()), ids, load)
    with pytest.raises(ValueError, match="more than 2 patients"):
        make_sample_grid({"F0": [0, 1, 2]}, ids, load)
    with pytest.raises(ValueError, match="must return uint8"):
        make_sample_grid({"F0": [0]}, ids, lambda index, modality: np.zeros((SIZE, SIZE)))
