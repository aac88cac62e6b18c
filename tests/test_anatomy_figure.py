"""The card's label-map picture: one patient's images beside their coloured label maps.

Read back cell by cell from a patient drawn at 32 px (cells are exact 6x enlargements),
its legend checked against the maps, and found in small exports' folders, manifests and
cards, with the same bytes from every export of the same parameters.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from PIL import Image

from generator.anatomy_figure import (
    ANATOMY_FIGURE_FILE,
    MIN_CELL,
    cell_box,
    cell_size,
    legend_entries,
    make_anatomy_figure,
    shown_patient,
)
from generator.encoding import quantize_to_uint8
from generator.export import main
from generator.export_files import CARD_FILES
from generator.label_colours import colour_label_map, label_colours
from generator.label_ids import LABEL_NAMES
from generator.manifest import read_manifest
from generator.modalities import MODALITIES
from generator.patient import generate_patient

SIZE = 32  # MIN_CELL / SIZE = 6
EXPORT = ["--num-patients", "7", "--image-size", str(SIZE), "--quiet", "--workers", "1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small export: 7 patients at 32 px."""
    out = tmp_path_factory.mktemp("export") / "out"
    assert main(["--out", str(out), *EXPORT]) == 0
    return out


@pytest.fixture(scope="module")
def patient():
    return generate_patient(0, image_size=SIZE)  # F4 in seed 42: focal findings


@pytest.fixture(scope="module")
def figure(patient):
    images = {m: quantize_to_uint8(patient.images[m]) for m in MODALITIES}
    return make_anatomy_figure("PAT_0001", "F4", images, patient.label_maps)


class TestLegend:
    def test_entries_are_exactly_the_ids_in_the_maps(self, patient):
        entries = legend_entries(patient.label_maps)
        present = set().union(*(np.unique(m).tolist() for m in patient.label_maps.values()))
        assert [label_id for label_id, _, _ in entries] == sorted(present)
        assert all(name == LABEL_NAMES[label_id] for label_id, name, _ in entries)
        for label_id, _, found in entries:
            assert found == tuple(
                m for m in MODALITIES if (patient.label_maps[m] == label_id).any()
            )

    def test_any_id_with_a_name_shows(self):
        maps = {
            "MRI": np.array([[0, 3], [3, 200]], np.uint8),
            "CT": np.array([[0, 0], [7, 3]], np.uint8),
        }
        names = {0: "background", 3: "a", 7: "b", 200: "new_structure"}
        assert legend_entries(maps, names) == [
            (0, "background", ("MRI", "CT")),
            (3, "a", ("MRI", "CT")),
            (7, "b", ("CT",)),
            (200, "new_structure", ("MRI",)),
        ]
        with pytest.raises(ValueError, match=r"\[200\] have no name"):
            legend_entries(maps, {0: "background", 3: "a", 7: "b"})

    def test_colours_fixed_distinct_background_black(self):
        colours = label_colours()
        assert colours.shape == (256, 3) and colours.dtype == np.uint8
        assert colours[0].tolist() == [0, 0, 0]
        assert len({tuple(row) for row in colours.tolist()}) == 256
        assert colours[1:].max(axis=1).min() > 60  # none close to black
        label_map = np.array([[0, 1], [19, 1]], np.uint8)
        np.testing.assert_array_equal(colour_label_map(label_map), colours[label_map])


class TestFigure:
    def test_mode_and_cells(self, figure, patient):
        assert figure.mode == "RGB" and cell_size(SIZE) == MIN_CELL
        factor = MIN_CELL // SIZE
        pixels = np.asarray(figure)
        for row, modality in enumerate(MODALITIES):
            x0, y0, x1, y1 = cell_box(row, 0, cell=MIN_CELL)
            image = pixels[y0:y1:factor, x0:x1:factor]
            grey = quantize_to_uint8(patient.images[modality])
            np.testing.assert_array_equal(image, np.repeat(grey[..., None], 3, axis=2))
            x0, y0, x1, y1 = cell_box(row, 1, cell=MIN_CELL)
            cells = pixels[y0:y1, x0:x1]
            expected = colour_label_map(patient.label_maps[modality])
            np.testing.assert_array_equal(cells[::factor, ::factor], expected)
            blocks = cells.reshape(SIZE, factor, SIZE, factor, 3)
            assert np.ptp(blocks, axis=(1, 3)).max() == 0  # enlarged, not smoothed

    def test_legend_swatches_right_of_the_cells(self, figure, patient):
        """Every shown id's colour is drawn right of the cells (its swatch), and no
        other label colour is."""
        right = cell_box(0, 1, cell=MIN_CELL)[2]
        legend = np.asarray(figure)[:, right:].reshape(-1, 3)
        drawn = {tuple(c) for c in np.unique(legend, axis=0).tolist()}
        colours = [tuple(c) for c in label_colours().tolist()]
        shown = {label_id for label_id, _, _ in legend_entries(patient.label_maps)}
        for label_id in range(1, len(LABEL_NAMES)):
            assert (colours[label_id] in drawn) == (label_id in shown), LABEL_NAMES[label_id]

    def test_bad_input_refused(self, patient):
        images = {m: quantize_to_uint8(patient.images[m]) for m in MODALITIES}
        with pytest.raises(ValueError, match="must cover"):
            make_anatomy_figure("PAT_0001", "F4", images, {"MRI": patient.label_maps["MRI"]})
        wrong = {**patient.label_maps, "CT": patient.label_maps["CT"].astype(np.int16)}
        with pytest.raises(ValueError, match="CT label map must be uint8"):
            make_anatomy_figure("PAT_0001", "F4", images, wrong)

    def test_shown_patient_is_the_first_of_the_highest_stage(self):
        assert shown_patient(["F0", "F2", "F1", "F2"]) == 1
        assert shown_patient(["F1", "F3", "F4", "F4"]) == 2
        with pytest.raises(ValueError, match="no patient"):
            shown_patient([])


class TestExport:
    def test_written_listed_and_verified(self, folder, capsys):
        assert ANATOMY_FIGURE_FILE in CARD_FILES
        assert ANATOMY_FIGURE_FILE in read_manifest(folder)
        assert main(["--verify", str(folder), "--quiet"]) == 0
        with Image.open(folder / ANATOMY_FIGURE_FILE) as picture:
            assert picture.format == "PNG" and picture.mode == "RGB"

    def test_shows_the_exports_patient(self, folder, figure):
        """Patient 0 is the first F4 of seed 42: the figure is drawn from its rows."""
        with Image.open(folder / ANATOMY_FIGURE_FILE) as picture:
            np.testing.assert_array_equal(np.asarray(picture), np.asarray(figure))

    def test_same_bytes_from_every_export(self, folder, tmp_path):
        """Another export, and one without the .npy files (images from the float32
        Parquet), write the same bytes."""
        for name, formats in (("again", []), ("no-npy", ["--formats", "parquet,card"])):
            out = tmp_path / name
            assert main(["--out", str(out), *EXPORT, *formats]) == 0
            expected = (folder / ANATOMY_FIGURE_FILE).read_bytes()
            assert (out / ANATOMY_FIGURE_FILE).read_bytes() == expected, name

    def test_card_shows_it(self, folder):
        text = (folder / "README.md").read_text()
        assert "## Label maps" in text and f"]({ANATOMY_FIGURE_FILE})" in text
        assert "*PAT_0001 (F4), the first patient of the most advanced stage" in text
        assert "assets/anatomy.png         # the label-map picture above" in text
