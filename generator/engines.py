"""Engines that run the export's jobs: local processes, or Ray past one machine.

A job is ``function(folder, parameters, job) -> Written`` (what it did and wrote):
the chunk tasks of ``generator.shards.run_task`` and the Parquet files of
``generator.parquet_export.assemble_file``. Both engines write the same files: a job's
bytes depend only on the parameters and the job. ``local`` runs a process pool on this
machine; ``ray`` submits one Ray task per job to a cluster (``ray_address``) or to a
local Ray started with ``workers`` CPUs. A Ray task whose worker dies is retried
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
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from generator.contract import GenerationParameters
from generator.export_record import Written
from generator.extras import require
from generator.storage import UrlFolder

ENGINES = ("local", "ray")
#: The checkout holding ``generator`` (for Ray workers when the package is not installed).
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
#: Retries of a Ray task whose worker dies (``max_retries``).
RAY_TASK_RETRIES = 3
#: Jobs submitted ahead per worker (CPU): enough to keep every worker busy, few enough
#: that a run of millions of jobs never holds them all in flight.
IN_FLIGHT_PER_WORKER = 4
#: ``prctl`` option: the signal a process gets when its parent exits (linux/prctl.h).
PR_SET_PDEATHSIG = 1
#: Ray's setting (an environment variable its processes read) that turns its metrics off.
METRICS_VARIABLE = "RAY_enable_metrics_collection"

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


#: Local Rays shutting down while the export finishes (non-daemon threads: the interpreter
#: waits for them before it exits, and the next start in this process joins them first).
_SHUTTING_DOWN: list[threading.Thread] = []


def _shut_down_in_background(ray) -> None:
    """``ray.shutdown()`` in a thread: it mostly waits for each Ray process to exit (up to
    a second each), time in which the driver writes the tables, the card and the manifest."""
    thread = threading.Thread(target=ray.shutdown, name="ray-shutdown")
    thread.start()
    _SHUTTING_DOWN.append(thread)


@contextlib.contextmanager
def _local_ray_environment() -> Iterator[None]:
    """The environment a local Ray's processes inherit, for the block: this checkout first
    on ``PYTHONPATH``, and Ray's metrics off (``RAY_enable_metrics_collection=0``, unless
    set): nothing reads them without a dashboard, and on 2 cores recording and
    aggregating them costs several CPU-seconds a run."""
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", METRICS_VARIABLE)}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPOSITORY_ROOT), saved["PYTHONPATH"]])
    )
    os.environ.setdefault(METRICS_VARIABLE, "0")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_ray(ray, workers: int, ray_address: str | None) -> None:
    """Connect to the cluster at ``ray_address``, or start a local Ray with ``workers`` CPUs.

    Workers import ``generator`` from this checkout when it is not installed: a cluster's
    through the job's ``runtime_env``; a local Ray's processes inherit ``PYTHONPATH``
    (``_local_ray_environment``), so that Ray starts its first workers at once (a
    ``runtime_env`` makes it set one up for them first: seconds on 2 cores). A local Ray
    has no dashboard and logs nothing to the driver.
    """
    options = {"log_to_driver": False, "logging_level": logging.ERROR}
    if ray_address:
        runtime_env = {"env_vars": {"PYTHONPATH": str(REPOSITORY_ROOT)}}
        ray.init(address=ray_address, runtime_env=runtime_env, **options)
        return
    with _local_ray_environment():
        ray.init(num_cpus=workers, include_dashboard=False, **options)


@contextlib.contextmanager
def _ray(folder, parameters, workers, ray_address) -> Iterator[Runner]:
    ray = require("ray", "ray", "--engine ray")
    while _SHUTTING_DOWN:
        _SHUTTING_DOWN.pop().join()
    started = not ray.is_initialized()
    if started:
        _start_ray(ray, workers, ray_address)
    if not isinstance(folder, UrlFolder):  # a path as the workers' file system sees it
        folder = str(Path(folder).resolve())
    window = IN_FLIGHT_PER_WORKER * max(int(ray.cluster_resources().get("CPU", workers)), 1)

    def run(function, jobs, on_done) -> None:
        remote = ray.remote(max_retries=RAY_TASK_RETRIES, num_cpus=1)(function)
        queue, in_flight = list(reversed(jobs)), []
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
        finally:
            for ref in in_flight:
                ray.cancel(ref, force=True)

    try:
        yield run
    finally:
        if started:
            _shut_down_in_background(ray)
