"""Engines that run the export's jobs: local processes, or Ray past one machine.

A job is ``function(folder, parameters, job) -> int`` (the patients or rows it did):
the chunk tasks of ``generator.shards.run_task`` and the Parquet files of
``generator.parquet_export.assemble_file``. Both engines write the same files: a job's
bytes depend only on the parameters and the job. ``local`` runs a process pool on this
machine; ``ray`` submits one Ray task per job to a cluster (``ray_address``) or to a
local Ray started with ``workers`` CPUs. A Ray task whose worker dies is retried
(``RAY_TASK_RETRIES``); jobs are idempotent, so a retry or a rerun after a killed
driver writes the same files and skips the finished ones. On a cluster every node must
see the output folder at the same path (shared storage: NFS, a mounted bucket) and have
this package installed (``pip install -e ".[ray]"``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from generator.builder_loader import REPOSITORY_ROOT
from generator.contract import GenerationParameters
from generator.extras import require

ENGINES = ("local", "ray")
#: Retries of a Ray task whose worker dies (``max_retries``).
RAY_TASK_RETRIES = 3

#: ``function(folder, parameters, job) -> int``.
Job = Callable[[Path, GenerationParameters, object], int]
#: ``run(function, jobs, on_progress)``: run every job, ``on_progress(n)`` after each.
Runner = Callable[[Job, Sequence[object], Callable[[int], object]], None]


@contextlib.contextmanager
def open_engine(
    engine: str,
    folder: Path,
    parameters: GenerationParameters,
    *,
    workers: int = 1,
    ray_address: str | None = None,
) -> Iterator[Runner]:
    """The engine's ``run`` for jobs on ``folder`` and ``parameters``; cleans up on exit."""
    if engine == "local":
        with _local(folder, parameters, workers) as run:
            yield run
    elif engine == "ray":
        with _ray(folder, parameters, workers, ray_address) as run:
            yield run
    else:
        raise ValueError(f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}")


@contextlib.contextmanager
def _local(folder, parameters, workers) -> Iterator[Runner]:
    if workers <= 1:
        yield lambda function, jobs, on_progress: [
            on_progress(function(folder, parameters, job)) for job in jobs
        ]
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:

        def run(function, jobs, on_progress) -> None:
            futures = [pool.submit(function, folder, parameters, job) for job in jobs]
            try:
                for future in concurrent.futures.as_completed(futures):
                    on_progress(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

        yield run


@contextlib.contextmanager
def _ray(folder, parameters, workers, ray_address) -> Iterator[Runner]:
    ray = require("ray", "ray", "--engine ray")
    started = not ray.is_initialized()
    if started:
        options = {"log_to_driver": False, "logging_level": logging.ERROR}
        # Workers import ``generator`` from this checkout when it is not installed.
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": str(REPOSITORY_ROOT)}}
        if ray_address:
            ray.init(address=ray_address, **options)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, **options)
    folder = str(Path(folder).resolve())

    def run(function, jobs, on_progress) -> None:
        remote = ray.remote(max_retries=RAY_TASK_RETRIES, num_cpus=1)(function)
        pending = [remote.remote(folder, parameters, job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            on_progress(ray.get(done[0]))

    try:
        yield run
    finally:
        if started:
            ray.shutdown()
