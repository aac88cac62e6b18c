"""Engines that run the export's chunk tasks: local processes, or Ray past one machine.

Both run ``generator.shards.run_task`` on every pending task and write the same files:
a task's bytes depend only on the parameters and its patients. ``local`` uses a process
pool on this machine; ``ray`` submits one Ray task per chunk to a cluster
(``ray_address``) or to a local Ray started with ``workers`` CPUs. A Ray task that dies
is retried (``RAY_TASK_RETRIES``); a task is idempotent, so a retry or a rerun after a
killed driver writes the same files and skips the finished ones. On a cluster every
node must see the output folder at the same path (shared storage: NFS, a mounted
bucket).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from generator.builder_loader import REPOSITORY_ROOT
from generator.contract import GenerationParameters
from generator.extras import require
from generator.shards import ChunkTask, run_task

ENGINES = ("local", "ray")
#: Retries of a Ray task whose worker dies (``max_retries``).
RAY_TASK_RETRIES = 3


def run_tasks(
    tasks: Sequence[ChunkTask],
    folder: Path,
    parameters: GenerationParameters,
    *,
    engine: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    on_progress: Callable[[int], object] = lambda patients: None,
) -> None:
    """Run ``tasks``; ``on_progress(n)`` after each task with its ``n`` patients."""
    if engine == "local":
        _run_local(tasks, folder, parameters, workers, on_progress)
    elif engine == "ray":
        _run_ray(tasks, folder, parameters, workers, ray_address, on_progress)
    else:
        raise ValueError(f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}")


def _run_local(tasks, folder, parameters, workers, on_progress) -> None:
    workers = min(workers, len(tasks))
    if workers <= 1:
        for task in tasks:
            on_progress(run_task(folder, parameters, task))
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_task, folder, parameters, task) for task in tasks]
        try:
            for future in concurrent.futures.as_completed(futures):
                on_progress(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _run_ray(tasks, folder, parameters, workers, ray_address, on_progress) -> None:
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
    try:
        remote = ray.remote(max_retries=RAY_TASK_RETRIES, num_cpus=1)(run_task)
        folder = str(Path(folder).resolve())
        pending = [remote.remote(folder, parameters, task) for task in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            on_progress(ray.get(done[0]))
    finally:
        if started:
            ray.shutdown()
