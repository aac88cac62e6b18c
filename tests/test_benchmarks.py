"""The benchmark and baseline scripts run and print well-formed output (no timing asserted).

Also the measuring helpers they rely on: counting PCG64 draws, the bootstrap AUROC,
block averaging, and the results file sections.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:  # the scripts import ``benchmarks.common``
    sys.path.insert(0, str(REPOSITORY))

from benchmarks import baselines, common, run  # noqa: E402
from generator.modalities import MODALITIES  # noqa: E402


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPOSITORY,
    )


def _written_files() -> dict[str, bytes | None]:
    """The contents of the files the scripts write without ``--quick``."""
    paths = (common.RESULTS_PATH, baselines.JSON_PATH, baselines.MARKDOWN_PATH)
    return {str(path): path.read_bytes() if path.exists() else None for path in paths}


def _table(stdout: str, header: tuple[str, ...]) -> list[list[str]]:
    """The rows of the markdown table with ``header`` in ``stdout`` (cells stripped)."""
    lines = stdout.splitlines()
    start = lines.index("| " + " | ".join(header) + " |")
    assert set(lines[start + 1]) <= set("|-")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), line
        rows.append(cells)
    return rows


@dataclasses.dataclass(frozen=True)
class Quick:
    """A ``--quick`` run: its output, and whether it changed the files written by default."""

    stdout: str
    wrote_default_files: bool
    json: dict | None = None


@pytest.fixture(scope="module")
def run_quick() -> Quick:
    before = _written_files()
    result = _script("run.py", "--quick")
    assert result.returncode == 0, result.stderr
    return Quick(result.stdout, _written_files() != before)


@pytest.fixture(scope="module")
def baselines_quick(tmp_path_factory) -> Quick:
    path = tmp_path_factory.mktemp("baselines") / "result.json"
    before = _written_files()
    result = _script("baselines.py", "--quick", "--explain", "--json", str(path))
    assert result.returncode == 0, result.stderr
    strict = json.loads(path.read_text(), parse_constant=_refuse_constant)  # no NaN
    return Quick(result.stdout, _written_files() != before, strict)


def _refuse_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


class TestRunScript:
    def test_one_table_with_every_benchmark(self, run_quick):
        rows = _table(run_quick.stdout, run.TABLE_HEADERS)
        benchmarks = {row[0] for row in rows}
        assert benchmarks == {
            "generation",
            "random numbers",
            "generation / draw floor",
            "download_and_prepare",
            "export",
            "streaming",
            "loading",
            "targets",
            "memory",
            "peer",
        }
        cases = {(row[0], row[1]) for row in rows}
        for modality in MODALITIES:
            assert ("generation", f"{modality} render") in cases
            assert ("generation / draw floor", modality) in cases
        assert any(case.endswith("num_proc=2") for _, case in cases)
        assert any(case.startswith("peak RSS preparing") for _, case in cases)
        peer = [row[1] for row in rows if row[0] == "peer"]
        assert len(peer) == 2 and peer[0].startswith("ours: generate_patient")
        assert "TorchIO" in peer[1]
        size = run.QUICK.image_size
        assert ("targets", TestPeer.RATIO) in cases
        assert ("targets", f"generation, {size} x {size}, 1 process (target >= 100)") in cases

    def test_every_value_is_a_positive_number(self, run_quick):
        for benchmark, case, value, unit in _table(run_quick.stdout, run.TABLE_HEADERS):
            if value == "skipped":  # only the TorchIO rows, and only without TorchIO
                assert importlib.util.find_spec("torchio") is None, (benchmark, case)
                assert "TorchIO" in case
                continue
            number = float(value)
            assert math.isfinite(number) and number > 0, (benchmark, case, value)
            assert unit

    def test_quick_writes_nothing(self, run_quick):
        assert not run_quick.wrote_default_files


#: Peer figures made up for the row logic: ours 6 x TorchIO, 200 patients/s.
_RATES = run.PeerRates(
    image_size=224,
    images=60,
    rounds=3,
    ours_images_per_second=600.0,
    torchio_images_per_second=100.0,
    torchio_version="1.2.1",
)


def _peer_cells(rates) -> dict[str, tuple[str, str, str]]:
    """The peer rows by case: (benchmark, value, unit)."""
    return {case: (benchmark, value, unit) for benchmark, case, value, unit in run.peer_rows(rates)}


class TestPeer:
    """The TorchIO comparison: its measurement on a tiny input, its ratio and verdicts."""

    RATIO = "ours / TorchIO images/s, per image (target >= 5)"
    FLOOR = "generation, 224 x 224, 1 process (target >= 100)"

    def test_measures_both_sides_on_a_tiny_input(self):
        torchio = pytest.importorskip("torchio")
        import torch

        threads = torch.get_num_threads()
        rates = run.measure_peer(64, 2, rounds=2)
        assert rates.image_size == 64 and rates.images == 2 and rates.rounds == 2
        ours, theirs = rates.ours_images_per_second, rates.torchio_images_per_second
        assert ours > 0 and theirs > 0 and math.isfinite(ours) and math.isfinite(theirs)
        assert rates.ratio == pytest.approx(ours / theirs)
        assert rates.ours_patients_per_second == pytest.approx(ours / len(MODALITIES))
        assert rates.torchio_version == torchio.__version__ and rates.skipped is None
        assert torch.get_num_threads() == threads  # the pin to one thread is undone

    def test_torchio_makes_one_image_per_label_map_of_ours(self):
        pytest.importorskip("torchio")
        import torch

        from generator.patient import generate_patient

        patient = generate_patient(0, seed=42, image_size=32)
        maps = [torch.from_numpy(m)[None, :, :, None] for m in patient.label_maps.values()]
        images = run._torchio_images(run.torchio_pipeline(), maps)
        assert len(images) == len(MODALITIES)
        for image in images:
            assert image.shape == (32, 32) and image.dtype == np.float32
            assert np.isfinite(image).all() and image.std() > 0

    def test_without_torchio_the_measure_says_skipped(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "torchio", None)  # import torchio raises
        rates = run.measure_peer(32, 2, rounds=1)
        assert rates.ours_images_per_second > 0
        assert rates.torchio_images_per_second is None and rates.ratio is None
        assert rates.skipped == "torchio not installed" and rates.torchio_version is None

    @pytest.mark.parametrize(
        ("value", "target", "size", "expected"),
        [
            (5.0, 5.0, 224, "PASS"),
            (7.3, 5.0, 224, "PASS"),
            (4.99, 5.0, 224, "FAIL"),
            (99.9, 100.0, 224, "FAIL"),
            (9.0, 5.0, 32, "not at 224 px"),
        ],
    )
    def test_verdict(self, value, target, size, expected):
        assert run.verdict(value, target, size) == expected

    def test_rows_pass(self):
        cells = _peer_cells(_RATES)
        assert cells[self.RATIO] == ("targets", "6", "x (PASS)")
        assert cells[self.FLOOR] == ("targets", "200", "patients/s (PASS)")
        peer = [(value, unit) for benchmark, value, unit in cells.values() if benchmark == "peer"]
        assert peer == [("600", "images/s"), ("100", "images/s")]  # ours, then TorchIO

    def test_rows_fail(self):
        slow = dataclasses.replace(
            _RATES, ours_images_per_second=270.0, torchio_images_per_second=60.0
        )
        cells = _peer_cells(slow)
        assert cells[self.RATIO] == ("targets", "4.5", "x (FAIL)")
        assert cells[self.FLOOR] == ("targets", "90.0", "patients/s (FAIL)")

    def test_rows_without_torchio_say_skipped(self):
        rates = dataclasses.replace(
            _RATES,
            ours_images_per_second=330.0,
            torchio_images_per_second=None,
            torchio_version=None,
            skipped="torchio not installed",
        )
        cells = _peer_cells(rates)
        assert cells["TorchIO label-to-image pipeline (torchio not installed)"][1] == "skipped"
        assert cells[self.RATIO] == ("targets", "skipped", "-")
        assert cells[self.FLOOR] == ("targets", "110", "patients/s (PASS)")


class TestBaselinesScript:
    def test_table_has_every_modality_model_and_the_majority(self, baselines_quick):
        rows = _table(baselines_quick.stdout, baselines.TABLE_HEADERS)
        expected = [
            (modality, baselines.MODEL_NAMES[kind].format(pixels=32))
            for modality in (*MODALITIES, baselines.FUSED)
            for kind in ("pixels", "features")
        ] + [("-", baselines.MODEL_NAMES["majority"])]
        assert [(row[0], row[1]) for row in rows] == expected
        for row in rows:
            auroc, interval, accuracy, macro_f1 = row[3], row[4], row[5], row[6]
            low, high = (float(x) for x in interval.split(" - "))
            for value in (float(auroc), low, high):  # NaN if the tiny test split has one class
                assert math.isnan(value) or 0 <= value <= 1
            assert 0 <= float(accuracy) <= 1 and 0 <= float(macro_f1) <= 1

    def test_quick_writes_only_the_requested_json(self, baselines_quick):
        assert not baselines_quick.wrote_default_files

    def test_prints_the_three_calibration_checks(self, baselines_quick):
        checks = [
            line for line in baselines_quick.stdout.splitlines() if line.startswith("calibration:")
        ]
        assert len(checks) == len(MODALITIES) + 2
        for line in checks:
            assert line.split()[1] in ("PASS", "FAIL")
            float(line.rsplit(":", 1)[1])

    def test_explain_names_features_of_each_modality(self, baselines_quick):
        lines = [
            line for line in baselines_quick.stdout.splitlines() if line.startswith("strongest ")
        ]
        assert [line.split()[1] for line in lines] == list(MODALITIES)
        for line, modality in zip(lines, MODALITIES, strict=True):
            assert f"{modality}:liver_" in line

    def test_json_matches_the_table(self, baselines_quick):
        result = baselines_quick.json
        assert result["parameters"]["num_patients"] == baselines.QUICK["num_patients"]
        assert len(result["results"]) == 9
        rows = _table(baselines_quick.stdout, baselines.TABLE_HEADERS)
        for row, record in zip(rows, result["results"], strict=True):
            assert row[5] == baselines.format_metric(record["accuracy"])
            assert row[3] == baselines.format_metric(
                math.nan if record["auroc"] is None else record["auroc"]
            )


class TestDrawCounting:
    @pytest.mark.parametrize(
        ("draw", "words"),
        [
            (lambda g: g.bit_generator.random_raw(17), 17),
            (lambda g: g.random(1000), 1000),
            (lambda g: g.integers(0, 2**64 - 1, size=5, dtype=np.uint64, endpoint=True), 5),
            (lambda g: None, 0),
        ],
    )
    def test_counts_the_words_drawn(self, draw, words):
        with run.counting_draws() as created:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([1, 2, 3])))
        draw(rng)
        assert np.random.PCG64 is not run._RecordingPCG64  # restored
        assert len(created) == 1 and created[0].words_drawn() == words

    def test_lcg_distance_of_an_advance(self):
        bit_generator = np.random.PCG64(7)
        state = bit_generator.state["state"]
        bit_generator.advance(123_456_789)
        end = bit_generator.state["state"]["state"]
        assert run.lcg_distance(state["state"], end, state["inc"]) == 123_456_789


class TestMetrics:
    def test_auroc_matches_scikit_learn_with_ties(self):
        from sklearn.metrics import roc_auc_score

        rng = np.random.default_rng(0)
        y = rng.integers(2, size=200).astype(bool)
        score = np.round(rng.normal(size=200) + y, 1)  # rounded: many ties
        assert baselines.auroc(y, score)[0] == pytest.approx(roc_auc_score(y, score))

    def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible(self):
        rng = np.random.default_rng(1)
        y = rng.integers(2, size=150).astype(bool)
        score = rng.normal(size=150) + y
        low, high = baselines.bootstrap_interval(y, score)
        assert low < baselines.auroc(y, score)[0] < high
        assert (low, high) == baselines.bootstrap_interval(y, score)

    def test_single_class_gives_nan(self):
        assert math.isnan(baselines.auroc(np.ones(5, bool), np.arange(5.0))[0])

    def test_block_average_of_divisible_and_uneven_sizes(self):
        image = np.random.default_rng(2).random((64, 64)).astype(np.float32)
        expected = image.reshape(32, 2, 32, 2).mean(axis=(1, 3))
        np.testing.assert_allclose(baselines.block_average(image, 32), expected, rtol=1e-6)
        uneven = baselines.block_average(image[:50, :50], 32)
        assert uneven.shape == (32, 32)
        assert uneven.mean() == pytest.approx(image[:50, :50].mean(), abs=0.02)


class TestResultsSections:
    def test_each_section_is_replaced_and_the_other_kept(self, tmp_path):
        path = tmp_path / "results.md"
        common.replace_section("performance", "one", path)
        common.replace_section("baselines", "two", path)
        common.replace_section("performance", "three", path)
        text = path.read_text()
        assert "three" in text and "two" in text and "one" not in text
        assert text.index("three") < text.index("two")

    def test_a_new_section_takes_its_place_in_the_order(self, tmp_path):
        path = tmp_path / "results.md"
        common.replace_section("baselines", "second", path)
        common.replace_section("performance", "first", path)
        text = path.read_text()
        assert text.startswith("# ") and text.index("first") < text.index("second")


class TestScaleScript:
    @pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the [ray] extra")
    def test_both_engines_measured_and_identical(self):
        before = _written_files()
        result = _script("scale.py", "--num-patients", "16", "--image-size", "32")
        assert result.returncode == 0, result.stderr
        rows = _table(result.stdout, ("benchmark", "case", "value", "unit"))
        cases = {row[1]: float(row[2]) for row in rows}
        for engine in ("local", "ray"):
            assert cases[f"--engine {engine}, 16 patients, 32 x 32"] > 0
            assert (
                cases[f"--engine {engine}, 16 patients, 32 x 32, peak RSS of the largest process"]
                > 0
            )
        assert cases["ray files identical to local (1 = yes)"] == 1
        assert _written_files() == before  # other sizes than the default: nothing written
