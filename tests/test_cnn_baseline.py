"""The CNN baseline trains, predicts probabilities and is deterministic (a tiny cohort:
40 patients at 32 x 32, a few epochs; nothing timed)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:  # the scripts import ``benchmarks.common``
    sys.path.insert(0, str(REPOSITORY))

from benchmarks import cnn_baseline  # noqa: E402
from generator.cohort import split_indices  # noqa: E402
from generator.contract import STAGES, GenerationParameters  # noqa: E402
from generator.modalities import MODALITIES  # noqa: E402

TINY = GenerationParameters(num_patients=40, image_size=32, seed=42)


@pytest.fixture(scope="module")
def torch_settings() -> Iterator[None]:
    """Restores the thread count and deterministic mode that the script sets."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def cohort(torch_settings) -> dict:
    """The tiny cohort, standardised, with its splits; torch configured as the script does."""
    cnn_baseline.configure_torch(threads=1)
    images, stages = cnn_baseline.generate_cohort(TINY)
    splits = {name: np.array(r) for name, r in split_indices(TINY.num_patients).items()}
    return {"x": cnn_baseline.standardise(images, splits["train"]), "y": stages, **splits}


def _fit(cohort: dict, channels: list[int], epochs: int = 3) -> cnn_baseline.Fit:
    x, y, train, val = cohort["x"][:, channels], cohort["y"], cohort["train"], cohort["val"]
    return cnn_baseline.fit(
        x[train],
        torch.from_numpy(y[train]),
        x[val],
        y[val],
        learning_rate=3e-3,
        epochs=epochs,
        patience=epochs,
    )


def test_cohort_images_and_standardisation(cohort):
    x, train = cohort["x"], cohort["train"]
    assert x.dtype == torch.float32
    assert x.shape == (TINY.num_patients, len(MODALITIES), 32, 32)
    assert cohort["y"].dtype == np.int64
    assert set(cohort["y"]) <= set(range(len(STAGES)))
    means = x[train].mean(dim=(0, 2, 3))
    sds = x[train].std(dim=(0, 2, 3))
    np.testing.assert_allclose(means.numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(sds.numpy(), 1.0, atol=1e-3)


def test_training_reduces_the_training_loss(cohort):
    result = _fit(cohort, [0], epochs=3)
    assert len(result.train_losses) == 3
    assert result.train_losses[-1] < result.train_losses[0]
    assert 1 <= result.best_epoch <= 3


def test_probabilities_have_the_stage_shape_and_sum_to_one(cohort):
    result = _fit(cohort, [1], epochs=2)
    test = cohort["test"]
    probabilities = cnn_baseline.predict(result.model, cohort["x"][test][:, [1]])
    assert probabilities.shape == (len(test), len(STAGES))
    assert probabilities.dtype == np.float64
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_same_seed_same_predictions(cohort):
    x_test = cohort["x"][cohort["test"]]
    first, second = (_fit(cohort, [0, 1, 2], epochs=2) for _ in range(2))
    assert first.train_losses == second.train_losses
    np.testing.assert_array_equal(
        cnn_baseline.predict(first.model, x_test), cnn_baseline.predict(second.model, x_test)
    )


def test_fused_model_reads_each_of_three_channels():
    torch.manual_seed(0)
    model = cnn_baseline.StageCNN(branches=3).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
        assert logits.shape == (4, len(STAGES))
        for channel in range(3):
            changed = x.clone()
            changed[:, channel] += 1.0
            assert not torch.equal(model(changed), logits), channel
    assert len(model.branches) == 3
    assert model.head.in_features == 3 * cnn_baseline.CHANNELS[-1]


def test_shifts_move_images_by_at_most_the_margin():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    moved = cnn_baseline.shifted(x, 1, generator)
    assert moved.shape == x.shape
    assert cnn_baseline.shifted(x, 0, generator) is x
    for image, original in zip(moved, x, strict=True):
        # the centre 6 x 6 of a shifted image is a window of the original
        windows = [original[:, dy : dy + 6, dx : dx + 6] for dy in (0, 1, 2) for dx in (0, 1, 2)]
        assert any(torch.equal(image[:, 1:7, 1:7], w) for w in windows)


def test_script_writes_json_for_non_default_parameters(tmp_path, capsys, torch_settings):
    path = tmp_path / "cnn.json"
    default_files = (cnn_baseline.JSON_PATH, cnn_baseline.MARKDOWN_PATH)
    before = [p.read_bytes() if p.exists() else None for p in default_files]
    arguments = "--num-patients 40 --image-size 32 --epochs 1 --threads 1 --quiet --json"
    assert cnn_baseline.main([*arguments.split(), str(path)]) == 0
    result = json.loads(path.read_text())
    assert [r["modality"] for r in result["results"]] == [*MODALITIES, "fused"]
    assert result["split_sizes"] == {"train": 28, "val": 6, "test": 6}
    assert all(r["best_epoch"] == r["epochs_run"] == 1 for r in result["results"])
    stdout = capsys.readouterr().out
    assert "Reproduce with `python benchmarks/cnn_baseline.py --num-patients 40" in stdout
    assert before == [p.read_bytes() if p.exists() else None for p in default_files]


def test_bad_arguments_exit_2(capsys):
    assert cnn_baseline.main(["--epochs", "0"]) == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err


def test_help_has_an_example():
    assert "example: python benchmarks/cnn_baseline.py" in cnn_baseline.build_parser().format_help()
