"""The export's jobs for a folder at a URL: write locally, then upload each file whole.

A worker runs the same job as for a local folder (``generator.shards.run_task``,
``generator.parquet_export.assemble_file``) in a scratch folder of its own (the system's
temporary folder), then copies every file it wrote to the URL with one atomic write
each (``generator.storage.UrlFolder.upload``): the bytes go from the worker to the
store, never through the driver. An assembly job first fetches its Arrow parts, so its
scratch folder holds at most one Parquet file and its parts (about 1 GB). A retried
job renders its chunk again (the same bytes).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from generator.contract import GenerationParameters
from generator.export_record import Written
from generator.parquet_export import AssemblyJob, assemble_file, part_path
from generator.shards import ChunkTask, run_task
from generator.storage import UrlFolder


def run_task_at_url(
    folder: UrlFolder, parameters: GenerationParameters, task: ChunkTask
) -> Written:
    """``run_task`` of ``task`` for the export at ``folder``: render, write, upload."""
    with tempfile.TemporaryDirectory(prefix="omlc-task-") as scratch:
        done = run_task(Path(scratch), parameters, task)
        for relative in done.digests:
            folder.upload(relative, Path(scratch) / relative)
    return done


def assemble_file_at_url(
    folder: UrlFolder, parameters: GenerationParameters, job: AssemblyJob
) -> Written:
    """``assemble_file`` of ``job`` for the export at ``folder``: fetch its parts,
    assemble, upload."""
    with tempfile.TemporaryDirectory(prefix="omlc-assembly-") as scratch:
        for number in job.parts:
            relative = part_path(Path(), job.config, job.split, number).as_posix()
            folder.download(relative, Path(scratch) / relative)
        done = assemble_file(Path(scratch), parameters, job)
        folder.upload(job.relative_path, Path(scratch) / job.relative_path)
    return done
