"""A learned baseline: a small CNN trained from scratch. ``python benchmarks/cnn_baseline.py``.

The model this dataset's users will train, with the protocol of ``baselines.py``: for
each modality alone and for the three fused, a CNN is trained on ``train``, its epoch
(early stopping) and learning rate are chosen on ``val`` (lowest five-class log loss),
and it is evaluated once on ``test``: binary AUROC (F3-F4 vs F0-F2, score P(F3) +
P(F4)) with its 95 % percentile-bootstrap interval, five-class accuracy and macro-F1,
all computed by ``baselines.evaluate``.

Network (one branch): four blocks of 3 x 3 convolution (a 5 x 5 one of stride 2 in the
first), batch norm and ReLU, with 2 x 2 max pooling after the first three (16, 32, 64,
64 channels: 112 px -> 28 -> 14 -> 7), global average pooling, one linear layer to
the five stages. The first convolution's stride keeps the run within a few minutes on
two cores; it still reads every pixel.

Fusion: three branches, one per modality, whose pooled features are concatenated
before the linear layer (late fusion), rather than the modalities as three channels of
one network. MRI and CT share a frame of reference, but the ultrasound image is a
sector scan of another field of view at the probe's pose, so the same pixel is not the
same tissue across the three images; stacked as channels, the first convolution would
mix unregistered pixels. Each branch is the single-modality network, so the fused row
differs from the single rows by the fusion only.

Inputs: the generator's float32 images in [0, 1] at 112 x 112, standardised with the
mean and standard deviation of ``train`` per modality. Augmentation: random shifts of
up to 4 % of the side (edges replicated); never flips, which would swap the patient's
left and right in the radiological layout. AdamW, batches of 64, at most 15 epochs,
stopping after 4 without a better validation log loss.

Reproducible: the patients come from the generator (seed 42), the model's initial
weights, batch order and shifts from ``baselines.MODEL_SEED``, with
``torch.use_deterministic_algorithms(True)`` and a fixed thread count (``--threads``,
default 1), so a rerun with the same threads on the same machine gives the same
figures. One thread is the default as it does not depend on the core count and, on a
shared two-core machine, trained two to five times faster than two (which contend). With the
default parameters the script writes ``benchmarks/cnn_baselines.json`` and
``benchmarks/cnn_baselines.md``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from benchmarks.baselines import (
    BOOTSTRAP_RESAMPLES,
    FUSED,
    MODEL_SEED,
    TABLE_HEADERS,
    evaluate,
    format_metric,
    log_loss_of,
    write_json,
)
from benchmarks.common import (
    REPOSITORY,
    add_cohort_arguments,
    cohort_parameters,
    machine_description,
    markdown_table,
)
from generator.cohort import split_indices
from generator.contract import (
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    STAGES,
    GenerationParameters,
)
from generator.files import write_text
from generator.modalities import MODALITIES
from generator.patient import generate_patient

DEFAULT_IMAGE_SIZE = 112
CHANNELS = (16, 32, 64, 64)
LEARNING_RATES = (1e-3, 3e-3)
WEIGHT_DECAY = 1e-4
BATCH_SIZE = 64
MAX_EPOCHS = 15
PATIENCE = 4
MAX_SHIFT = 0.04  # of the image side
JSON_PATH = REPOSITORY / "benchmarks" / "cnn_baselines.json"
MARKDOWN_PATH = REPOSITORY / "benchmarks" / "cnn_baselines.md"


def configure_torch(threads: int) -> None:
    """Deterministic algorithms only, on ``threads`` intra-op threads."""
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def generate_cohort(
    parameters: GenerationParameters, *, quiet: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 (N, 3, S, S) in [0, 1], channels in ``MODALITIES`` order, and
    stage indices int64 (N,), in patient index order."""
    size = parameters.image_size
    images = np.empty((parameters.num_patients, len(MODALITIES), size, size), np.float32)
    stages = np.empty(parameters.num_patients, np.int64)
    for index in tqdm(range(parameters.num_patients), desc="patients", disable=quiet):
        patient = generate_patient(index, seed=parameters.seed, image_size=size)
        images[index] = [patient.images[m] for m in MODALITIES]
        stages[index] = patient.labels.stage_index
    return images, stages


def _block(in_channels: int, out_channels: int, *, first: bool, pool: bool) -> nn.Sequential:
    kernel, stride = (5, 2) if first else (3, 1)
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))


def _branch() -> nn.Sequential:
    """One image (N, 1, S, S) -> pooled features (N, CHANNELS[-1]); S >= 16."""
    ins = (1, *CHANNELS[:-1])
    blocks = [
        _block(i, o, first=k == 0, pool=k < len(CHANNELS) - 1)
        for k, (i, o) in enumerate(zip(ins, CHANNELS, strict=True))
    ]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())


class StageCNN(nn.Module):
    """Images float32 (N, B, S, S), one channel per branch -> stage logits (N, 5)."""

    def __init__(self, branches: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_branch() for _ in range(branches))
        self.head = nn.Linear(CHANNELS[-1] * branches, len(STAGES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [branch(x[:, k : k + 1]) for k, branch in enumerate(self.branches)]
        return self.head(torch.cat(features, dim=1))


def shifted(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``x`` (N, C, S, S) moved by up to ``max_shift`` pixels along each
    axis (uniform integers, edges replicated)."""
    if max_shift == 0:
        return x
    padded = nn.functional.pad(x, (max_shift,) * 4, mode="replicate")
    size = x.shape[-1]
    offsets = torch.randint(0, 2 * max_shift + 1, (len(x), 2), generator=generator).tolist()
    return torch.stack(
        [
            image[:, dy : dy + size, dx : dx + size]
            for image, (dy, dx) in zip(padded, offsets, strict=True)
        ]
    )


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Stage probabilities float64 (N, 5) of ``x`` (N, B, S, S), in eval mode."""
    model.eval()
    logits = torch.cat([model(batch) for batch in x.split(256)])
    return torch.softmax(logits.double(), dim=1).numpy()


@dataclasses.dataclass
class Fit:
    """A trained model at its best epoch (1-based), with that epoch's validation log loss
    and the mean training loss (cross-entropy, nats) of every epoch run."""

    model: StageCNN
    best_epoch: int
    val_log_loss: float
    train_losses: list[float]


def fit(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: np.ndarray,
    *,
    learning_rate: float,
    epochs: int = MAX_EPOCHS,
    patience: int = PATIENCE,
    progress: str | None = None,
) -> Fit:
    """Train a ``StageCNN`` on standardised ``x_train`` (N, B, S, S) and stage indices
    ``y_train`` (N,) for up to ``epochs``, keeping the epoch of lowest log loss on
    (``x_val``, ``y_val``) and stopping after ``patience`` epochs without one. Seeded
    by ``MODEL_SEED``; ``progress`` names a progress bar (none if None)."""
    torch.manual_seed(MODEL_SEED)
    generator = torch.Generator().manual_seed(MODEL_SEED)
    model = StageCNN(branches=x_train.shape[1])
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=WEIGHT_DECAY)
    max_shift = round(MAX_SHIFT * x_train.shape[-1])
    best, train_losses = None, []
    bar = tqdm(range(1, epochs + 1), desc=progress, unit="epoch", disable=progress is None)
    for epoch in bar:
        model.train()
        total = 0.0
        for batch in torch.randperm(len(x_train), generator=generator).split(BATCH_SIZE):
            loss = nn.functional.cross_entropy(
                model(shifted(x_train[batch], max_shift, generator)), y_train[batch]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        train_losses.append(total / len(x_train))
        val_loss = log_loss_of(y_val, predict(model, x_val))
        if best is None or val_loss < best.val_log_loss:
            best = Fit(copy.deepcopy(model), epoch, val_loss, train_losses)
        bar.set_postfix(train=f"{train_losses[-1]:.3f}", val=f"{val_loss:.3f}")
        if epoch - best.best_epoch >= patience:
            break
    bar.close()
    return best


def standardise(images: np.ndarray, train: np.ndarray) -> torch.Tensor:
    """``images`` (N, C, S, S) minus the mean of ``images[train]``, over its standard
    deviation, per channel; float32."""
    mean = images[train].mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    sd = images[train].std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    return torch.from_numpy(((images - mean) / sd).astype(np.float32))


def run_cnn_baselines(
    parameters: GenerationParameters,
    *,
    epochs: int = MAX_EPOCHS,
    threads: int,
    quiet: bool = True,
) -> dict:
    """Generate the patients, train, choose and evaluate the CNN per modality and
    fused; the JSON-ready result."""
    configure_torch(threads)
    started = time.perf_counter()
    images, stages = generate_cohort(parameters, quiet=quiet)
    generated = time.perf_counter()
    splits = {name: np.array(r) for name, r in split_indices(parameters.num_patients).items()}
    train, val, test = splits["train"], splits["val"], splits["test"]
    x = standardise(images, train)
    del images
    y_train = torch.from_numpy(stages[train])
    results = []
    for modality in (*MODALITIES, FUSED):
        model_started = time.perf_counter()
        channels = (
            list(range(len(MODALITIES))) if modality == FUSED else [MODALITIES.index(modality)]
        )
        inputs = x[:, channels]
        fits = {
            rate: fit(
                inputs[train],
                y_train,
                inputs[val],
                stages[val],
                learning_rate=rate,
                epochs=epochs,
                progress=None if quiet else f"{modality} lr={rate:g}",
            )
            for rate in LEARNING_RATES
        }
        rate, chosen = min(fits.items(), key=lambda item: item[1].val_log_loss)
        results.append(
            {
                "modality": modality,
                "model": "cnn",
                "selected": f"lr={rate:g}, epoch {chosen.best_epoch}",
                "learning_rate": rate,
                "best_epoch": chosen.best_epoch,
                "epochs_run": len(chosen.train_losses),
                "val_log_loss": chosen.val_log_loss,
                "num_parameters": sum(p.numel() for p in chosen.model.parameters()),
                **evaluate(stages[test], predict(chosen.model, inputs[test])),
                "seconds": time.perf_counter() - model_started,
            }
        )
    return {
        "generator_version": GENERATOR_VERSION,
        "parameters": {
            "num_patients": parameters.num_patients,
            "image_size": parameters.image_size,
            "seed": parameters.seed,
            "epochs": epochs,
            "patience": PATIENCE,
            "batch_size": BATCH_SIZE,
            "learning_rates": list(LEARNING_RATES),
            "weight_decay": WEIGHT_DECAY,
            "max_shift": MAX_SHIFT,
            "channels": list(CHANNELS),
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "model_seed": MODEL_SEED,
        },
        "threads": threads,
        "torch_version": torch.__version__,
        "split_sizes": {name: len(indices) for name, indices in splits.items()},
        "test_stage_counts": dict(
            zip(STAGES, np.bincount(stages[test], minlength=len(STAGES)).tolist(), strict=True)
        ),
        "results": results,
        "seconds": {
            "generation": generated - started,
            "training": time.perf_counter() - generated,
        },
    }


def command_line(result: dict) -> str:
    """The command that reproduces ``result``."""
    parameters = result["parameters"]
    words = ["python benchmarks/cnn_baseline.py"]
    defaults = {
        "num_patients": DEFAULT_NUM_PATIENTS,
        "image_size": DEFAULT_IMAGE_SIZE,
        "seed": DEFAULT_SEED,
        "epochs": MAX_EPOCHS,
    }
    for name, default in defaults.items():
        if parameters[name] != default:
            words.append(f"--{name.replace('_', '-')} {parameters[name]}")
    return " ".join(words)


def results_markdown(result: dict) -> str:
    """The results table with what it was measured on and how to reproduce it."""
    parameters, sizes = result["parameters"], result["split_sizes"]
    size = parameters["image_size"]
    counts = ", ".join(f"{stage} {n}" for stage, n in result["test_stage_counts"].items())
    rows = [
        (
            r["modality"],
            f"CNN, {'3 branches' if r['modality'] == FUSED else '1 branch'}, {size} x {size}",
            r["selected"],
            format_metric(r["auroc"]),
            f"{format_metric(r['auroc_low'])} - {format_metric(r['auroc_high'])}",
            format_metric(r["accuracy"]),
            format_metric(r["macro_f1"]),
        )
        for r in result["results"]
    ]
    seconds, threads = result["seconds"], result["threads"]
    return "\n".join(
        [
            f"CNN baseline on {parameters['num_patients']} patients at {size} x {size} "
            f"(seed {parameters['seed']}, generator {result['generator_version']}, PyTorch "
            f"{result['torch_version']}): a small CNN trained from scratch on `train` "
            f"({sizes['train']}), epoch (early stopping, at most {parameters['epochs']}) and "
            f"learning rate chosen on `val` ({sizes['val']}, lowest five-class log loss), "
            f"evaluated once on `test` ({sizes['test']}: {counts}). Four convolution blocks "
            f"({', '.join(map(str, parameters['channels']))} channels), global average "
            "pooling, a linear layer to the five stages; shifts of up to "
            f"{100 * parameters['max_shift']:.0f} % of the side as augmentation, no flips. "
            "Fused: one such branch per modality, pooled features concatenated. Binary "
            "AUROC is F3-F4 vs F0-F2 with P(F3) + P(F4) as the score; its 95 % interval is "
            f"a percentile bootstrap of {parameters['bootstrap_resamples']} test resamples.",
            "",
            markdown_table(TABLE_HEADERS, rows),
            "",
            f"Reproduce with `{command_line(result)}` (took {sum(seconds.values()):.0f} s "
            f"on {threads} CPU thread{'s' if threads > 1 else ''}: generation "
            f"{seconds['generation']:.0f} s, training {seconds['training']:.0f} s).",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnn_baseline.py",
        description="Train a small CNN from scratch on the CPU per modality and fused, "
        "choose it on val, evaluate it on test; print the results table.",
        epilog="example: python benchmarks/cnn_baseline.py --epochs 15 --threads 1 --quiet",
    )
    add_cohort_arguments(parser, DEFAULT_NUM_PATIENTS, DEFAULT_IMAGE_SIZE, ", >= 32")
    parser.add_argument(
        "--epochs",
        type=int,
        default=MAX_EPOCHS,
        help=f"most epochs per model, before early stopping (default: {MAX_EPOCHS})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="PyTorch threads; the figures are reproducible for a given count on a given "
        "machine (default: 1, which is also the fastest on a busy machine)",
    )
    parser.add_argument(
        "--json", type=Path, help="also write the results as JSON here (any parameters)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parameters = cohort_parameters(args, "cnn_baseline.py")
    if parameters is None:
        return 2
    for bad, message in (
        (args.epochs < 1, "--epochs must be >= 1"),
        (args.threads < 1, "--threads must be >= 1"),
    ):
        if bad:
            print(f"cnn_baseline.py: error: {message}", file=sys.stderr)
            return 2
    result = run_cnn_baselines(
        parameters, epochs=args.epochs, threads=args.threads, quiet=args.quiet
    )
    result["measured_on"] = machine_description()
    print(results_markdown(result))
    seconds = result["seconds"]
    print(
        f"time: generation {seconds['generation']:.1f} s, training {seconds['training']:.1f} s",
        file=sys.stderr,
    )
    if args.json:
        write_json(args.json, result)
    if command_line(result) == "python benchmarks/cnn_baseline.py":
        write_json(JSON_PATH, result)
        write_text(MARKDOWN_PATH, results_markdown(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
