"""Engines that run the export's jobs: local processes, or Ray past one machine.

A job is ``function(folder, parameters, job) -> Written`` (what it did and wrote):
the chunk tasks of ``generator.shards.run_task`` and the Parquet files of
``generator.parquet_export.assemble_file``. Both engines write the same files: a job's
bytes depend only on the parameters and the job. ``local`` runs a process pool on this
machine; ``ray`` submits one Ray task per job to a cluster (``ray_address``) or to a
local Ray started with ``workers`` CPUs (``generator.local_ray``; the driver runs a few
jobs itself while it starts). A Ray task whose worker dies is retried
(``RAY_TASK_RETRIES``); jobs are idempotent, so a retry or a rerun after a killed
driver writes the same files and skips the finished ones. On a cluster every node must
see the output folder at the same path (shared storage: NFS, a mounted bucket), or the
folder is an fsspec URL (``generator.storage.UrlFolder``, passed to the jobs as is), and
every node has this package installed (``pip install -e ".[ray]"``).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from generator.contract import GenerationParameters
from generator.export_record import Written
from generator.extras import require
from generator.local_ray import REPOSITORY_ROOT, LocalRay, wait_for_stopped
from generator.storage import UrlFolder

ENGINES = ("local", "ray")
#: Retries of a Ray task whose worker dies (``max_retries``).
RAY_TASK_RETRIES = 3
#: Jobs submitted ahead per worker (CPU): enough to keep every worker busy, few enough
#: that a run of millions of jobs never holds them all in flight.
IN_FLIGHT_PER_WORKER = 4
#: ``prctl`` option: the signal a process gets when its parent exits (linux/prctl.h).
PR_SET_PDEATHSIG = 1

#: ``function(folder, parameters, job) -> Written``.
Job = Callable[[Path | UrlFolder, GenerationParameters, object], Written]
#: ``run(function, jobs, on_done)``: run every job, ``on_done(written)`` in this process
#: after each.
Runner = Callable[[Job, Sequence[object], Callable[[Written], object]], None]


@contextlib.contextmanager
def open_engine(
    engine: str,
    folder: Path | UrlFolder,
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


class EngineError(RuntimeError):
    """A job could not be run (a worker died past its retries); the message is one line."""


def _init_worker(parent: int) -> None:
    """In a pool worker: leave Ctrl-C to the parent, which stops the pool, and die with
    the parent (process ``parent``) however it ends, ``kill -9`` included (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's handler, inherited by fork
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the pool's own checks
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request
        os._exit(1)


@contextlib.contextmanager
def _local(folder, parameters, workers) -> Iterator[Runner]:
    if workers <= 1:
        yield lambda function, jobs, on_done: [
            on_done(function(folder, parameters, job)) for job in jobs
        ]
        return
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),)
    ) as pool:

        def run(function, jobs, on_done) -> None:
            queue = list(reversed(jobs))
            in_flight: set[concurrent.futures.Future] = set()
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < IN_FLIGHT_PER_WORKER * workers:
                        in_flight.add(pool.submit(function, folder, parameters, queue.pop()))
                    done, in_flight = concurrent.futures.wait(
                        in_flight, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for future in done:
                        on_done(future.result())
            except concurrent.futures.process.BrokenProcessPool:
                raise EngineError(
                    "a worker process died (killed, or out of memory); rerun to resume"
                ) from None
            finally:
                for future in in_flight:
                    future.cancel()

        yield run


def _connect(ray, **options) -> None:
    """``ray.init(**options)``, keeping this process's SIGTERM handler: ``ray.init``
    replaces it with its own ``sys.exit``, and a terminated export would neither stop as
    the CLI says (``Terminated``) nor say so."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(**options)
    finally:
        if handler is not None:  # None: not set from Python
            signal.signal(signal.SIGTERM, handler)


def _run_here_while(starting: Callable[[], bool], limit: int, run_one, queue: list) -> None:
    """Run jobs from the end of ``queue`` in this process (``run_one(job)``) while
    ``starting()``, at most ``limit`` of them."""
    for _ in range(limit):
        if not queue or not starting():
            return
        run_one(queue.pop())


@contextlib.contextmanager
def _ray(folder, parameters, workers, ray_address) -> Iterator[Runner]:
    """Ray's ``run``. A local Ray starts in the background (``generator.local_ray``);
    until it is up the driver runs jobs itself, at most its share (one in ``workers + 1``
    of each ``run``'s jobs), so that the start costs the export little; then Ray runs the
    rest. Which process runs a job changes nothing in its files."""
    ray = require("ray", "ray", "--engine ray")
    wait_for_stopped()
    options = {"log_to_driver": False, "logging_level": logging.ERROR}
    if not isinstance(folder, UrlFolder):  # a path as the workers' file system sees it
        folder = str(Path(folder).resolve())
    connected_here = not ray.is_initialized()  # else the caller's Ray, left running
    if connected_here and ray_address:
        # a cluster's workers import ``generator`` from this checkout if not installed
        runtime_env = {"env_vars": {"PYTHONPATH": str(REPOSITORY_ROOT)}}
        _connect(ray, address=ray_address, runtime_env=runtime_env, **options)
    # last before the ``try`` whose ``finally`` stops it
    local = LocalRay(ray, workers) if connected_here and not ray_address else None

    def run(function, jobs, on_done) -> None:
        queue, in_flight = list(reversed(jobs)), []
        if local is not None:
            _run_here_while(
                lambda: local.starting,
                len(jobs) // (workers + 1),
                lambda job: on_done(function(folder, parameters, job)),
                queue,
            )
        if local is not None and not ray.is_initialized():
            _connect(ray, address=local.address(), **options)
        window = IN_FLIGHT_PER_WORKER * max(int(ray.cluster_resources().get("CPU", 1)), 1)
        remote = ray.remote(max_retries=RAY_TASK_RETRIES, num_cpus=1)(function)
        try:
            while queue or in_flight:
                while queue and len(in_flight) < window:
                    in_flight.append(remote.remote(folder, parameters, queue.pop()))
                done, in_flight = ray.wait(in_flight, num_returns=1)
                on_done(ray.get(done[0]))
        except ray.exceptions.RayError as error:
            cause = str(error).strip().splitlines()[-1] if str(error).strip() else type(error)
            raise EngineError(
                f"a Ray task failed past its retries ({cause}); rerun to resume"
            ) from None

    try:
        yield run
    finally:
        if local is not None:
            local.stop()
        elif connected_here:
            ray.shutdown()
