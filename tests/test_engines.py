"""The Ray engine on one machine (a local Ray with 2 CPUs): the local engine's files,
byte for byte, through a killed worker and a killed driver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator import local_ray
from generator.engines import _run_here_while, open_engine
from generator.extras import MissingExtraError

pytest.importorskip("ray")

REPOSITORY = Path(__file__).resolve().parent.parent
EXPORT = [sys.executable, str(REPOSITORY / "generator" / "export.py")]
SMALL = ["--num-patients", "40", "--image-size", "32", "--quiet", "--workers", "2"]


def export(out: Path, *extra: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, RAY_AUTH_MODE=os.environ.get("RAY_AUTH_MODE", "disabled"))
    return subprocess.Popen([*EXPORT, "--out", str(out), *SMALL, *extra], env=env, **popen)


def finished(out: Path, *extra: str) -> Path:
    process = export(out, *extra, stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    return finished(tmp_path_factory.mktemp("local") / "out")


def manifest(folder: Path) -> str:
    return (folder / "manifest-sha256.txt").read_text()


def _pids(matches) -> list[int]:
    """PIDs of the processes whose command line (bytes) ``matches``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if matches((entry / "cmdline").read_bytes()):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _ray_task_workers() -> list[int]:
    """PIDs of Ray worker processes running a chunk task (process title ``ray::run_task``)."""
    return _pids(lambda cmdline: cmdline.startswith(b"ray::run_task"))


def test_ray_writes_the_local_engines_files(local, tmp_path):
    out = finished(tmp_path / "out", "--engine", "ray")
    assert manifest(out) == manifest(local)
    assert not (out / ".parts").exists()


def test_a_killed_worker_is_retried_and_changes_nothing(local, tmp_path):
    process = export(tmp_path / "out", "--engine", "ray", "--image-size", "64")
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        workers = _ray_task_workers()
        if workers:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert process.wait(timeout=300) == 0
    assert killed is not None, "no Ray worker was seen running a task"
    reference = finished(tmp_path / "reference", "--image-size", "64")
    assert manifest(tmp_path / "out") == manifest(reference)


def test_a_killed_driver_resumes_from_the_finished_chunks(local, tmp_path):
    out = tmp_path / "out"
    process = export(out, "--engine", "ray", start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("images/*.npy"))) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the local Ray it started
    process.wait(timeout=60)
    assert not (out / "manifest-sha256.txt").exists()
    finished(out, "--engine", "ray")
    assert manifest(out) == manifest(local)


def test_sigterm_stops_a_ray_export_as_it_stops_a_local_one(local, tmp_path):
    out = tmp_path / "out"
    process = export(out, "--engine", "ray", "--image-size", "64", stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _ray_task_workers() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ray_task_workers(), "no Ray worker was seen running a task"
    process.send_signal(signal.SIGTERM)  # after ray.init, which installs its own handler
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err.decode()
    assert err.decode().strip() == "export.py: terminated; rerun the same command to resume"
    assert not (out / "manifest-sha256.txt").exists()
    finished(out, "--engine", "ray", "--image-size", "64")
    assert manifest(out) == manifest(finished(tmp_path / "reference", "--image-size", "64"))


def test_missing_ray_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with (
        pytest.raises(MissingExtraError, match=r'pip install -e "\.\[ray\]"'),
        open_engine("ray", tmp_path, None),
    ):
        pass


def test_the_driver_runs_jobs_only_while_ray_starts_and_at_most_its_share():
    def run_here(queue: list, limit: int, starts_after: int) -> list:
        ran = []
        _run_here_while(lambda: len(ran) < starts_after, limit, ran.append, queue)
        return ran

    jobs = list(range(10))
    queue = list(reversed(jobs))
    assert run_here(queue, limit=3, starts_after=99) == [0, 1, 2]  # its share, in order
    assert queue == list(reversed(jobs[3:]))  # the rest is left to Ray
    assert run_here(list(reversed(jobs)), limit=9, starts_after=2) == [0, 1]  # Ray is up
    assert run_here([], limit=3, starts_after=99) == []


class _RecordingRay:
    """Stands in for the ``ray`` module where ``LocalRay`` calls it."""

    def __init__(self):
        self.shutdowns = 0

    def shutdown(self):
        self.shutdowns += 1


def test_a_local_ray_that_fails_to_start_reraises_in_the_caller(monkeypatch):
    def fail(workers):
        raise RuntimeError(f"no Ray with {workers} CPUs here")

    monkeypatch.setattr(local_ray, "_start_node", fail)
    recording = _RecordingRay()
    node = local_ray.LocalRay(recording, 3)
    with pytest.raises(RuntimeError, match="no Ray with 3 CPUs here"):
        node.address()
    assert not node.starting
    node.stop()
    local_ray.wait_for_stopped()
    assert recording.shutdowns == 1


def _raylets() -> set[int]:
    return set(_pids(lambda cmdline: b"/raylet/raylet" in cmdline))


def test_a_local_ray_starts_in_the_background_and_stops_every_process():
    import ray

    before = _raylets()
    node = local_ray.LocalRay(ray, 1)
    assert node.starting  # returned at once: the node starts in the background
    ray.init(address=node.address(), log_to_driver=False)
    assert ray.cluster_resources()["CPU"] == 1
    running = _raylets() - before
    assert running
    node.stop()
    local_ray.wait_for_stopped()
    assert not ray.is_initialized()
    assert not running & _raylets()
