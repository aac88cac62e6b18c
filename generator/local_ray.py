"""A local Ray for the export's Ray engine (``--engine ray`` without ``--ray-address``).

``LocalRay(ray, workers)`` starts a Ray head node with ``workers`` CPUs in the background
and returns at once: on 2 cores the start takes about 2 s, most of it waiting for Ray's
processes to come up, time in which the driver can render (``generator.engines``).
``address()`` waits for the node; ``stop()`` disconnects this process and stops the node,
also in the background. One thread owns the node from start to stop: Ray ties its
processes to the thread that started them (on Linux ``PR_SET_PDEATHSIG`` fires when that
thread exits), so the thread that starts the node lives until it has stopped it. If the
driver is killed, its Ray processes die with it (Ray's two agents within two minutes, as
after ``ray.init``).

The node is the one ``ray.init`` would start, less its log monitor (the driver shows no
worker logs) and its autoscaler monitor (a fixed node has nothing to scale): measured on
2 cores, a start then takes 2.3 s instead of 3.9 s, and 3.9 CPU-seconds over all
processes instead of 6.9. Its processes import ``generator`` from this checkout
(``PYTHONPATH``), and record no metrics (``RAY_enable_metrics_collection=0``, unless
set): nothing reads them without a dashboard, and on 2 cores recording them costs
several CPU-seconds a run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

#: The checkout holding ``generator``, first on the local Ray's ``PYTHONPATH``.
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
#: Ray's setting (an environment variable its processes read) that turns its metrics off.
METRICS_VARIABLE = "RAY_enable_metrics_collection"

#: Owner threads stopping their node (non-daemon: the interpreter waits for them before
#: it exits; ``wait_for_stopped`` joins them before a new start in this process).
_STOPPING: list[threading.Thread] = []


def wait_for_stopped() -> None:
    """Wait until every local Ray this process stopped is gone."""
    while _STOPPING:
        _STOPPING.pop().join()


class LocalRay:
    """A local Ray head node with ``workers`` CPUs, starting in the background from
    creation; ``ray`` is the imported ``ray`` module."""

    def __init__(self, ray, workers: int) -> None:
        self._ray = ray
        self._started = threading.Event()
        self._stop = threading.Event()
        self._node = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._own, args=(workers,), name="local-ray")
        self._thread.start()

    @property
    def starting(self) -> bool:
        """Whether the node is still starting (``address()`` would wait)."""
        return not self._started.is_set()

    def address(self) -> str:
        """The node's address for ``ray.init``, once it has started; re-raises what
        stopped it from starting."""
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self._node.address

    def stop(self) -> None:
        """``ray.shutdown()`` this process and stop the node, in the owner thread (after
        the start, if it is still starting); returns at once."""
        self._stop.set()
        _STOPPING.append(self._thread)

    def _own(self, workers: int) -> None:
        try:
            with _local_ray_environment():
                self._node = _start_node(workers)
        except BaseException as error:  # the caller's, raised there by address()
            self._error = error
        finally:
            self._started.set()
        self._stop.wait()
        self._ray.shutdown()
        if self._node is not None:
            self._node.destroy_external_storage()
            self._node.kill_all_processes(check_alive=False, allow_graceful=True)


def _start_node(workers: int):
    """Start the head node (``ray._private.node.Node``, what ``ray.init`` starts)."""
    from ray._private.node import Node
    from ray._private.parameter import RayParams

    parameters = RayParams(
        num_cpus=workers, include_dashboard=False, include_log_monitor=False, no_monitor=True
    )
    return Node(parameters, head=True, shutdown_at_exit=False, spawn_reaper=True)


@contextlib.contextmanager
def _local_ray_environment() -> Iterator[None]:
    """The environment the node's processes inherit, for the block: this checkout first
    on ``PYTHONPATH``, and Ray's metrics off unless set."""
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
