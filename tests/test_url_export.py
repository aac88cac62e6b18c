"""``--out`` as an fsspec URL: the local engine's files, byte for byte, through the real
non-local code path (``generator.storage``), with resume, ``--verify``, the lock object
and one-line errors.

Two filesystems, no network: ``omlctest://`` (``tests.url_filesystems``: a local folder
seen through fsspec, written by temporary name and rename, importable by Ray's workers)
for the Ray engine, and ``memory://`` (an object store: one put per file) for the local
engine in this process. One local Ray with 2 CPUs serves every Ray test of the module.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pytest
import url_filesystems
from url_filesystems import url

import generator.folder_lock as folder_lock_module
from generator.export import main
from generator.folder_lock import FolderBusyError, folder_lock
from generator.layout import LOCK_FILE, MANIFEST_FILE, RECORD_FILE, RECORD_JOURNAL_DIR
from generator.storage import open_url_folder

REPOSITORY = Path(__file__).resolve().parent.parent
#: Where a process finds ``generator`` and ``url_filesystems``.
PYTHONPATH = os.pathsep.join([str(REPOSITORY), str(REPOSITORY / "tests")])
SMALL = ["--num-patients", "12", "--image-size", "32", "--quiet"]
BOOKKEEPING = (RECORD_FILE, RECORD_JOURNAL_DIR, LOCK_FILE)


@pytest.fixture(autouse=True)
def quick_lock(monkeypatch):
    """No settling delay for the lock object (its own test puts one back)."""
    monkeypatch.setattr(folder_lock_module, "LOCK_SETTLE_SECONDS", 0.0)
    url_filesystems.register()


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file of a local folder but the export's bookkeeping: relative path -> bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).parts[0] not in BOOKKEEPING
    }


def memory_files(root: str) -> dict[str, bytes]:
    """The same for a folder of ``memory://``."""
    fs = fsspec.filesystem("memory")
    prefix = f"/{root}/"
    return {
        name[len(prefix) :]: fs.cat_file(name)
        for name in sorted(fs.find(f"/{root}"))
        if name[len(prefix) :].split("/")[0] not in BOOKKEEPING
    }


def local_export(out: Path, *extra: str) -> Path:
    assert main(["--out", str(out), *SMALL, "--workers", "1", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Local-engine exports to local folders, by ``--formats``."""
    root = tmp_path_factory.mktemp("references")
    return {
        formats: local_export(root / formats.replace(",", "-"), "--formats", formats)
        for formats in ("parquet", "npy,parquet")
    }


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray (2 CPUs) for the module; its workers log every file they write."""
    ray = pytest.importorskip("ray")
    writers = tmp_path_factory.mktemp("writers") / "writers.log"
    env = {"PYTHONPATH": PYTHONPATH, url_filesystems.WRITERS_VARIABLE: str(writers)}
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env}
    )
    yield writers
    ray.shutdown()


def ray_export(out: Path, *extra: str) -> int:
    return main(["--out", url(out), *SMALL, "--workers", "2", "--engine", "ray", *extra])


class TestRayAtAUrl:
    def test_parquet_only(self, local_ray, references, tmp_path):
        assert ray_export(tmp_path / "out", "--formats", "parquet") == 0
        assert files_of(tmp_path / "out") == files_of(references["parquet"])

    def test_npy_and_parquet_written_by_the_workers(self, local_ray, references, tmp_path):
        out = tmp_path / "out"
        assert ray_export(out, "--formats", "npy,parquet") == 0
        assert files_of(out) == files_of(references["npy,parquet"])
        assert not (out / ".parts").exists() and not (out / LOCK_FILE).exists()
        writers = {}
        for line in local_ray.read_text().splitlines():
            pid, path = line.split(" ", 1)
            writers[path] = int(pid)
        data = [p for p in files_of(out) if p.split("/")[0] in ("images", "data")]
        assert data and all(writers[str(out / p)] != os.getpid() for p in data)
        assert main(["--verify", url(out), "--quiet"]) == 0

    def test_a_killed_run_resumes_identical(self, local_ray, references, tmp_path):
        """A driver killed mid-run (its lock object, journal and partial files left
        behind), then files deleted: the rerun with Ray finishes the same export."""
        out = tmp_path / "out"
        argv = ["--out", url(out), *SMALL, "--workers", "1", "--formats", "npy,parquet"]
        code = (  # a slowed upload, so that the kill lands mid-run
            "import sys, time, url_filesystems, generator.storage as storage\n"
            "url_filesystems.register()\n"
            "upload = storage.UrlFolder.upload\n"
            "storage.UrlFolder.upload = lambda *a: (time.sleep(0.05), upload(*a))[1]\n"
            "from generator.export import main\n"
            f"sys.exit(main({argv!r}))"
        )
        env = dict(os.environ, PYTHONPATH=PYTHONPATH)
        process = subprocess.Popen([sys.executable, "-c", code], cwd=REPOSITORY, env=env)
        deadline = time.monotonic() + 60
        while len(list(out.glob("images/*.npy"))) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert (out / LOCK_FILE).exists() and not (out / MANIFEST_FILE).exists()
        for path in sorted(out.glob("images/*.npy"))[:4]:
            path.unlink()
        assert ray_export(out, "--formats", "npy,parquet") == 0
        assert files_of(out) == files_of(references["npy,parquet"])
        assert not list(out.rglob("*.partial")) and not (out / LOCK_FILE).exists()


class TestLocalEngineAtAUrl:
    """The local engine through the same code, on an object store (``memory://``)."""

    @pytest.fixture
    def memory(self, request):
        root = f"omlc-{request.node.name}"
        yield root
        if fsspec.filesystem("memory").exists(f"/{root}"):
            fsspec.filesystem("memory").rm(f"/{root}", recursive=True)

    def test_every_part_and_the_card(self, memory, tmp_path):
        reference = local_export(tmp_path / "reference")
        assert main(["--out", f"memory://{memory}", *SMALL, "--workers", "1"]) == 0
        assert memory_files(memory) == files_of(reference)

    def test_a_file_url(self, references, tmp_path):
        """fsspec's own local filesystem, through the URL code path (rename, lock object)."""
        argv = ["--out", f"file://{tmp_path / 'out'}", *SMALL, "--workers", "1"]
        assert main([*argv, "--formats", "parquet"]) == 0
        assert files_of(tmp_path / "out") == files_of(references["parquet"])
        hidden = {p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")}
        assert hidden == {RECORD_FILE, RECORD_JOURNAL_DIR}  # no lock object, no partial file

    def test_resume_removes_claimed_files_and_repairs_changed_ones(
        self, memory, references, capsys
    ):
        out = f"memory://{memory}"
        assert main(["--out", out, *SMALL, "--workers", "1", "--formats", "npy,parquet"]) == 0
        fs = fsspec.filesystem("memory")
        fs.rm(f"/{memory}/{MANIFEST_FILE}")
        fs.rm(f"/{memory}/images/PAT_0002_MRI.npy")
        fs.pipe_file(f"/{memory}/images/PAT_0003_CT.npy", b"changed")
        fs.pipe_file(f"/{memory}/.parts/default/train-000000.arrow", b"claimed, not recorded")
        assert main(["--out", out, *SMALL, "--workers", "1", "--formats", "npy,parquet"]) == 0
        assert "repairing" in capsys.readouterr().err
        assert memory_files(memory) == files_of(references["npy,parquet"])

    def test_verify(self, memory, capsys):
        out = f"memory://{memory}"
        assert main(["--out", out, *SMALL, "--workers", "1", "--formats", "parquet"]) == 0
        assert main(["--verify", out, "--quiet"]) == 0
        fs = fsspec.filesystem("memory")
        fs.rm(f"/{memory}/labels.csv")
        fs.pipe_file(f"/{memory}/metadata.csv", b"changed")
        fs.pipe_file(f"/{memory}/notes.txt", b"mine")
        capsys.readouterr()
        assert main(["--verify", out, "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "missing: labels.csv" in err and "corrupted: metadata.csv" in err
        assert "extra: notes.txt" in err and "1 missing, 1 corrupted, 1 extra" in err

    def test_other_parameters_are_refused_without_force(self, memory, capsys):
        argv = ["--out", f"memory://{memory}", *SMALL, "--workers", "1", "--formats", "parquet"]
        assert main(argv) == 0
        assert main([*argv, "--seed", "7"]) == 2
        assert "other parameters" in capsys.readouterr().err
        assert main([*argv, "--seed", "7", "--force"]) == 0
        record = fsspec.filesystem("memory").cat_file(f"/{memory}/{RECORD_FILE}").decode()
        assert json.loads(record.splitlines()[0])["parameters"]["seed"] == 7


class TestBadUrls:
    def expect(self, capsys, argv: list[str], *fragments: str) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and all(f in err for f in fragments), err

    def test_unknown_protocol(self, capsys):
        self.expect(capsys, ["--out", "nope://bucket/x", *SMALL], "no protocol 'nope'")
        self.expect(capsys, ["--verify", "nope://bucket/x"], "--verify nope://bucket/x")

    def test_missing_backend_names_the_package(self, capsys, monkeypatch):
        monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs now fails
        self.expect(capsys, ["--out", "s3://bucket/omlc", *SMALL], "pip install s3fs")

    def test_no_folder_below_the_root(self, capsys):
        self.expect(capsys, ["--out", "memory://", *SMALL, "--workers", "1"], "below the root")

    def test_a_url_naming_a_file(self, capsys, tmp_path):
        (tmp_path / "file").write_text("x")
        self.expect(capsys, ["--out", url(tmp_path / "file"), *SMALL], "is not a folder")

    def test_memory_needs_this_process(self, capsys):
        self.expect(capsys, ["--out", "memory://x/y", *SMALL, "--workers", "2"], "--workers 1")

    def test_no_manifest_to_verify(self, capsys, tmp_path):
        self.expect(capsys, ["--verify", url(tmp_path)], "does not exist")


class TestLockObject:
    """The lock at a URL: an object naming its holder, refreshed, refused unless stale."""

    @pytest.fixture
    def folder(self, tmp_path):
        return open_url_folder(url(tmp_path / "out"))

    def put_lock(self, folder, *, pid: int, host: str, age: float) -> None:
        holder = {"pid": pid, "host": host, "token": "theirs", "refreshed": time.time() - age}
        folder.write_text(LOCK_FILE, json.dumps(holder))

    def test_a_live_holder_is_refused_force_or_not(self, folder, capsys):
        folder.prepare()
        self.put_lock(folder, pid=os.getpid(), host=socket.gethostname(), age=5)
        assert main(["--out", str(folder), *SMALL, "--force"]) == 2
        assert f"another export (pid {os.getpid()} on" in capsys.readouterr().err
        assert set(folder.sizes()) == {LOCK_FILE}  # nothing written

    def test_another_hosts_recent_lock_is_refused(self, folder, capsys):
        folder.prepare()
        self.put_lock(folder, pid=1, host="elsewhere", age=60)
        assert main(["--out", str(folder), *SMALL, "--force"]) == 2
        assert "another export (pid 1 on elsewhere, refreshed 60 s ago)" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("host", "age", "reason"),
        [("here", 5, "its process is gone"), ("elsewhere", 600, "not refreshed for 600 s")],
    )
    def test_a_stale_lock_is_taken_over(self, folder, capsys, host, age, reason):
        folder.prepare()
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        host = socket.gethostname() if host == "here" else host
        self.put_lock(folder, pid=int(dead.stdout), host=host, age=age)
        assert main(["--out", str(folder), *SMALL, "--workers", "1", "--formats", "parquet"]) == 0
        assert reason in capsys.readouterr().err
        assert LOCK_FILE not in folder.sizes()

    def test_two_drivers_at_once_the_later_writer_keeps_it(self, folder, monkeypatch):
        folder.prepare()
        monkeypatch.setattr(folder_lock_module, "LOCK_SETTLE_SECONDS", 0.01)

        def another_driver_writes(seconds):  # during the settling delay
            self.put_lock(folder, pid=1, host="elsewhere", age=0)

        monkeypatch.setattr(folder_lock_module.time, "sleep", another_driver_writes)
        with pytest.raises(FolderBusyError, match="pid 1 on elsewhere"), folder_lock(folder):
            pass
        assert json.loads(folder.read_text(LOCK_FILE))["token"] == "theirs"  # not deleted

    def test_refreshed_while_held_and_a_lost_lock_stops_the_run(self, folder, monkeypatch):
        folder.prepare()
        monkeypatch.setattr(folder_lock_module, "LOCK_REFRESH_SECONDS", 0.05)
        with folder_lock(folder) as check:
            first = json.loads(folder.read_text(LOCK_FILE))
            deadline = time.monotonic() + 10
            while json.loads(folder.read_text(LOCK_FILE))["refreshed"] == first["refreshed"]:
                assert time.monotonic() < deadline, "never refreshed"
                time.sleep(0.02)
            check()  # still ours
            self.put_lock(folder, pid=1, host="elsewhere", age=0)
            time.sleep(0.3)
            with pytest.raises(FolderBusyError, match="took over the lock"):
                check()
        assert json.loads(folder.read_text(LOCK_FILE))["token"] == "theirs"


class TestAtomicWrites:
    def test_a_failed_rename_leaves_neither_file(self, tmp_path, monkeypatch):
        folder = open_url_folder(url(tmp_path / "out"))
        folder.prepare()

        def broken_mv(self, path1, path2, **kwargs):
            raise OSError(5, "I/O error", path2)

        monkeypatch.setattr(url_filesystems.RenamingTestFileSystem, "mv", broken_mv)
        with pytest.raises(OSError):
            folder.write_bytes("images/a.npy", b"data")
        assert folder.sizes() == {}

    def test_an_object_store_write_is_one_put(self, monkeypatch):
        folder = open_url_folder("memory://omlc-one-put/out")
        puts = []
        real = type(folder.fs).pipe_file
        monkeypatch.setattr(
            type(folder.fs),
            "pipe_file",
            lambda fs, path, data, **k: (puts.append(path), real(fs, path, data, **k)),
        )
        folder.write_bytes("images/a.npy", b"data")
        assert (
            puts == [folder.path("images/a.npy")] and folder.read_bytes("images/a.npy") == b"data"
        )
        folder.remove_tree("")
