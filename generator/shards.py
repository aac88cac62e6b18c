"""Work in chunks: patient indices -> rendered patients, and the shard layouts.

Every consumer of patients goes through here: the export's engines (local processes,
Ray) render ``PATIENTS_PER_CHUNK`` patients a task, each patient once, and write
everything made from it; the builder's ``_generate_examples`` (prepare and streaming)
renders the patients of its shards. A patient depends only on (seed, index, image size,
generator version), so the cut never changes a byte.

Streaming shards: each split of the builder has ``STREAM_SHARDS`` = 840 shards, the least
common multiple of 1..8, as contiguous index ranges in order whose sizes differ by at
most one, the larger first (empty ones when a split has fewer than 840 patients).
``datasets.distributed.split_dataset_by_node`` then gives every rank of a world of 1 to
8 nodes whole shards: a disjoint, complete share within one patient of equal, with no
rank generating patients it drops.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from generator.cohort import split_indices
from generator.contract import BUILDER_SPLIT_NAMES, GenerationParameters
from generator.files import save_npy
from generator.modalities import MODALITIES
from generator.parquet_export import AssemblyJob, part_path, plan_assembly, write_part
from generator.patient import Patient, generate_patient
from generator.raw import IMAGES_DIR, image_path

#: Patients per task of the export engines.
PATIENTS_PER_CHUNK = 8
#: Shards of every builder split: divisible by every world size from 1 to 8.
STREAM_SHARDS = math.lcm(*range(1, 9))


def chunks(indices: Sequence[int], size: int = PATIENTS_PER_CHUNK) -> list[Sequence[int]]:
    """Cut ``indices`` into consecutive chunks of at most ``size`` patients."""
    if size < 1:
        raise ValueError(f"`size` must be >= 1, got {size}")
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def stream_shards(indices: range, count: int = STREAM_SHARDS) -> list[range]:
    """Cut contiguous ``indices`` into ``count`` contiguous ranges, in order.

    Every range holds ``n // count`` indices and the first ``n % count`` one more, so
    any ``w`` dividing ``count`` that takes every ``w``-th range (as
    ``split_dataset_by_node`` does) gets within one index of ``n / w``.
    """
    n = len(indices)
    base, extra = divmod(n, count)
    shards, start = [], 0
    for k in range(count):
        size = base + (1 if k < extra else 0)
        shards.append(indices[start : start + size])
        start += size
    return shards


def render_chunk(parameters: GenerationParameters, indices: Sequence[int]) -> Iterator[Patient]:
    """The patients ``indices`` of the dataset ``parameters`` define, rendered once each."""
    for index in indices:
        yield generate_patient(index, seed=parameters.seed, image_size=parameters.image_size)


@dataclasses.dataclass(frozen=True)
class ChunkTask:
    """One unit of export work: chunk ``number`` of ``split`` (a ``labels.csv`` split name).

    ``npy``: write the patients' ``.npy`` images; ``configs``: the Parquet configs whose
    rows to write as parts (``generator.parquet_export``).
    """

    split: str
    number: int
    indices: range
    npy: bool
    configs: tuple[str, ...]

    def outputs(self, folder: Path, parameters: GenerationParameters) -> list[Path]:
        """Every file this task writes."""
        paths = []
        if self.npy:
            for index in self.indices:
                paths += [image_path(folder, index, parameters.num_patients, m) for m in MODALITIES]
        builder_split = BUILDER_SPLIT_NAMES[self.split]
        paths += [part_path(folder, c, builder_split, self.number) for c in self.configs]
        return paths

    def is_done(self, folder: Path, parameters: GenerationParameters) -> bool:
        """Whether every output is on disk (they are written atomically, so whole)."""
        return all(path.is_file() for path in self.outputs(folder, parameters))


def export_tasks(
    parameters: GenerationParameters, *, npy: bool, configs: Sequence[str]
) -> list[ChunkTask]:
    """The chunk tasks of an export, split by split (a chunk never crosses splits)."""
    tasks = []
    for split, indices in split_indices(parameters.num_patients).items():
        for number, chunk in enumerate(chunks(indices)):
            tasks.append(ChunkTask(split, number, chunk, npy, tuple(configs)))
    return tasks


def run_task(folder: Path, parameters: GenerationParameters, task: ChunkTask) -> int:
    """Render ``task``'s patients once and write what is missing of its outputs.

    Returns the number of patients of the task. Idempotent: a task whose outputs all
    exist renders nothing, so a retried or resumed task writes the same bytes.
    """
    folder = Path(folder)
    npy_missing = task.npy and not all(
        image_path(folder, index, parameters.num_patients, m).is_file()
        for index in task.indices
        for m in MODALITIES
    )
    builder_split = BUILDER_SPLIT_NAMES[task.split]
    configs = [
        c for c in task.configs if not part_path(folder, c, builder_split, task.number).is_file()
    ]
    if not npy_missing and not configs:
        return len(task.indices)
    patients = list(render_chunk(parameters, task.indices))
    if npy_missing:
        (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        for patient in patients:
            for modality in MODALITIES:
                path = image_path(folder, patient.labels.index, parameters.num_patients, modality)
                save_npy(path, patient.images[modality])
    for config in configs:
        path = part_path(folder, config, builder_split, task.number)
        write_part(path, patients, config, parameters.num_patients)
    return len(task.indices)


def assembly_jobs(parameters: GenerationParameters, configs: Sequence[str]) -> list[AssemblyJob]:
    """One job per Parquet file of ``configs``, from the parts of ``PATIENTS_PER_CHUNK`` rows."""
    return [job for c in configs for job in plan_assembly(c, parameters, PATIENTS_PER_CHUNK)]
