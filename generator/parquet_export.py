"""The Parquet half of the export folder: ``data/<config>/<split>-NNNNN-of-NNNNN.parquet``.

The Parquet is the builder's own output (``open_multimodal_liver_cirrhosis.py``, the one
definition of the dataset): each config is built with ``download_and_prepare`` into a
temporary cache, then every split is written with ``Dataset.to_parquet``, which keeps
the ``datasets`` features (ClassLabel, Image, Array2D) in the Parquet schema metadata.

Sizes follow the Hub's defaults (``datasets.config``): files of at most 500 MB and row
groups of at most 100 MB uncompressed, so the dataset viewer can page through them.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from datasets.utils.py_utils import convert_file_size_to_int

from generator.cohort import split_indices
from generator.contract import BUILDER_SPLIT_NAMES, GenerationParameters
from generator.files import atomic_writer

DATA_DIR = "data"
BUILDER_MODULE = "open_multimodal_liver_cirrhosis"
#: The repository root, where the builder script lives.
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
#: Builder config names, in the order they are written and listed in the card.
CONFIGS = ("default", "float32")
MAX_SHARD_BYTES = convert_file_size_to_int(datasets.config.MAX_SHARD_SIZE)
MAX_ROW_GROUP_BYTES = convert_file_size_to_int(datasets.config.MAX_ROW_GROUP_SIZE)
_SHARD_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")


def load_builder_module() -> types.ModuleType:
    """The builder script ``open_multimodal_liver_cirrhosis`` at the repository root."""
    try:
        return importlib.import_module(BUILDER_MODULE)
    except ModuleNotFoundError as error:
        if error.name != BUILDER_MODULE or not (REPOSITORY_ROOT / f"{BUILDER_MODULE}.py").is_file():
            raise
    # Not installed (``pip install -e .`` maps it): import it from beside ``generator``.
    # Worker processes inherit ``sys.path``, so they import it by name too.
    sys.path.insert(0, str(REPOSITORY_ROOT))
    return importlib.import_module(BUILDER_MODULE)


def load_builder_class() -> type[datasets.GeneratorBasedBuilder]:
    """``OpenMultimodalLiverCirrhosis``, the dataset's builder."""
    return load_builder_module().OpenMultimodalLiverCirrhosis


def shard_file_name(split: str, index: int, count: int) -> str:
    """``train-00000-of-00002.parquet`` for the first of two ``train`` files."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def config_dir(folder: Path, config: str) -> Path:
    """``folder/data/<config>``."""
    return Path(folder) / DATA_DIR / config


def expected_rows(num_patients: int) -> dict[str, int]:
    """Rows of each Parquet split (builder split names) for ``num_patients`` patients."""
    return {
        BUILDER_SPLIT_NAMES[split]: len(indices)
        for split, indices in split_indices(num_patients).items()
        if len(indices)
    }


def rows_per_group(num_rows: int, num_bytes: int, max_bytes: int = MAX_ROW_GROUP_BYTES) -> int:
    """Rows in one row group so that it holds at most ``max_bytes`` (at least one row)."""
    if num_rows < 1:
        raise ValueError(f"`num_rows` must be >= 1, got {num_rows=}")
    bytes_per_row = max(num_bytes, 1) / num_rows
    return max(1, min(num_rows, int(max_bytes // bytes_per_row)))


def config_is_complete(folder: Path, config: str, num_patients: int) -> bool:
    """Whether ``data/<config>`` holds every shard of every split with the right row counts.

    Shards are written atomically, so a shard on disk is whole; an interrupted build
    leaves a set with gaps, which this detects.
    """
    directory = config_dir(folder, config)
    if not directory.is_dir():
        return False
    wanted = expected_rows(num_patients)
    shards: dict[str, list[tuple[int, int, Path]]] = {}
    for path in directory.iterdir():
        match = _SHARD_NAME.match(path.name)
        if match is None:
            return False
        shards.setdefault(match["split"], []).append(
            (int(match["index"]), int(match["count"]), path)
        )
    if set(shards) != set(wanted):
        return False
    for split, found in shards.items():
        counts = {count for _, count, _ in found}
        if len(counts) != 1 or sorted(i for i, _, _ in found) != list(range(counts.pop())):
            return False
        try:
            rows = sum(pq.ParquetFile(path).metadata.num_rows for _, _, path in found)
        except (OSError, ValueError):  # not a readable Parquet file
            return False
        if rows != wanted[split]:
            return False
    return True


def remove_config(folder: Path, config: str) -> None:
    """Delete ``data/<config>`` Parquet files (only files named like shards)."""
    directory = config_dir(folder, config)
    if directory.is_dir():
        for path in directory.iterdir():
            if _SHARD_NAME.match(path.name):
                path.unlink()


@contextlib.contextmanager
def _datasets_output(quiet: bool) -> Iterator[None]:
    """Silence the ``datasets`` progress bars and info/warning logs if ``quiet``, then restore."""
    bars, verbosity = datasets.is_progress_bar_enabled(), datasets.logging.get_verbosity()
    if quiet:
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        (datasets.enable_progress_bars if bars else datasets.disable_progress_bars)()
        datasets.logging.set_verbosity(verbosity)


def write_split(
    dataset: datasets.Dataset,
    directory: Path,
    split: str,
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    max_row_group_bytes: int = MAX_ROW_GROUP_BYTES,
) -> list[Path]:
    """Write ``dataset`` as ``<split>-NNNNN-of-NNNNN.parquet`` files; return their paths."""
    num_bytes = dataset.data.nbytes
    count = max(1, min(len(dataset), -(-num_bytes // max_shard_bytes)))
    batch = rows_per_group(len(dataset), num_bytes, max_row_group_bytes)
    paths = []
    for index in range(count):
        shard = dataset.shard(num_shards=count, index=index, contiguous=True)
        path = directory / shard_file_name(split, index, count)
        with atomic_writer(path) as handle:
            shard.to_parquet(handle, batch_size=batch)
        paths.append(path)
    return paths


def build_config(
    folder: Path,
    config: str,
    parameters: GenerationParameters,
    *,
    workers: int = 1,
    quiet: bool = False,
) -> list[Path]:
    """Build ``config`` with the builder in a temporary cache and write its Parquet files."""
    builder_class = load_builder_class()
    directory = config_dir(folder, config)
    directory.mkdir(parents=True, exist_ok=True)
    remove_config(folder, config)
    paths = []
    with (
        _datasets_output(quiet),
        tempfile.TemporaryDirectory(prefix="omlc-build-", ignore_cleanup_errors=True) as cache,
    ):
        builder = builder_class(
            config_name=config,
            num_patients=parameters.num_patients,
            image_size=parameters.image_size,
            seed=parameters.seed,
            cache_dir=cache,
        )
        builder.download_and_prepare(num_proc=workers if workers > 1 else None)
        for split in expected_rows(parameters.num_patients):
            dataset = builder.as_dataset(split=split)
            paths += write_split(dataset, directory, split)
    return paths


def write_parquet(
    folder: Path,
    parameters: GenerationParameters,
    *,
    workers: int = 1,
    quiet: bool = False,
) -> list[str]:
    """Write (or finish) ``data/<config>/`` for every config; return the configs built now.

    A config whose files are already complete is kept (resume); an incomplete one is
    rebuilt.
    """
    built = []
    for config in CONFIGS:
        if config_is_complete(folder, config, parameters.num_patients):
            continue
        build_config(folder, config, parameters, workers=workers, quiet=quiet)
        built.append(config)
    return built
