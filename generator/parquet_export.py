"""The Parquet half of the export folder: ``data/<config>/<split>-NNNNN-of-NNNNN.parquet``.

Rows are the builder's rows (``generator.rows``: the same features and encoding), made
from the one render of each patient that also gives the ``.npy`` files. In two steps:

1. each chunk task (``generator.shards``) writes its rows of every config as an Arrow
   stream part, ``.parts/<config>/<split>-NNNNNN.arrow``, through ``datasets``' own
   ``ArrowWriter`` (atomically; a finished part is kept when a run resumes);
2. one assembly job per Parquet file (``plan_assembly``, ``assemble_file``; the engines
   run them in parallel) concatenates the parts that hold its rows, in order; the parts
   are deleted when every file of the config is written.

The layout depends only on the parameters, never on the engine or the worker count:
files of ``rows_per_file`` rows and row groups of ``rows_per_group`` rows, both from an
upper bound of a row's size, so that a file stays within the Hub's 500 MB and a row
group within its 100 MB. The ``datasets`` features are kept in
the Parquet schema metadata, so ``load_dataset(folder)`` restores ClassLabel, Image and
Array2D columns.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from generator.cohort import split_indices
from generator.contract import BUILDER_SPLIT_NAMES, GenerationParameters
from generator.export_record import Written, digest_files
from generator.files import atomic_writer
from generator.layout import DATA_DIR, PARTS_DIR
from generator.lazy_import import lazy_module
from generator.modalities import MODALITIES
from generator.patient import Patient
from generator.rows import IMAGE_FORMATS, build_features, patient_example

datasets = lazy_module("datasets")

#: The Hub's limits for a Parquet file and a row group (uncompressed) that its dataset
#: viewer pages through (``datasets.config.MAX_SHARD_SIZE`` and, from ``datasets`` 4.1,
#: ``MAX_ROW_GROUP_SIZE``), fixed here so that the layout never depends on the version.
MAX_SHARD_BYTES = 500_000_000
MAX_ROW_GROUP_BYTES = 100_000_000
#: Row groups are kept below this (and the Hub's maximum): the writer buffers one.
ROW_GROUP_TARGET_BYTES = min(64_000_000, MAX_ROW_GROUP_BYTES)
#: A Parquet file name of the layout: ``<split>-NNNNN-of-NNNNN.parquet``.
SHARD_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")
#: Footer metadata key: the file's rows' in-memory (Arrow) bytes, which the card reports
#: as ``num_bytes`` without reading the data back.
ARROW_BYTES_KEY = "arrow_nbytes"
#: A row's bytes besides its images: id, labels, stiffness and Arrow's offsets.
_ROW_OVERHEAD_BYTES = 512


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


def row_bytes_bound(config: str, image_size: int) -> int:
    """An upper bound of one row's uncompressed bytes in a Parquet file of ``config``.

    float32: each pixel's float32 and uint8 label value, plus up to 2 bytes a value for
    the repetition and definition levels of the nested ``Array2D`` lists; png: two PNGs
    per modality, each (S + 1) * S filtered bytes through zlib, whose output is at most
    n + n/4096 + n/16384 + n/2^25 + 13 bytes, plus 57 bytes of PNG chunks.
    """
    pixels = image_size * image_size
    images = len(MODALITIES)
    if IMAGE_FORMATS[config] == "float32":
        return images * pixels * (4 + 1 + 2 * 2) + _ROW_OVERHEAD_BYTES
    n = (image_size + 1) * image_size
    png = n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 57
    return 2 * images * png + _ROW_OVERHEAD_BYTES


def rows_per_file(config: str, image_size: int) -> int:
    """Rows in each Parquet file (the last one of a split holds the rest)."""
    return max(1, MAX_SHARD_BYTES // row_bytes_bound(config, image_size))


def rows_per_group(config: str, image_size: int) -> int:
    """Rows in each row group of a Parquet file."""
    bound = row_bytes_bound(config, image_size)
    return max(1, min(rows_per_file(config, image_size), ROW_GROUP_TARGET_BYTES // bound))


def file_names(config: str, parameters: GenerationParameters) -> dict[str, list[str]]:
    """The Parquet file names of every split of ``config``, by builder split name."""
    per_file = rows_per_file(config, parameters.image_size)
    names = {}
    for split, rows in expected_rows(parameters.num_patients).items():
        count = -(-rows // per_file)
        names[split] = [shard_file_name(split, index, count) for index in range(count)]
    return names


@functools.lru_cache(maxsize=8)
def features(config: str, image_size: int) -> datasets.Features:
    """The ``datasets`` features of ``config`` (cached)."""
    return build_features(IMAGE_FORMATS[config], image_size)


def part_path(folder: Path, config: str, split: str, chunk: int) -> Path:
    """``folder/.parts/<config>/<split>-NNNNNN.arrow``: chunk ``chunk`` of ``split``'s rows."""
    return Path(folder) / PARTS_DIR / config / f"{split}-{chunk:06d}.arrow"


def write_part(path: Path, patients: Sequence[Patient], config: str, num_patients: int) -> None:
    """Write the rows of ``patients`` in ``config`` as an Arrow stream file, atomically.

    The rows go through ``datasets.ArrowWriter``, the writer the builder's
    ``download_and_prepare`` uses, so they are encoded exactly as the builder encodes them.
    """
    image_size = patients[0].images[MODALITIES[0]].shape[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        writer = datasets.arrow_writer.ArrowWriter(
            features=features(config, image_size),
            stream=pa.PythonFile(handle, mode="w"),
            writer_batch_size=len(patients),
        )
        for patient in patients:
            writer.write(patient_example(patient, num_patients, IMAGE_FORMATS[config]))
        writer.finalize(close_stream=False)


@dataclasses.dataclass(frozen=True)
class AssemblyJob:
    """One Parquet file to write: ``rows`` rows of ``split`` from its parts ``parts``
    (chunk numbers, in order), after skipping the first ``skip`` rows of the first."""

    config: str
    split: str  # builder split name
    name: str  # file name in data/<config>/
    parts: tuple[int, ...]
    skip: int
    rows: int

    @property
    def relative_path(self) -> str:
        """``data/<config>/<name>``."""
        return f"{DATA_DIR}/{self.config}/{self.name}"


def plan_assembly(
    config: str, parameters: GenerationParameters, chunk_size: int
) -> list[AssemblyJob]:
    """The files of ``config``, each with the chunk parts that hold its rows."""
    per_file = rows_per_file(config, parameters.image_size)
    jobs = []
    for split, names in file_names(config, parameters).items():
        total = expected_rows(parameters.num_patients)[split]
        for number, name in enumerate(names):
            start, stop = number * per_file, min((number + 1) * per_file, total)
            parts = tuple(range(start // chunk_size, -(-stop // chunk_size)))
            jobs.append(AssemblyJob(config, split, name, parts, start % chunk_size, stop - start))
    return jobs


def assemble_file(folder: Path, parameters: GenerationParameters, job: AssemblyJob) -> Written:
    """Write the Parquet file of ``job`` from its parts, atomically; return its rows and digest.

    Row groups of ``rows_per_group`` rows; the parts stay (the export removes them once
    every file is written).
    """
    folder = Path(folder)
    directory = config_dir(folder, job.config)
    directory.mkdir(parents=True, exist_ok=True)
    schema = features(job.config, parameters.image_size).arrow_schema
    per_group = rows_per_group(job.config, parameters.image_size)
    paths = [part_path(folder, job.config, job.split, number) for number in job.parts]
    rows = _PartRows(paths, skip=job.skip)
    with (
        atomic_writer(directory / job.name) as handle,
        pq.ParquetWriter(handle, schema, use_dictionary=False) as writer,
    ):
        remaining, arrow_bytes = job.rows, 0
        while remaining:
            group = rows.take(min(per_group, remaining))
            if group is None:
                raise RuntimeError(f"{job.config}/{job.name}: its parts hold too few rows")
            group = group.cast(schema)
            writer.write_table(group, row_group_size=group.num_rows)
            remaining -= group.num_rows
            arrow_bytes += group.nbytes
        writer.add_key_value_metadata({ARROW_BYTES_KEY: str(arrow_bytes)})
    return Written(job.rows, digest_files(folder, [directory / job.name]))


class _PartRows:
    """Rows of a sequence of Arrow part files, read one part at a time."""

    def __init__(self, paths: Sequence[Path], *, skip: int = 0) -> None:
        self._paths = list(paths)
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._skip = skip

    def _fill(self, rows: int) -> None:
        while self._buffered < rows and self._paths:
            with pa.OSFile(str(self._paths.pop(0))) as source:
                table = pa.ipc.open_stream(source).read_all()
            if self._skip:
                table, self._skip = table.slice(self._skip), 0
            self._buffer.append(table)
            self._buffered += table.num_rows

    def take(self, rows: int) -> pa.Table | None:
        """The next ``rows`` rows (fewer at the end) as one table; ``None`` when none is left."""
        self._fill(rows)
        if not self._buffered:
            return None
        table = pa.concat_tables(self._buffer)  # zero-copy: the writer takes chunked columns
        head, rest = table.slice(0, rows), table.slice(rows)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows
        return head
