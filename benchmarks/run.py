"""Performance benchmarks: ``python benchmarks/run.py [--quick]``.

Prints one table; every figure is measured in the same run:

- ``generation``: patients/s of ``generate_patient`` in one process, whole patient and
  per modality (the time spent sampling and rendering each modality of the registry);
  the 64-bit random words each part draws, counted exactly from the ``PCG64`` states;
  and the ratio of the generation time to the time ``PCG64.random_raw`` takes to draw
  the same number of words (1.0 would mean generation costs no more than its random
  numbers);
- ``download_and_prepare``: the builder's default config, ``num_proc=1`` and
  ``num_proc=2``, wall time and speed-up;
- ``export``: the full default export (``generator.export.export``), wall time and MB/s
  written by part (npy, tables, parquet, card; the manifest's rate is of the bytes it
  hashes);
- ``streaming``: patients/s iterating ``as_streaming_dataset()`` (train split, images
  decoded) with one process, and with two worker processes each reading half of the
  shards (``IterableDataset.shard``), which is what two DataLoader workers do; torch
  is not needed;
- ``targets``: issue 11's ratios (export / pure generation, Ray / local, streaming /
  raw generation, each side by side in alternating rounds, medians), the export's peak
  RSS and a rerun with nothing to do;
- ``loading``: ``datasets.load_dataset(folder)`` on the export folder (cold cache) and a
  full pass over its train split, default (PNG) and ``float32`` configs, against
  ``np.load`` of the same patients' ``.npy`` files;
- ``memory``: peak resident set size of a process preparing N and ``memory_factor`` x N
  patients (10 x N by default; default config, ``num_proc=1``), each in its own
  process (``os.wait4``); it must stay flat as N grows;
- ``peer``: images/s of ``generate_patient`` (3 images per patient) against TorchIO's
  label-to-image pipeline (``RandomLabelsToImage``, ``RandomBlur``, ``RandomBiasField``,
  ``RandomNoise``, one image from one of our label maps), both in one fresh process with
  one thread, alternating rounds; the ratio per image against the target (>= 5 x) and
  the single-process patients/s against its floor (>= 100), PASS or FAIL at 224 x 224.
  TorchIO (and torch) are dev dependencies: without them its rows say ``skipped``.

Timing figures are wall-clock on whatever else the machine is doing: run it on a quiet
machine. Without ``--quick`` the table is also written to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

import generator.export
import generator.patient
from benchmarks.common import (
    describe_machine_markdown,
    machine_description,
    markdown_table,
    process_pool,
    replace_section,
)
from generator.builder_loader import REPOSITORY_ROOT as REPOSITORY
from generator.builder_loader import load_builder_class
from generator.cohort import split_indices
from generator.contract import DEFAULT_SEED, GenerationParameters
from generator.modalities import MODALITIES, MODALITY_COLUMNS, REGISTRY
from generator.patient import generate_patient
from generator.random_streams import name_key
from generator.shards import chunks, render_chunk

TABLE_HEADERS = ("benchmark", "case", "value", "unit")
MB = 1e6


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each benchmark does."""

    generation_patients: int  # patients timed by the generation benchmark
    num_patients: int  # the dataset prepared, exported, streamed and loaded
    image_size: int
    memory_factor: int = 10  # the memory benchmark prepares num_patients and this many times
    peer_images: int = 150  # images per side and round of the TorchIO comparison
    target_rounds: int = 3  # alternating rounds of each side-by-side target ratio


FULL = Sizes(generation_patients=200, num_patients=1000, image_size=224)
QUICK = Sizes(
    generation_patients=10,
    num_patients=40,
    image_size=32,
    memory_factor=5,
    peer_images=6,
    target_rounds=2,
)

#: The stream family key of each modality; the other streams (labels, anatomy) are shared.
MODALITY_STREAMS = {name_key(modality.name): modality.name for modality in REGISTRY}


def _row(benchmark: str, case: str, value: float, unit: str) -> tuple[str, str, str, str]:
    if abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return benchmark, case, text, unit


def _quiet_datasets() -> None:
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()


# ------------------------------------------------------------------------- generation

# PCG64 advances a 128-bit LCG once per 64-bit output: state' = MULTIPLIER * state + inc.
_PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
_MASK_128 = (1 << 128) - 1


def lcg_distance(start: int, end: int, increment: int) -> int:
    """Steps of the PCG64 LCG from ``start`` to ``end`` (O'Neill's ``pcg_extras::distance``)."""
    multiplier, plus, bit, distance = _PCG64_MULTIPLIER, increment, 1, 0
    while start != end:
        if (start & bit) != (end & bit):
            start = (start * multiplier + plus) & _MASK_128
            distance |= bit
        bit <<= 1
        plus = ((multiplier + 1) * plus) & _MASK_128
        multiplier = (multiplier * multiplier) & _MASK_128
    return distance


class _RecordingPCG64(np.random.PCG64):
    """A ``PCG64`` that remembers its starting state, so its draws can be counted."""

    created: list[_RecordingPCG64] = []  # noqa: RUF012 (filled inside counting_draws only)

    def __init__(self, seed=None):
        super().__init__(seed)
        state = self.state["state"]
        self.start, self.increment = state["state"], state["inc"]
        _RecordingPCG64.created.append(self)

    def words_drawn(self) -> int:
        """64-bit words drawn since creation (a buffered 32-bit half counts as one)."""
        return lcg_distance(self.start, self.state["state"]["state"], self.increment)


@contextlib.contextmanager
def counting_draws() -> Iterator[list[_RecordingPCG64]]:
    """Record every ``PCG64`` created (``generator.random_streams`` builds them by name)."""
    original = np.random.PCG64
    _RecordingPCG64.created = []
    np.random.PCG64 = _RecordingPCG64
    try:
        yield _RecordingPCG64.created
    finally:
        np.random.PCG64 = original


def _part_of_stream(bit_generator: np.random.PCG64) -> str:
    """The modality whose stream family made ``bit_generator``, or ``shared``.

    Named streams have the entropy ``(seed, index, family key, part key)``.
    """
    entropy = bit_generator.seed_seq.entropy
    return MODALITY_STREAMS.get(int(entropy[2]), "shared") if len(entropy) == 4 else "shared"


@contextlib.contextmanager
def timed_renderers(seconds: dict[str, float]) -> Iterator[None]:
    """Add each modality's time (sampling its parameters and rendering) to
    ``seconds[name]`` while active, by timing the registry ``generator.patient`` uses."""
    original = generator.patient.REGISTRY

    def timed(function: Callable, name: str) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - start

        return wrapper

    generator.patient.REGISTRY = tuple(
        dataclasses.replace(
            modality,
            sample=timed(modality.sample, modality.name),
            render=timed(modality.render, modality.name),
        )
        for modality in original
    )
    try:
        yield
    finally:
        generator.patient.REGISTRY = original


def measure_generation(sizes: Sizes) -> list[tuple]:
    """Patients/s per modality and whole; random words drawn; ratio to the draw floor."""
    count, size = sizes.generation_patients, sizes.image_size
    generate_patient(0, seed=DEFAULT_SEED, image_size=size)  # warm caches (pixel grids)
    render_seconds = dict.fromkeys(MODALITIES, 0.0)
    with timed_renderers(render_seconds):
        start = time.perf_counter()
        for index in range(count):
            generate_patient(index, seed=DEFAULT_SEED, image_size=size)
        whole_seconds = time.perf_counter() - start

    words = {part: [] for part in (*MODALITIES, "shared")}  # per stream, in order
    for index in range(count):
        with counting_draws() as created:
            generate_patient(index, seed=DEFAULT_SEED, image_size=size)
        for bit_generator in created:
            part = _part_of_stream(bit_generator)
            words[part].append(bit_generator.words_drawn())

    # The floor: draw the same words, stream by stream, with PCG64.random_raw.
    floor_seconds = {}
    for part, counts in words.items():
        bit_generators = [np.random.PCG64(n) for n in range(len(counts))]
        start = time.perf_counter()
        for bit_generator, n in zip(bit_generators, counts, strict=True):
            bit_generator.random_raw(n)
        floor_seconds[part] = time.perf_counter() - start
    total_floor = sum(floor_seconds.values())
    total_words = sum(sum(counts) for counts in words.values())

    untimed = [modality for modality, seconds in render_seconds.items() if seconds == 0]
    if untimed:
        raise RuntimeError(f"{untimed} not rendered through generator.patient.REGISTRY")
    case = f"{size} x {size}, 1 process"
    rows = [_row("generation", f"whole patient, {case}", count / whole_seconds, "patients/s")]
    for modality in MODALITIES:
        rows.append(
            _row("generation", f"{modality} render", count / render_seconds[modality], "patients/s")
        )
    shared = whole_seconds - sum(render_seconds.values())
    rows.append(_row("generation", "rest: labels, anatomy (shared)", count / shared, "patients/s"))
    rows.append(_row("random numbers", "whole patient", total_words / count, "words/patient"))
    for part in (*MODALITIES, "shared"):
        rows.append(_row("random numbers", part, sum(words[part]) / count, "words/patient"))
    rows.append(_row("generation / draw floor", "whole patient", whole_seconds / total_floor, "x"))
    for modality in MODALITIES:
        ratio = render_seconds[modality] / floor_seconds[modality]
        rows.append(_row("generation / draw floor", modality, ratio, "x"))
    return rows


# -------------------------------------------------------------- prepare and memory


def _child_prepare(parameters: dict) -> dict:
    """In a child process: ``download_and_prepare`` once; its wall time."""
    _quiet_datasets()
    builder = load_builder_class()(
        config_name=parameters["config"],
        num_patients=parameters["num_patients"],
        image_size=parameters["image_size"],
        seed=DEFAULT_SEED,
        cache_dir=parameters["cache_dir"],
    )
    num_proc = parameters["num_proc"]
    start = time.perf_counter()
    builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
    return {"seconds": time.perf_counter() - start}


def run_child(parameters: dict) -> tuple[dict, float]:
    """Run ``_child_prepare(parameters)`` in a fresh process: (its result, its peak RSS MB).

    ``os.wait4`` returns the resource usage of that one child (and of the processes it
    waited for), so each measurement is isolated from the others.
    """
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(parameters)]
    # stderr goes to a file: reading two pipes one after the other could deadlock.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        errors.seek(0)
        stderr = errors.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(
            f"benchmark child {parameters} failed ({process.returncode}):\n{stderr.decode()}"
        )
    peak_mb = usage.ru_maxrss * 1024 / MB  # ru_maxrss is in KiB on Linux
    return json.loads(stdout.decode().strip().splitlines()[-1]), peak_mb


def measure_prepare_and_memory(sizes: Sizes, workdir: Path) -> list[tuple]:
    """``download_and_prepare`` with ``num_proc`` 1 and 2; peak RSS at N and memory_factor x N."""
    base = {"config": "default", "image_size": sizes.image_size}
    seconds, peaks = {}, {}
    counts = (sizes.num_patients, sizes.num_patients * sizes.memory_factor)
    for num_proc, num_patients in ((1, counts[0]), (2, counts[0]), (1, counts[1])):
        cache = workdir / f"prepare-{num_patients}-{num_proc}"
        result, peak = run_child(
            {**base, "num_patients": num_patients, "num_proc": num_proc, "cache_dir": str(cache)}
        )
        shutil.rmtree(cache, ignore_errors=True)
        seconds[num_proc, num_patients] = result["seconds"]
        if num_proc == 1:
            peaks[num_patients] = peak
    n, size = sizes.num_patients, sizes.image_size
    case = f"default config, {n} patients, {size} x {size}"
    one, two = seconds[1, n], seconds[2, n]
    rows = [
        _row("download_and_prepare", f"{case}, num_proc=1", one, "s"),
        _row("download_and_prepare", f"{case}, num_proc=2", two, "s"),
        _row("download_and_prepare", "speed-up num_proc=2 / 1", one / two, "x"),
        _row("download_and_prepare", f"num_proc=1, {n} patients", n / one, "patients/s"),
    ]
    for count in counts:
        rows.append(_row("memory", f"peak RSS preparing {count} patients", peaks[count], "MB"))
    rows.append(
        _row(
            "memory",
            f"peak RSS {counts[1]} / {counts[0]} patients",
            peaks[counts[1]] / peaks[counts[0]],
            "x",
        )
    )
    return rows


# ---------------------------------------------------------------------------- export

#: The jobs ``generator.export.export`` runs on its engine, by part (timed per phase).
ENGINE_PARTS = {
    "run_task": "render",  # each patient once: .npy files and Parquet parts of both configs
    "assemble_file": "parquet",
}
#: The functions ``generator.export.export`` calls for each other part, by part.
EXPORT_PARTS = {
    "write_tables": "tables",
    "write_sample_grid": "card",
    "write_progression_figure": "card",
    "write_card": "card",
    "write_manifest": "manifest",
}


def _part_of(relative: str) -> str:
    """The export part that wrote the file at ``relative`` (a path in the export folder)."""
    top = relative.split("/")[0]
    if top == "images":
        return "npy"
    if top == "data":
        return "parquet"
    if top in ("README.md", "assets"):
        return "card"
    if top.startswith("manifest"):
        return "manifest"
    return "tables"


def _bytes_by_part(folder: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            part = _part_of(path.relative_to(folder).as_posix())
            sizes[part] = sizes.get(part, 0) + path.stat().st_size
    return sizes


def measure_export(sizes: Sizes, folder: Path) -> list[tuple]:
    """The full export (all formats, all cores), timed by part through its part functions
    and, for the jobs its engine runs, by phase."""
    seconds = dict.fromkeys([*ENGINE_PARTS.values(), *EXPORT_PARTS.values()], 0.0)
    called = (*EXPORT_PARTS, "open_engine")
    missing = [name for name in called if not hasattr(generator.export, name)]
    if missing:
        raise RuntimeError(
            f"generator.export no longer calls {missing}: update EXPORT_PARTS in benchmarks/run.py"
        )
    originals = {name: getattr(generator.export, name) for name in called}

    def timed(name: str) -> Callable:
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                seconds[EXPORT_PARTS[name]] += time.perf_counter() - start

        return wrapper

    @contextlib.contextmanager
    def timed_engine(*args, **kwargs):
        with originals["open_engine"](*args, **kwargs) as run:

            def timed_run(function, jobs, on_progress):
                start = time.perf_counter()
                try:
                    return run(function, jobs, on_progress)
                finally:
                    seconds[ENGINE_PARTS[function.__name__]] += time.perf_counter() - start

            yield timed_run

    try:
        for name in EXPORT_PARTS:
            setattr(generator.export, name, timed(name))
        generator.export.open_engine = timed_engine
        start = time.perf_counter()
        generator.export.export(
            folder,
            GenerationParameters(sizes.num_patients, sizes.image_size, DEFAULT_SEED),
            workers=os.cpu_count() or 1,
            quiet=True,
        )
        wall = time.perf_counter() - start
    finally:
        for name, function in originals.items():
            setattr(generator.export, name, function)
    untimed = [part for part, spent in seconds.items() if spent == 0]
    if untimed:
        raise RuntimeError(f"the export did not go through the {untimed} part functions")
    written = _bytes_by_part(folder)
    hashed = sum(size for part, size in written.items() if part != "manifest")
    n, size = sizes.num_patients, sizes.image_size
    rows = [
        _row(
            "export",
            f"all parts, {n} patients, {size} x {size}, {os.cpu_count()} workers",
            wall,
            "s",
        ),
        _row("export", "all parts, written", sum(written.values()) / MB, "MB"),
        _row("export", "all parts", sum(written.values()) / MB / wall, "MB/s"),
    ]
    rows.append(
        _row("export", f"render: npy {written.get('npy', 0) / MB:.1f} MB", seconds["render"], "s")
    )
    for part in ("parquet", "tables", "card"):
        rows.append(
            _row("export", f"{part}, {written.get(part, 0) / MB:.1f} MB", seconds[part], "s")
        )
    rows.append(
        _row(
            "export",
            "parquet assembled",
            written.get("parquet", 0) / MB / seconds["parquet"],
            "MB/s",
        )
    )
    rows.append(_row("export", "manifest", seconds["manifest"], "s"))
    rows.append(_row("export", "manifest hashed", hashed / MB / seconds["manifest"], "MB/s"))
    return rows


# --------------------------------------------------------------- targets (issue 11)


def _generate_only(parameters: GenerationParameters, indices: range) -> int:
    """Render ``indices`` and keep nothing: the pure generation an export pays for."""
    for _ in render_chunk(parameters, indices):
        pass
    return len(indices)


def pure_generation_seconds(
    parameters: GenerationParameters, workers: int, indices: range | None = None
) -> float:
    """Wall time to render ``indices`` (default: every patient) once on ``workers``
    processes, writing nothing."""
    parts = chunks(indices if indices is not None else range(parameters.num_patients))
    start = time.perf_counter()
    with process_pool(workers) as pool:
        pool.starmap(_generate_only, [(parameters, part) for part in parts])
    return time.perf_counter() - start


#: Runs a command and reports its wall time and peak RSS. It runs in a small process of
#: its own: Linux keeps a process's RSS high-water mark across ``execve``, so a command
#: forked straight from this (large) benchmark process would report this process's.
_MEASURE = """
import json, os, subprocess, sys, time
with open(os.devnull, "wb") as sink:
    start = time.perf_counter()
    process = subprocess.Popen(json.loads(sys.argv[1]), stdout=sink, stderr=subprocess.PIPE)
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
print(json.dumps({"wall": time.perf_counter() - start, "maxrss_kib": usage.ru_maxrss,
                  "status": os.waitstatus_to_exitcode(status), "stderr": errors.decode()}))
"""


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run ``command``: (wall seconds, peak RSS MB of its largest process, from ``wait4``)."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(command)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(result.stdout)
    if measured["status"] != 0:
        raise RuntimeError(f"{command} failed:\n{measured['stderr']}")
    return measured["wall"], measured["maxrss_kib"] * 1024 / MB


def _export_command(folder: Path, num_patients: int, sizes: Sizes, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPOSITORY / "generator" / "export.py"),
        "--out",
        str(folder),
        "--num-patients",
        str(num_patients),
        "--image-size",
        str(sizes.image_size),
        "--workers",
        str(os.cpu_count() or 1),
        "--quiet",
        *extra,
    ]


def measure_targets(sizes: Sizes, workdir: Path) -> list[tuple]:
    """The export against pure generation, its memory and rerun, and Ray against local,
    each export as a fresh process. Pure generation, the local export and the Ray export
    run in ``sizes.target_rounds`` alternating rounds; the figures are the medians (peak
    RSS: the largest)."""
    workers = os.cpu_count() or 1
    n, size = sizes.num_patients, sizes.image_size
    parameters = GenerationParameters(n, size, DEFAULT_SEED)
    local, ray_folder = workdir / "target-local", workdir / "target-ray"
    generations, exports, rays, export_peaks, ray_peaks = [], [], [], [], []
    for _ in range(sizes.target_rounds):  # side by side: the machine's speed drifts
        for folder in (local, ray_folder):
            shutil.rmtree(folder, ignore_errors=True)
        generations.append(pure_generation_seconds(parameters, workers))
        wall, peak = run_measured(_export_command(local, n, sizes))
        exports.append(wall)
        export_peaks.append(peak)
        wall, peak = run_measured(_export_command(ray_folder, n, sizes, "--engine", "ray"))
        rays.append(wall)
        ray_peaks.append(peak)
    generation, export_wall, ray_wall = map(statistics.median, (generations, exports, rays))
    export_peak, ray_peak = max(export_peaks), max(ray_peaks)
    rerun_wall, rerun_peak = run_measured(_export_command(local, n, sizes))
    same = (local / "manifest-sha256.txt").read_bytes() == (
        ray_folder / "manifest-sha256.txt"
    ).read_bytes()
    shutil.rmtree(ray_folder, ignore_errors=True)
    large = workdir / "target-large"
    count = n * sizes.memory_factor
    _, large_peak = run_measured(_export_command(large, count, sizes))
    shutil.rmtree(large, ignore_errors=True)
    case = f"{n} patients, {size} x {size}, {workers} workers"
    return [
        _row("targets", f"pure generation, {case}", generation, "s"),
        _row("targets", f"export (all parts), {case}", export_wall, "s"),
        _row("targets", "export / pure generation (target <= 2)", export_wall / generation, "x"),
        _row("targets", f"export peak RSS, {n} patients (target < 400)", export_peak, "MB"),
        _row("targets", f"export peak RSS, {count} patients", large_peak, "MB"),
        _row(
            "targets", f"peak RSS {count} / {n} patients (flat: ~1)", large_peak / export_peak, "x"
        ),
        _row("targets", "rerun with nothing to do (target < 1.5)", rerun_wall, "s"),
        _row("targets", "rerun peak RSS", rerun_peak, "MB"),
        _row("targets", f"export --engine ray, {case}", ray_wall, "s"),
        _row("targets", "export --engine ray peak RSS", ray_peak, "MB"),
        _row("targets", "ray / local patients/s (target >= 0.85)", export_wall / ray_wall, "x"),
        _row("targets", "ray files identical to local (1 = yes)", float(same), "bool"),
    ]


# ------------------------------------------------------------- peer: TorchIO

#: The issue's targets, which hold at 224 x 224 in one process: our images/s at least
#: this many times TorchIO's label-to-image pipeline's, per image; and patients/s.
PEER_RATIO_TARGET = 5.0
GENERATION_FLOOR = 100.0  # patients/s
TARGET_IMAGE_SIZE = 224
PEER_ROUNDS = 3
IMAGES_PER_PATIENT = len(MODALITIES)  # every patient renders one image per modality


@dataclasses.dataclass(frozen=True)
class PeerRates:
    """Medians over alternating rounds of our generator and TorchIO's pipeline, per image.

    ``torchio_images_per_second`` is None (and ``skipped`` says why) without TorchIO.
    """

    image_size: int
    images: int  # per side and round (ours renders whole patients: up to 2 more)
    rounds: int
    ours_images_per_second: float
    torchio_images_per_second: float | None
    torchio_version: str | None
    skipped: str | None = None

    @property
    def ours_patients_per_second(self) -> float:
        return self.ours_images_per_second / IMAGES_PER_PATIENT

    @property
    def ratio(self) -> float | None:
        """Our images/s over TorchIO's: how many times faster we make one image."""
        if self.torchio_images_per_second is None:
            return None
        return self.ours_images_per_second / self.torchio_images_per_second


def verdict(value: float, target: float, image_size: int) -> str:
    """PASS if ``value >= target``, else FAIL; the targets are set at 224 x 224 only."""
    if image_size != TARGET_IMAGE_SIZE:
        return f"not at {TARGET_IMAGE_SIZE} px"
    return "PASS" if value >= target else "FAIL"


def torchio_pipeline():
    """TorchIO's label-to-image pipeline at its default ranges: a Gaussian intensity per
    label of the ``label`` map (mean in (0.1, 0.9), std in (0.01, 0.1)), then blur (std in
    (0, 2) mm), a polynomial bias field (order 3, coefficients in (-0.5, 0.5)) and Gaussian
    noise (std in (0, 0.25)). It writes the image ``image_from_labels``."""
    import torchio as tio

    return tio.Compose(
        [
            tio.RandomLabelsToImage(label_key="label", image_key="image_from_labels"),
            tio.RandomBlur(),
            tio.RandomBiasField(),
            tio.RandomNoise(),
        ]
    )


def _torchio_images(pipeline, label_maps: list) -> list[np.ndarray]:
    """One float32 (S, S) image per (1, S, S, 1) label-map tensor (TorchIO is 4-D: C, W,
    H, D), each a Subject of its own, as a user of TorchIO builds them."""
    import torchio as tio

    images = []
    for label_map in label_maps:
        subject = pipeline(tio.Subject(label=tio.LabelMap(tensor=label_map)))
        images.append(subject["image_from_labels"].data[0, :, :, 0].numpy())
    return images


def _our_images(patients: int, image_size: int) -> list[np.ndarray]:
    """Every image of patients ``0..patients-1``: each samples its labels and anatomy,
    then renders one image and one label map per modality."""
    images = []
    for index in range(patients):
        images += generate_patient(index, seed=DEFAULT_SEED, image_size=image_size).images.values()
    return images


def measure_peer(image_size: int, images: int, rounds: int = PEER_ROUNDS) -> PeerRates:
    """Images/s of our generator and of TorchIO's pipeline, in this process, one thread.

    Each round times ``images`` TorchIO images, each from one of our own label maps (of
    patients ``0..``, every modality, made before timing: TorchIO gets them for free), and
    the ``ceil(images / 3)`` whole patients ours needs for as many images. The sides
    alternate which goes first; the figures are the medians over the rounds. torch is
    pinned to one thread (``torch.set_num_threads(1)``, restored after) and every
    BLAS/OpenMP pool to one (threadpoolctl), so both are single-process, single-thread.
    """
    import threadpoolctl

    patients = math.ceil(images / IMAGES_PER_PATIENT)
    try:
        import torch
        import torchio
    except ImportError as error:  # a dev dependency: the rows say so
        torch = torchio = None
        skipped = f"{error.name or 'torchio'} not installed"
    else:
        skipped = None

    ours, theirs = [], []
    with threadpoolctl.threadpool_limits(limits=1):
        _our_images(1, image_size)  # warm caches (pixel grids)
        if torch is not None:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            torch.manual_seed(DEFAULT_SEED)  # the same random parameters in every run
            pipeline = torchio_pipeline()
            label_maps = [
                torch.from_numpy(label_map)[None, :, :, None]
                for index in range(patients)
                for label_map in generate_patient(
                    index, seed=DEFAULT_SEED, image_size=image_size
                ).label_maps.values()
            ][:images]
            _torchio_images(pipeline, label_maps[:1])  # warm up
        try:
            for round_index in range(rounds):
                sides = ["ours", "torchio"] if torch is not None else ["ours"]
                for side in sides if round_index % 2 == 0 else sides[::-1]:
                    start = time.perf_counter()
                    if side == "ours":
                        made = len(_our_images(patients, image_size))
                        ours.append(made / (time.perf_counter() - start))
                    else:
                        made = len(_torchio_images(pipeline, label_maps))
                        theirs.append(made / (time.perf_counter() - start))
        finally:
            if torch is not None:
                torch.set_num_threads(threads)
    return PeerRates(
        image_size=image_size,
        images=images,
        rounds=rounds,
        ours_images_per_second=statistics.median(ours),
        torchio_images_per_second=statistics.median(theirs) if theirs else None,
        torchio_version=torchio.__version__ if torchio is not None else None,
        skipped=skipped,
    )


def run_peer(sizes: Sizes) -> PeerRates:
    """``measure_peer`` in a fresh process, so torch is never loaded in this one (whose
    process pools fork later) and neither side inherits this process's state."""
    parameters = {"image_size": sizes.image_size, "images": sizes.peer_images}
    command = [sys.executable, str(Path(__file__).resolve()), "--peer", json.dumps(parameters)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"peer benchmark failed ({result.returncode}):\n{result.stderr}")
    return PeerRates(**json.loads(result.stdout.strip().splitlines()[-1]))


def peer_rows(rates: PeerRates) -> list[tuple]:
    """The peer figures and their two targets (ratio per image, patients/s) as rows."""
    size = rates.image_size
    case = f"{size} x {size}, 1 process, 1 thread, median of {rates.rounds} alternating rounds"
    rows = [
        _row(
            "peer",
            f"ours: generate_patient, {IMAGES_PER_PATIENT} images/patient, {case}",
            rates.ours_images_per_second,
            "images/s",
        )
    ]
    ratio_case = f"ours / TorchIO images/s, per image (target >= {PEER_RATIO_TARGET:g})"
    if rates.ratio is None:
        rows.append(("peer", f"TorchIO label-to-image pipeline ({rates.skipped})", "skipped", "-"))
        rows.append(("targets", ratio_case, "skipped", "-"))
    else:
        rows.append(
            _row(
                "peer",
                f"TorchIO {rates.torchio_version}: RandomLabelsToImage, RandomBlur, "
                f"RandomBiasField, RandomNoise on our label maps, {case}",
                rates.torchio_images_per_second,
                "images/s",
            )
        )
        rows.append(
            _row(
                "targets",
                ratio_case,
                rates.ratio,
                f"x ({verdict(rates.ratio, PEER_RATIO_TARGET, size)})",
            )
        )
    patients = rates.ours_patients_per_second
    rows.append(
        _row(
            "targets",
            f"generation, {size} x {size}, 1 process (target >= {GENERATION_FLOOR:g})",
            patients,
            f"patients/s ({verdict(patients, GENERATION_FLOOR, size)})",
        )
    )
    return rows


# ------------------------------------------------------------------------- streaming

_IMAGE_COLUMNS = tuple(MODALITY_COLUMNS.values())


def _consume(rows) -> int:
    """Iterate rows, turning each image into a numpy array (decoding it); count rows."""
    count = 0
    for row in rows:
        for column in _IMAGE_COLUMNS:
            np.asarray(row[column])
        count += 1
    return count


def _consume_shard(dataset, num_shards: int, index: int) -> int:
    return _consume(dataset.shard(num_shards=num_shards, index=index, contiguous=False))


def measure_streaming(sizes: Sizes) -> list[tuple]:
    """Patients/s of the train split streamed with one process and with two workers;
    two workers and raw generation in ``sizes.target_rounds`` alternating rounds, medians."""
    builder = load_builder_class()(
        config_name="default",
        num_patients=sizes.num_patients,
        image_size=sizes.image_size,
        seed=DEFAULT_SEED,
    )
    dataset = builder.as_streaming_dataset(split="train")
    start = time.perf_counter()
    single = _consume(dataset)
    one = time.perf_counter() - start
    parameters = GenerationParameters(sizes.num_patients, sizes.image_size, DEFAULT_SEED)
    train = split_indices(sizes.num_patients)["train"]
    twos, raws = [], []
    for _ in range(sizes.target_rounds):  # side by side: the machine's speed drifts
        # Two DataLoader-style workers: each process iterates its half of the shards.
        start = time.perf_counter()
        with process_pool(2) as pool:
            counts = pool.starmap(_consume_shard, [(dataset, 2, 0), (dataset, 2, 1)])
        twos.append(time.perf_counter() - start)
        if sum(counts) != single:
            raise RuntimeError(f"two workers streamed {counts} rows, one process {single}")
        raws.append(pure_generation_seconds(parameters, 2, train))
    two, raw = statistics.median(twos), statistics.median(raws)
    case = f"train, {single} patients, {dataset.num_shards} shards"
    return [
        _row("streaming", f"{case}, 1 process", single / one, "patients/s"),
        _row("streaming", f"{case}, 2 worker processes", single / two, "patients/s"),
        _row("streaming", "speed-up 2 workers / 1", one / two, "x"),
        _row(
            "streaming",
            "raw generation of the same patients, 2 processes",
            single / raw,
            "patients/s",
        ),
        _row("targets", "streaming 2 workers / raw generation (target >= 0.8)", raw / two, "x"),
    ]


# --------------------------------------------------------------------------- loading


def measure_loading(sizes: Sizes, folder: Path, workdir: Path) -> list[tuple]:
    """``load_dataset(folder)`` (cold cache) and a train pass, per config, against ``np.load``."""
    import datasets

    from generator.raw import image_path

    rows = []
    for config in ("default", "float32"):
        cache = workdir / f"load-cache-{config}"
        start = time.perf_counter()
        loaded = datasets.load_dataset(str(folder), config, cache_dir=str(cache))
        load_seconds = time.perf_counter() - start
        train = loaded["train"]
        if config == "float32":
            train = train.with_format("numpy")
        start = time.perf_counter()
        count = _consume(train)
        pass_seconds = time.perf_counter() - start
        rows.append(_row("loading", f"load_dataset(folder), {config} config", load_seconds, "s"))
        rows.append(
            _row(
                "loading",
                f"train pass, {config} config, {count} patients",
                count / pass_seconds,
                "patients/s",
            )
        )
        del loaded, train
        shutil.rmtree(cache, ignore_errors=True)

    train_indices = split_indices(sizes.num_patients)["train"]
    start = time.perf_counter()
    for index in train_indices:
        for modality in MODALITIES:
            np.load(image_path(folder, index, sizes.num_patients, modality))
    npy_seconds = time.perf_counter() - start
    rows.append(
        _row(
            "loading",
            f"train .npy files with np.load, {len(train_indices)} patients",
            len(train_indices) / npy_seconds,
            "patients/s",
        )
    )
    return rows


# ------------------------------------------------------------------------------ main

LEGEND = """\
How to read it:

- `generation`: `generate_patient` in one process; a modality's figure counts only the
  time sampling and rendering it, `rest` the labels and anatomy shared by all.
- `random numbers`: 64-bit words drawn from each part's PCG64 streams, counted exactly
  from the generator states. `generation / draw floor`: generation time divided by the
  time `PCG64.random_raw` takes to draw the same words (1 would be the floor).
- `export`: `generator/export.py` with every part and all cores; MB/s are bytes written
  by a part over its time (for the manifest, bytes hashed).
- `streaming`: `as_streaming_dataset(split="train")` with images decoded to arrays; two
  workers are two processes each iterating `IterableDataset.shard(2, i, contiguous=False)` (what
  DataLoader workers do; torch is not needed).
- `targets`: the issues' targets. Each ratio's two sides (export and pure generation, Ray
  and local export, two-worker streaming and raw generation) run in alternating rounds,
  each export a fresh process; the figures are the medians.
- `loading`: `datasets.load_dataset(folder, config)` with an empty cache, then every
  train row with its images as arrays; against `np.load` of the same `.npy` files.
- `memory`: peak RSS of a fresh process running `download_and_prepare` (default config,
  `num_proc=1`), from `os.wait4`; a ratio near 1 means memory stays flat.
- `peer`: our generator against TorchIO's label-to-image pipeline (`RandomLabelsToImage`,
  `RandomBlur`, `RandomBiasField`, `RandomNoise`, default ranges), per image: TorchIO makes
  one image from one of our label maps (made before timing), ours samples a patient's
  anatomy and renders its 3 images (images/s = patients/s x 3). Both at the same size in
  one fresh process, one thread (torch and BLAS pinned), alternating rounds; medians.
  The targets (>= 5 x per image, >= 100 patients/s) are PASS or FAIL at 224 x 224.
- Timings are wall-clock: other load on the machine slows them.
"""


def run_benchmarks(sizes: Sizes, workdir: Path, log: Callable[[str], object]) -> list[tuple]:
    """Every benchmark, in order; ``log`` reports progress."""
    _quiet_datasets()
    rows = []
    log("generation")
    rows += measure_generation(sizes)
    log("peer: TorchIO")
    rows += peer_rows(run_peer(sizes))
    log("download_and_prepare and memory")
    rows += measure_prepare_and_memory(sizes, workdir)
    folder = workdir / "export"
    log("export")
    rows += measure_export(sizes, folder)
    log("streaming")
    rows += measure_streaming(sizes)
    log("loading")
    rows += measure_loading(sizes, folder, workdir)
    shutil.rmtree(folder, ignore_errors=True)
    log("targets")
    rows += measure_targets(sizes, workdir)
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Measure generation, preparation, export, streaming, loading and memory; "
        "print one table.",
        epilog="example: python benchmarks/run.py --quick",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes ({QUICK.num_patients} patients at {QUICK.image_size} x "
        f"{QUICK.image_size}) to check that the benchmarks work; writes nothing",
    )
    parser.add_argument(
        "--tmpdir",
        type=Path,
        help="where to create the temporary folder for caches and the export, removed at "
        "the end (default: the system's temporary folder)",
    )
    parser.add_argument(
        "--write",
        choices=("auto", "yes", "no"),
        default="auto",
        help="write the table to benchmarks/results.md: 'auto' does so unless --quick "
        "(default: auto)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one measured process
    parser.add_argument("--peer", help=argparse.SUPPRESS)  # internal: the TorchIO comparison
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child_prepare(json.loads(args.child))))
        return 0
    if args.peer is not None:
        print(json.dumps(dataclasses.asdict(measure_peer(**json.loads(args.peer)))))
        return 0
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()

    def log(step: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {step}", file=sys.stderr, flush=True)

    if args.tmpdir is not None:
        args.tmpdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omlc-bench-", dir=args.tmpdir) as workdir:
        rows = run_benchmarks(sizes, Path(workdir), log)
    log("done")
    table = markdown_table(TABLE_HEADERS, rows)
    print(table)
    if args.write == "yes" or (args.write == "auto" and not args.quick):
        command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
        replace_section(
            "performance",
            "\n\n".join(
                [
                    "## Performance",
                    f"Measured by `{command}` (one run; see the script's docstring for what "
                    "each figure measures):",
                    describe_machine_markdown(machine_description()),
                    table,
                    LEGEND,
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
