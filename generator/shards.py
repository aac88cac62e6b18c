"""Work in chunks: patient indices -> rendered patients, and the shard layouts.

Every consumer of patients goes through here: the export's engines (local processes,
Ray) render ``PATIENTS_PER_CHUNK`` patients a task, each patient once, and write
everything made from it (the per-patient formats of ``PATIENT_FORMATS`` and the rows of
every Parquet config); the builder's ``_generate_examples`` (prepare and streaming)
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from generator.cohort import split_indices
from generator.contract import BUILDER_SPLIT_NAMES, GenerationParameters
from generator.dicom_export import dicom_relative_paths, write_dicom
from generator.export_record import Written, digest_files
from generator.nifti_export import nifti_relative_paths, write_nifti
from generator.parquet_export import AssemblyJob, part_path, plan_assembly, write_part
from generator.patient import Patient, generate_patient
from generator.raw import npy_relative_paths, write_npy

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
class PatientFormat:
    """A format with files per patient: their paths (relative to the export folder, for a
    patient index among a patient count) and the writer of one patient's files."""

    name: str
    relative_paths: Callable[[int, int], list[str]]
    write: Callable[[Path, Patient, GenerationParameters], object]


#: The per-patient formats of ``--formats``, by name. DICOM and NIfTI import pydicom and
#: nibabel (the ``medical`` extra) only when they write.
PATIENT_FORMATS = {
    "npy": PatientFormat("npy", npy_relative_paths, write_npy),
    "dicom": PatientFormat("dicom", dicom_relative_paths, write_dicom),
    "nifti": PatientFormat("nifti", nifti_relative_paths, write_nifti),
}


@dataclasses.dataclass(frozen=True)
class ChunkTask:
    """One unit of export work: chunk ``number`` of ``split`` (a ``labels.csv`` split name).

    ``formats``: the per-patient formats to write (``PATIENT_FORMATS``); ``configs``: the
    Parquet configs whose rows to write as parts (``generator.parquet_export``).
    """

    split: str
    number: int
    indices: range
    formats: tuple[str, ...]
    configs: tuple[str, ...]

    def patient_files(
        self, folder: Path, parameters: GenerationParameters, name: str
    ) -> list[Path]:
        """The files of the per-patient format ``name`` for this task's patients."""
        relative = PATIENT_FORMATS[name].relative_paths
        n = parameters.num_patients
        return [Path(folder) / path for index in self.indices for path in relative(index, n)]

    def part(self, folder: Path, config: str) -> Path:
        """This task's Arrow part of ``config``."""
        return part_path(folder, config, BUILDER_SPLIT_NAMES[self.split], self.number)

    def outputs(self, folder: Path, parameters: GenerationParameters) -> list[Path]:
        """Every file this task writes."""
        paths = [p for name in self.formats for p in self.patient_files(folder, parameters, name)]
        return paths + [self.part(folder, config) for config in self.configs]

    def relative_outputs(self, parameters: GenerationParameters) -> list[str]:
        """Every file this task writes, relative to the export folder (POSIX)."""
        return [path.as_posix() for path in self.outputs(Path(), parameters)]


def export_tasks(
    parameters: GenerationParameters, *, formats: Sequence[str], configs: Sequence[str]
) -> list[ChunkTask]:
    """The chunk tasks of an export, split by split (a chunk never crosses splits)."""
    wanted = tuple(name for name in PATIENT_FORMATS if name in formats)
    tasks = []
    for split, indices in split_indices(parameters.num_patients).items():
        for number, chunk in enumerate(chunks(indices)):
            tasks.append(ChunkTask(split, number, chunk, wanted, tuple(configs)))
    return tasks


def run_task(folder: Path, parameters: GenerationParameters, task: ChunkTask) -> Written:
    """Render ``task``'s patients once and write what is missing of its outputs.

    Returns the task's patient count and the digests of all its outputs. Idempotent: a
    task whose outputs all exist renders nothing (a retried Ray task finds the files of
    its dead attempt, whole since every write is atomic, and of the same bytes).
    """
    folder = Path(folder)
    formats = [
        name
        for name in task.formats
        if not all(p.is_file() for p in task.patient_files(folder, parameters, name))
    ]
    configs = [c for c in task.configs if not task.part(folder, c).is_file()]
    if formats or configs:
        patients = list(render_chunk(parameters, task.indices))
        for patient in patients:
            for name in formats:
                PATIENT_FORMATS[name].write(folder, patient, parameters)
        for config in configs:
            write_part(task.part(folder, config), patients, config, parameters.num_patients)
    return Written(len(task.indices), digest_files(folder, task.outputs(folder, parameters)))


def assembly_jobs(parameters: GenerationParameters, configs: Sequence[str]) -> list[AssemblyJob]:
    """One job per Parquet file of ``configs``, from the parts of ``PATIENTS_PER_CHUNK`` rows."""
    return [job for c in configs for job in plan_assembly(c, parameters, PATIENTS_PER_CHUNK)]
