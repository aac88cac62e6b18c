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

from generator.engines import open_engine
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


def _ray_task_workers() -> list[int]:
    """PIDs of Ray worker processes running a chunk task (process title ``ray::run_task``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::run_task"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


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


def test_missing_ray_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with (
        pytest.raises(MissingExtraError, match=r'pip install -e "\.\[ray\]"'),
        open_engine("ray", tmp_path, None),
    ):
        pass
