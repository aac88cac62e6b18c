"""The card's progression picture: the first patients of the export at F0..F4.

The picture is drawn from ``generator.patient.progression`` at small sizes (32 px: cells
are exact 4x enlargements), read back cell by cell, and found in a small export's folder,
manifest and card.
"""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from PIL import Image

from generator.cohort import patient_id
from generator.contract import STAGES, GenerationParameters
from generator.encoding import quantize_to_uint8
from generator.export import main
from generator.manifest import read_manifest, verify_manifest
from generator.modalities import REGISTRY
from generator.patient import progression
from generator.progression_figure import (
    MIN_CELL,
    PROGRESSION_FIGURE_FILE,
    cell_box,
    cell_size,
    figure_size,
    make_progression_figure,
    write_progression_figure,
)

SIZE = 32  # MIN_CELL / SIZE = 4: each pixel is a 4 x 4 block of its cell
EXPORT = ["--num-patients", "7", "--image-size", str(SIZE), "--quiet", "--workers", "1"]


@pytest.fixture(scope="module")
def progressions():
    """Patients 0 and 1 at every stage, as the figure of an export of 7 receives them."""
    return {patient_id(i, 7): progression(i, image_size=SIZE) for i in range(2)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small export: 7 patients at 32 px."""
    out = tmp_path_factory.mktemp("export") / "out"
    assert main(["--out", str(out), *EXPORT]) == 0
    return out


@pytest.fixture(scope="module")
def figure(progressions):
    return make_progression_figure(progressions)


def cell(figure: Image.Image, block: int, row: int, column: int) -> np.ndarray:
    """The cell's pixels, uint8 (MIN_CELL, MIN_CELL)."""
    return np.asarray(figure.crop(cell_box(block, row, column, cell=MIN_CELL)))


class TestFigure:
    def test_mode_and_size(self, figure):
        assert figure.mode == "L"
        assert cell_size(SIZE) == MIN_CELL
        assert figure.size == figure_size(2, cell=MIN_CELL)
        width, height = figure.size
        assert width > len(STAGES) * MIN_CELL and height > 2 * len(REGISTRY) * MIN_CELL

    def test_cells_hold_the_quantised_images(self, figure, progressions):
        factor = MIN_CELL // SIZE
        for block, by_stage in enumerate(progressions.values()):
            for row, modality in enumerate(REGISTRY):
                for column, stage in enumerate(STAGES):
                    pixels = cell(figure, block, row, column)
                    expected = quantize_to_uint8(by_stage[stage].images[modality.name])
                    np.testing.assert_array_equal(pixels[::factor, ::factor], expected)
                    blocks = pixels.reshape(SIZE, factor, SIZE, factor)
                    assert np.ptp(blocks, axis=(1, 3)).max() == 0  # enlarged, not smoothed

    def test_the_liver_changes_along_a_row_and_little_else(self, figure, progressions):
        by_stage = next(iter(progressions.values()))
        for row, modality in enumerate(REGISTRY):
            cells = [cell(figure, 0, row, column).astype(int) for column in range(len(STAGES))]
            masks = [by_stage[stage].liver_mask(modality.name) for stage in STAGES]
            liver = np.kron(np.logical_and.reduce(masks), np.ones((4, 4), dtype=bool))
            # Grey levels between adjacent stages; the CT's density trend is kept weak (a few
            # HU a stage, and 1.6 HU a grey level in its W400 window).
            least = 0.5 if modality.name == "CT" else 1.0
            for before, after in itertools.pairwise(cells):
                assert np.abs(after - before)[liver].mean() > least, modality.name
            change = np.abs(cells[-1] - cells[0])
            assert change[liver].mean() > 5 * change[~liver].mean(), modality.name
            assert (change[~liver] == 0).mean() > 0.75, modality.name

    def test_labels_are_drawn_beside_and_above_the_cells(self, figure):
        pixels = np.asarray(figure)
        left = cell_box(0, 0, 0, cell=MIN_CELL)[0]
        for row in range(len(REGISTRY)):  # the modality title, left of each row
            _, top, _, bottom = cell_box(0, row, 0, cell=MIN_CELL)
            assert pixels[top:bottom, :left].min() < 128
        top = cell_box(0, 0, 0, cell=MIN_CELL)[1]
        for column in range(len(STAGES)):  # stage and stiffness, above each column
            x0, _, x1, _ = cell_box(0, 0, column, cell=MIN_CELL)
            assert pixels[:top, x0:x1].min() < 128


class TestWrite:
    def test_same_parameters_same_bytes(self, tmp_path):
        parameters = GenerationParameters(num_patients=7, image_size=SIZE)
        first = write_progression_figure(tmp_path / "a", parameters).read_bytes()
        second = write_progression_figure(tmp_path / "b", parameters).read_bytes()
        assert first == second and first[:8] == b"\x89PNG\r\n\x1a\n"
        other = GenerationParameters(num_patients=7, image_size=SIZE, seed=43)
        assert write_progression_figure(tmp_path / "c", other).read_bytes() != first

    def test_fewer_patients_fewer_blocks(self, tmp_path):
        path = write_progression_figure(tmp_path, GenerationParameters(2, SIZE))
        assert path == tmp_path / PROGRESSION_FIGURE_FILE
        with Image.open(path) as picture:
            assert picture.size == figure_size(2, cell=MIN_CELL)
        path = write_progression_figure(tmp_path, GenerationParameters(7, SIZE), count=1)
        with Image.open(path) as picture:
            assert picture.size == figure_size(1, cell=MIN_CELL)

    def test_bad_input_refused(self, tmp_path, progressions):
        with pytest.raises(ValueError, match="count"):
            write_progression_figure(tmp_path, GenerationParameters(7, SIZE), count=0)
        with pytest.raises(ValueError, match="names no patient"):
            make_progression_figure({})
        by_stage = next(iter(progressions.values()))
        with pytest.raises(ValueError, match="stages must be"):
            make_progression_figure({"PAT_0001": {"F0": by_stage["F0"]}})


class TestExport:
    def test_written_listed_and_verified(self, folder, tmp_path):
        assert PROGRESSION_FIGURE_FILE in read_manifest(folder)
        assert verify_manifest(folder).ok
        fresh = write_progression_figure(tmp_path, GenerationParameters(7, SIZE))
        assert (folder / PROGRESSION_FIGURE_FILE).read_bytes() == fresh.read_bytes()

    def test_card_shows_it(self, folder):
        text = (folder / "README.md").read_text()
        assert "](assets/progression.png)" in text
        assert "PAT_0001, PAT_0002, PAT_0003" in text
        assert "## Disease progression" in text and "{{" not in text

    def test_force_replaces_it(self, folder, tmp_path):
        out = tmp_path / "out"
        assert main(["--out", str(out), *EXPORT, "--seed", "7"]) == 0
        assert main(["--out", str(out), *EXPORT, "--force"]) == 0
        assert (out / PROGRESSION_FIGURE_FILE).read_bytes() == (
            folder / PROGRESSION_FIGURE_FILE
        ).read_bytes()
