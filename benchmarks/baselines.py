"""Baselines: how hard is the dataset to learn? ``python benchmarks/baselines.py``.

For each modality alone and for the three fused, two baselines are trained on
``train``, have their hyper-parameters chosen on ``val`` (lowest five-class log loss),
and are evaluated once on ``test``:

- ``pixels``: logistic regression (multinomial, standardised inputs) on the images
  block-averaged to 32 x 32;
- ``features``: simple liver-region features read through the label maps (liver
  intensity statistics, texture and outline; spleen size and intensity), with logistic
  regression or gradient boosting, whichever does better on ``val``.

Both predict the five METAVIR stages; the binary score (F3-F4 vs F0-F2) is
P(F3) + P(F4). Metrics on ``test``: binary AUROC with a 95 % percentile-bootstrap
interval, five-class accuracy and macro-F1; the majority class of ``train`` is the
reference. Patients are generated in memory with ``generate_patient`` (in a process
pool), so nothing is cached on disk. All model randomness is seeded.

The script prints the results table and the three difficulty checks of the calibration
targets. With the default parameters it also writes ``benchmarks/baselines.json``,
``benchmarks/baselines.md`` (the table, for the dataset card) and its section of
``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.stats
import threadpoolctl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.common import (
    REPOSITORY,
    add_cohort_arguments,
    cohort_parameters,
    describe_machine_markdown,
    eroded,
    machine_description,
    markdown_table,
    process_pool,
    replace_section,
)
from generator.cohort import split_indices
from generator.contract import (
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    POSITIVE_STAGES,
    STAGES,
    GenerationParameters,
)
from generator.files import write_text
from generator.label_ids import LIVER_IDS, SPLEEN
from generator.modalities import MODALITIES
from generator.patient import generate_patient

FUSED = "fused"
#: Table names of the models; ``{pixels}`` is the side of the downsampled image.
MODEL_NAMES = {
    "pixels": "logistic regression, {pixels} x {pixels} pixels",
    "features": "liver-region features",
    "majority": "majority class (train)",
}
POSITIVE_INDICES = sorted(STAGES.index(stage) for stage in POSITIVE_STAGES)
MODEL_SEED = 0  # random_state of every model and of the bootstrap
BOOTSTRAP_RESAMPLES = 2000
GLCM_LEVELS = 16

#: Calibration targets (issue 6, part 3).
SINGLE_AUROC_RANGE = (0.75, 0.92)
FUSION_GAIN = 0.03
MAX_FIVE_CLASS_ACCURACY = 0.75

JSON_PATH = REPOSITORY / "benchmarks" / "baselines.json"
MARKDOWN_PATH = REPOSITORY / "benchmarks" / "baselines.md"
QUICK = {"num_patients": 40, "image_size": 32}


# --------------------------------------------------------------------------- features


def block_average(image: np.ndarray, size: int) -> np.ndarray:
    """Area-average ``image`` (S, S) onto a (size, size) grid, S >= size; float32."""
    edges = np.linspace(0, image.shape[0], size + 1).round().astype(np.intp)
    counts = np.diff(edges).astype(np.float64)
    sums = np.add.reduceat(
        np.add.reduceat(image.astype(np.float64), edges[:-1], axis=0), edges[:-1], axis=1
    )
    return (sums / counts[:, None] / counts[None, :]).astype(np.float32)


def _box3(image: np.ndarray) -> np.ndarray:
    """3 x 3 moving average, edges clamped."""
    padded = np.pad(image, 1, mode="edge")
    size_y, size_x = image.shape
    return (
        sum(padded[dy : dy + size_y, dx : dx + size_x] for dy in range(3) for dx in range(3)) / 9.0
    )


def _glcm_features(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Grey-level co-occurrence (offset 1, horizontal + vertical, symmetric) inside ``mask``."""
    levels = np.minimum((image * GLCM_LEVELS).astype(np.intp), GLCM_LEVELS - 1)
    pairs = []
    for a, b, both in (
        (levels[:, :-1], levels[:, 1:], mask[:, :-1] & mask[:, 1:]),
        (levels[:-1, :], levels[1:, :], mask[:-1, :] & mask[1:, :]),
    ):
        pairs.append(a[both] * GLCM_LEVELS + b[both])
        pairs.append(b[both] * GLCM_LEVELS + a[both])
    codes = np.concatenate(pairs)
    if codes.size == 0:
        return dict.fromkeys(("contrast", "homogeneity", "energy", "entropy"), math.nan)
    p = np.bincount(codes, minlength=GLCM_LEVELS**2).reshape(GLCM_LEVELS, GLCM_LEVELS)
    p = p / p.sum()
    i, j = np.indices(p.shape)
    nonzero = p[p > 0]
    return {
        "contrast": float((p * (i - j) ** 2).sum()),
        "homogeneity": float((p / (1.0 + (i - j) ** 2)).sum()),
        "energy": float((p**2).sum()),
        "entropy": float(-(nonzero * np.log(nonzero)).sum()),
    }


def _intensity_features(values: np.ndarray) -> dict[str, float]:
    if values.size < 2:
        return dict.fromkeys(("mean", "sd", "p10", "p50", "p90", "skew", "kurtosis"), math.nan)
    values = values.astype(np.float64)
    mean, sd = values.mean(), values.std()
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    centred = (values - mean) / sd if sd > 0 else np.zeros_like(values)
    return {
        "mean": mean,
        "sd": sd,
        "p10": p10,
        "p50": p50,
        "p90": p90,
        "skew": float((centred**3).mean()),
        "kurtosis": float((centred**4).mean() - 3.0),
    }


def region_features(image: np.ndarray, label_map: np.ndarray) -> dict[str, float]:
    """Liver-region features of one image, read through its label map.

    The liver region (``generator.label_ids.LIVER_IDS``: the parenchyma and the focal
    findings labelled inside it, merged so that the model reads the findings from the
    image, not from their labels) gets its area fraction, intensity statistics, texture
    (fine detail, bright outliers, grey-level co-occurrence) and outline length; the
    spleen its area fraction, mean intensity and the liver-to-spleen intensity ratio
    (NaN when it is not in view). Labels of
    focal findings or of other organs are deliberately not counted: they annotate what
    the image shows, and counting them would read the answer instead of the image.
    """
    liver = np.isin(label_map, LIVER_IDS)
    area = int(liver.sum())
    features = {"liver_area": area / liver.size}
    values = image[liver]
    for name, value in _intensity_features(values).items():
        features[f"liver_{name}"] = value
    inner = eroded(liver, 2)
    detail = (image - _box3(image))[inner]
    features["liver_detail_sd"] = float(detail.std()) if detail.size > 1 else math.nan
    if values.size > 1 and inner.any():
        median = np.median(values)
        mad = 1.4826 * np.median(np.abs(values - median))
        features["liver_bright_fraction"] = float((image[inner] > median + 4 * mad).mean())
    else:
        features["liver_bright_fraction"] = math.nan
    for name, value in _glcm_features(image, liver).items():
        features[f"liver_glcm_{name}"] = value
    outline = int((liver & ~eroded(liver, 1)).sum())
    features["liver_outline"] = outline / math.sqrt(area) if area else math.nan
    spleen = label_map == SPLEEN
    features["spleen_area"] = float(spleen.mean())
    spleen_mean = float(image[spleen].mean()) if spleen.any() else math.nan
    features["spleen_mean"] = spleen_mean
    features["liver_to_spleen_ratio"] = (
        features["liver_mean"] / spleen_mean if spleen_mean > 0 else math.nan
    )
    return features


def _patient_row(index: int, seed: int, image_size: int, pixels: int) -> dict:
    """What the baselines read of one patient: stage, downsampled images, features."""
    patient = generate_patient(index, seed=seed, image_size=image_size)
    return {
        "stage": patient.labels.stage_index,
        "pixels": {m: block_average(patient.images[m], pixels) for m in MODALITIES},
        "features": {
            m: region_features(patient.images[m], patient.label_maps[m]) for m in MODALITIES
        },
    }


def _patient_rows_star(args: tuple) -> list[dict]:
    indices, seed, image_size, pixels = args
    return [_patient_row(index, seed, image_size, pixels) for index in indices]


def _map(function, tasks: Sequence, pool) -> list:
    """``function`` over ``tasks`` in order, in ``pool`` if there is one."""
    return list(pool.imap(function, tasks)) if pool is not None else [function(t) for t in tasks]


def generate_rows(parameters: GenerationParameters, *, pixels: int, pool=None) -> list[dict]:
    """Rows of every patient, in index order (generated in ``pool`` if given)."""
    chunk, num_patients = 8, parameters.num_patients
    tasks = [
        (
            range(start, min(start + chunk, num_patients)),
            parameters.seed,
            parameters.image_size,
            pixels,
        )
        for start in range(0, num_patients, chunk)
    ]
    return [row for rows in _map(_patient_rows_star, tasks, pool) for row in rows]


def design_matrix(rows: Sequence[dict], modality: str, kind: str) -> np.ndarray:
    """The inputs of the ``kind`` (``pixels``/``features``) model for a modality or ``fused``."""
    modalities = MODALITIES if modality == FUSED else (modality,)
    if kind == "pixels":
        return np.stack(
            [np.concatenate([row["pixels"][m].ravel() for m in modalities]) for row in rows]
        )
    return np.array(
        [[value for m in modalities for value in row["features"][m].values()] for row in rows],
        dtype=np.float64,
    )


def feature_names(rows: Sequence[dict], modality: str) -> list[str]:
    """Names of the columns of ``design_matrix(rows, modality, "features")``."""
    modalities = MODALITIES if modality == FUSED else (modality,)
    return [f"{m}:{name}" for m in modalities for name in rows[0]["features"][m]]


def strongest_features(rows: Sequence[dict], train: np.ndarray, top: int = 5) -> list[str]:
    """Per modality, the ``top`` features whose value alone best separates F3-F4 from
    F0-F2 on ``train`` (AUROC, or 1 - AUROC for a falling feature): where the signal is."""
    y = np.isin([rows[i]["stage"] for i in train], POSITIVE_INDICES)
    lines = []
    for modality in MODALITIES:
        x = design_matrix([rows[i] for i in train], modality, "features")
        names = feature_names(rows, modality)
        scores = []
        for column, name in zip(x.T, names, strict=True):
            seen = np.isfinite(column)
            if seen.sum() > 1 and 0 < y[seen].sum() < seen.sum():
                value = float(auroc(y[seen], column[seen])[0])
                scores.append((max(value, 1 - value), name, "up" if value >= 0.5 else "down"))
        scores.sort(reverse=True)
        described = ", ".join(f"{name} {score:.3f} ({way})" for score, name, way in scores[:top])
        lines.append(f"strongest {modality} features (train AUROC): {described}")
    return lines


# ----------------------------------------------------------------------------- models


def pixel_candidates() -> list[tuple[str, object]]:
    """Logistic regression over a grid of inverse regularisation strengths."""
    return [
        (
            f"logistic regression C={c:g}",
            make_pipeline(
                StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=MODEL_SEED)
            ),
        )
        for c in (1e-4, 1e-3, 1e-2, 1e-1)
    ]


def feature_candidates() -> list[tuple[str, object]]:
    """Logistic regression (median-imputed, standardised) and gradient boosting."""
    candidates = [
        (
            f"logistic regression C={c:g}",
            make_pipeline(
                SimpleImputer(strategy="median"),
                StandardScaler(),
                LogisticRegression(C=c, max_iter=3000, random_state=MODEL_SEED),
            ),
        )
        for c in (1e-2, 1e-1, 1.0, 10.0)
    ]
    candidates += [
        (
            f"gradient boosting depth={depth} lr={rate:g}",
            HistGradientBoostingClassifier(
                max_depth=depth,
                learning_rate=rate,
                max_iter=100,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=MODEL_SEED,
            ),
        )
        for depth in (2, 3)
        for rate in (0.03, 0.1)
    ]
    return candidates


def stage_probabilities(model, x: np.ndarray) -> np.ndarray:
    """(n, 5) stage probabilities, zero for stages absent from the training set."""
    probabilities = np.zeros((len(x), len(STAGES)))
    probabilities[:, model.classes_] = model.predict_proba(x)
    return probabilities


def log_loss_of(y_stage: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean negative log probability of the true stage (probabilities floored at 1e-15)."""
    true = probabilities[np.arange(len(y_stage)), y_stage]
    return float(-np.log(np.clip(true, 1e-15, None)).mean())


def select_and_fit(candidates, x_train, y_train, x_val, y_val) -> tuple[str, object, float]:
    """Fit every candidate on train; keep the one with the lowest validation log loss."""
    best = None
    for name, model in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y_train)
        loss = log_loss_of(y_val, stage_probabilities(model, x_val))
        if best is None or loss < best[2]:
            best = (name, model, loss)
    return best


# ---------------------------------------------------------------------------- metrics


def auroc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``score`` against the matching row of binary ``y``.

    ``y`` and ``score`` are (B, n) (or (n,)); ties count one half (Mann-Whitney U).
    Rows with a single class give NaN.
    """
    y, score = np.atleast_2d(y).astype(bool), np.atleast_2d(score)
    ranks = scipy.stats.rankdata(score, axis=1)
    positives = y.sum(axis=1)
    negatives = y.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        u = (ranks * y).sum(axis=1) - positives * (positives + 1) / 2
        return u / (positives * negatives)


def bootstrap_interval(
    y: np.ndarray, score: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the AUROC (resamples with one class dropped)."""
    rng = np.random.Generator(np.random.PCG64(MODEL_SEED))
    draws = rng.integers(len(y), size=(resamples, len(y)))
    values = auroc(y[draws], score[draws])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def evaluate(y_stage: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Test metrics of five-class stage probabilities."""
    y_binary = np.isin(y_stage, POSITIVE_INDICES)
    score = probabilities[:, POSITIVE_INDICES].sum(axis=1)
    predicted = probabilities.argmax(axis=1)
    low, high = bootstrap_interval(y_binary, score)
    return {
        "auroc": float(auroc(y_binary, score)[0]),
        "auroc_low": low,
        "auroc_high": high,
        "accuracy": float(accuracy_score(y_stage, predicted)),
        "macro_f1": float(
            f1_score(
                y_stage, predicted, labels=range(len(STAGES)), average="macro", zero_division=0
            )
        ),
    }


# ------------------------------------------------------------------------------- main


def _fit_and_evaluate(task: tuple) -> dict:
    """Choose and fit one baseline (train, val), evaluate it on test: its result row."""
    modality, kind, x, stages, splits = task
    train, val, test = splits["train"], splits["val"], splits["test"]
    # Inputs with no observed value in train (e.g. the spleen, never in an ultrasound
    # view) carry nothing and break the median imputer; drop them.
    x = x[:, np.isfinite(x[train]).any(axis=0)]
    candidates = pixel_candidates() if kind == "pixels" else feature_candidates()
    # One thread: these fits are small, and run one per process; more threads only
    # contend (gradient boosting's OpenMP is many times slower on a busy machine).
    with threadpoolctl.threadpool_limits(limits=1):
        chosen, model, val_loss = select_and_fit(
            candidates, x[train], stages[train], x[val], stages[val]
        )
        probabilities = stage_probabilities(model, x[test])
    return {
        "modality": modality,
        "model": kind,
        "selected": chosen,
        "val_log_loss": val_loss,
        "num_inputs": int(x.shape[1]),
        **evaluate(stages[test], probabilities),
    }


def run_baselines(
    parameters: GenerationParameters,
    *,
    pixels: int,
    workers: int,
    explain: bool = False,
) -> dict:
    """Generate the patients, fit and evaluate every baseline; the JSON-ready result.

    ``explain`` adds ``strongest_features`` (lines of text) to the result.
    """
    started = time.perf_counter()
    splits = {
        name: np.array(indices) for name, indices in split_indices(parameters.num_patients).items()
    }
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(process_pool(workers)) if workers > 1 else None
        rows = generate_rows(parameters, pixels=pixels, pool=pool)
        generated = time.perf_counter()
        stages = np.array([row["stage"] for row in rows])
        tasks = [
            (modality, kind, design_matrix(rows, modality, kind), stages, splits)
            for modality in (*MODALITIES, FUSED)
            for kind in ("pixels", "features")
        ]
        explanation = strongest_features(rows, splits["train"]) if explain else []
        del rows
        results = _map(_fit_and_evaluate, tasks, pool)
    train, test = splits["train"], splits["test"]
    majority = int(np.bincount(stages[train], minlength=len(STAGES)).argmax())
    constant = np.zeros((len(test), len(STAGES)))
    constant[:, majority] = 1.0
    results.append(
        {
            "modality": "-",
            "model": "majority",
            "selected": f"always {STAGES[majority]}",
            "val_log_loss": math.nan,
            "num_inputs": 0,
            **evaluate(stages[test], constant),
        }
    )
    return {
        "generator_version": GENERATOR_VERSION,
        "parameters": {
            "num_patients": parameters.num_patients,
            "image_size": parameters.image_size,
            "seed": parameters.seed,
            "pixels": pixels,
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "model_seed": MODEL_SEED,
        },
        "workers": workers,
        "split_sizes": {name: len(indices) for name, indices in splits.items()},
        "test_stage_counts": dict(
            zip(STAGES, np.bincount(stages[test], minlength=len(STAGES)).tolist(), strict=True)
        ),
        "results": results,
        "calibration": calibration_checks(results),
        **({"strongest_features": explanation} if explain else {}),
        "seconds": {
            "generation": generated - started,
            "models": time.perf_counter() - generated,
        },
    }


def calibration_checks(results: Sequence[dict]) -> list[dict]:
    """The three difficulty targets, on test: name, measured value, pass/fail."""
    learned = [r for r in results if r["model"] != "majority"]

    def best_auroc(modality: str) -> float:
        return max(r["auroc"] for r in learned if r["modality"] == modality)

    checks = []
    low, high = SINGLE_AUROC_RANGE
    single = {m: best_auroc(m) for m in MODALITIES}
    for modality, value in single.items():
        checks.append(
            {
                "check": f"{modality} best binary AUROC in [{low}, {high}]",
                "value": value,
                "passed": bool(low <= value <= high),
            }
        )
    fused, best_single = best_auroc(FUSED), max(single.values())
    checks.append(
        {
            "check": f"fused best AUROC >= best single ({best_single:.3f}) + {FUSION_GAIN}",
            "value": fused,
            "passed": bool(fused >= best_single + FUSION_GAIN),
        }
    )
    accuracy = max(r["accuracy"] for r in learned)
    checks.append(
        {
            "check": f"best 5-class accuracy < {MAX_FIVE_CLASS_ACCURACY}",
            "value": accuracy,
            "passed": bool(accuracy < MAX_FIVE_CLASS_ACCURACY),
        }
    )
    return checks


def format_metric(value: float) -> str:
    """A metric with three decimals (``nan`` when undefined)."""
    return "nan" if math.isnan(value) else f"{value:.3f}"


TABLE_HEADERS = (
    "modality",
    "model",
    "selected on val",
    "binary AUROC",
    "AUROC 95 % CI",
    "5-class accuracy",
    "5-class macro-F1",
)


def results_table(result: dict) -> str:
    """The results as a markdown table, one row per baseline."""
    pixels = result["parameters"]["pixels"]
    rows = [
        (
            r["modality"],
            MODEL_NAMES[r["model"]].format(pixels=pixels),
            r["selected"],
            format_metric(r["auroc"]),
            f"{format_metric(r['auroc_low'])} - {format_metric(r['auroc_high'])}",
            format_metric(r["accuracy"]),
            format_metric(r["macro_f1"]),
        )
        for r in result["results"]
    ]
    return markdown_table(TABLE_HEADERS, rows)


def command_line(result: dict) -> str:
    """The command that reproduces ``result``."""
    parameters = result["parameters"]
    words = ["python benchmarks/baselines.py"]
    defaults = {
        "num_patients": DEFAULT_NUM_PATIENTS,
        "image_size": DEFAULT_IMAGE_SIZE,
        "seed": DEFAULT_SEED,
        "pixels": 32,
    }
    for name, default in defaults.items():
        if parameters[name] != default:
            words.append(f"--{name.replace('_', '-')} {parameters[name]}")
    return " ".join(words)


def results_markdown(result: dict) -> str:
    """The table with what it was measured on and how to reproduce it (for the card)."""
    parameters, sizes = result["parameters"], result["split_sizes"]
    total_seconds = sum(result["seconds"].values())
    counts = ", ".join(f"{stage} {n}" for stage, n in result["test_stage_counts"].items())
    return "\n".join(
        [
            f"Baselines on {parameters['num_patients']} patients at "
            f"{parameters['image_size']} x {parameters['image_size']} (seed "
            f"{parameters['seed']}, generator {result['generator_version']}): trained on "
            f"`train` ({sizes['train']}), hyper-parameters chosen on `val` ({sizes['val']}, "
            f"lowest five-class log loss), evaluated once on `test` ({sizes['test']}: "
            f"{counts}). Binary AUROC is F3-F4 vs F0-F2 with P(F3) + P(F4) as the score; "
            f"its 95 % interval is a percentile bootstrap of {parameters['bootstrap_resamples']} "
            "test resamples. Both models predict the five stages: a logistic regression on "
            f"the images block-averaged to {parameters['pixels']} x {parameters['pixels']}, "
            "and a model on liver-region features read through the label maps (liver "
            "intensity statistics, texture and outline; spleen size and intensity), "
            "logistic regression or gradient boosting as chosen on `val`. Fused: the three "
            "modalities' inputs side by side.",
            "",
            results_table(result),
            "",
            f"Reproduce with `{command_line(result)}` (took {total_seconds:.0f} s on "
            f"{result['workers']} worker processes).",
        ]
    )


def checks_text(result: dict) -> str:
    """The calibration checks, one ``PASS``/``FAIL`` line each."""
    return "\n".join(
        f"calibration: {'PASS' if c['passed'] else 'FAIL'}  {c['check']}: "
        f"{format_metric(c['value'])}"
        for c in result["calibration"]
    )


def _without_nan(value):
    """``value`` with every float NaN (an undefined metric) replaced by ``None``."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nan(item) for item in value]
    return value


def write_json(path: Path, result: dict) -> None:
    """Strict JSON (undefined metrics as ``null``), written atomically."""
    text = json.dumps(_without_nan(result), indent=2, allow_nan=False)
    write_text(path, text + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baselines.py",
        description="Train and evaluate the baselines (pixels, liver-region features) per "
        "modality and fused; print the results and the calibration checks.",
        epilog="example: python benchmarks/baselines.py --num-patients 1000 --image-size 224",
    )
    add_cohort_arguments(parser, DEFAULT_NUM_PATIENTS, DEFAULT_IMAGE_SIZE)
    parser.add_argument(
        "--pixels",
        type=int,
        default=32,
        help="side of the block-averaged image the pixel model reads (default: 32)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes generating patients and fitting models (default: all cores)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny run ({QUICK['num_patients']} patients at {QUICK['image_size']} x "
        f"{QUICK['image_size']}) to check that the script works; writes nothing",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also print, per modality, the features that alone best separate F3-F4 "
        "from F0-F2 on train (to see which cue makes a modality easy)",
    )
    parser.add_argument(
        "--json", type=Path, help="write the results as JSON here (default: see --write)"
    )
    parser.add_argument(
        "--write",
        choices=("auto", "yes", "no"),
        default="auto",
        help="write benchmarks/baselines.json, baselines.md and the results.md section: "
        "'auto' does so only for the default parameters without --quick (default: auto)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.num_patients, args.image_size = QUICK["num_patients"], QUICK["image_size"]
    parameters = cohort_parameters(args, "baselines.py")
    if parameters is None:
        return 2
    if not 1 <= args.pixels <= parameters.image_size:
        print("baselines.py: error: --pixels must be in 1..--image-size", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("baselines.py: error: --workers must be >= 1", file=sys.stderr)
        return 2
    result = run_baselines(
        parameters,
        pixels=args.pixels,
        workers=args.workers,
        explain=args.explain,
    )
    print(results_markdown(result))
    print()
    print(checks_text(result))
    for line in result.get("strongest_features", []):
        print(line)
    seconds = result["seconds"]
    print(
        f"time: generation {seconds['generation']:.1f} s, models {seconds['models']:.1f} s",
        file=sys.stderr,
    )
    result["measured_on"] = machine_description()
    if args.json:
        write_json(args.json, result)
    is_default = not args.quick and command_line(result) == "python benchmarks/baselines.py"
    if args.write == "yes" or (args.write == "auto" and is_default):
        write_json(JSON_PATH, result)
        write_text(MARKDOWN_PATH, results_markdown(result) + "\n")
        machine = describe_machine_markdown(result["measured_on"])
        replace_section(
            "baselines",
            "\n\n".join(
                [
                    "## Baselines (learning difficulty)",
                    f"Measured by `{command_line(result)}`:",
                    machine,
                    results_markdown(result),
                    "Calibration targets (issue 6):\n\n```\n" + checks_text(result) + "\n```",
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
