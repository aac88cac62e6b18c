"""The export used as a careless or hostile user would: one test class per failure class
found by the attack run of issue 12 (the publish classes are in
``test_publish_adversarial.py``, the builder's in ``test_builder_edges.py``)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import generator.engines
import generator.folder_ownership
import generator.manifest
from generator.export import main
from generator.export_record import ExportRecord
from generator.folder_lock import folder_lock
from generator.layout import LOCK_FILE, MANIFEST_FILE, RECORD_FILE
from generator.manifest import read_manifest, verify_manifest

REPOSITORY = Path(__file__).resolve().parent.parent
SMALL = ["--num-patients", "12", "--image-size", "32", "--quiet", "--workers", "1"]


def tree(folder: Path) -> dict[str, bytes]:
    """Every regular file below ``folder`` (links not followed) and its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def export_files(folder: Path) -> dict[str, bytes]:
    """The files of an export, without its lock and record (whose journal varies)."""
    return {k: v for k, v in tree(folder).items() if k not in (LOCK_FILE, RECORD_FILE)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A finished export with ``SMALL``."""
    out = tmp_path_factory.mktemp("reference") / "export"
    assert main(["--out", str(out), *SMALL]) == 0
    return out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(folder, target, symlinks=True)
    return target


def user_folder(root: Path) -> Path:
    """A folder of the user's own files, named as an export names its files."""
    folder = root / "mine"
    (folder / "images").mkdir(parents=True)
    (folder / "data" / "default").mkdir(parents=True)
    (folder / "README.md").write_text("# my project\n")
    (folder / "labels.csv").write_text("patient_id,label\nme,1\n")
    (folder / "generation.json").write_text('{"num_patients": 12}\n')
    np.save(folder / "images" / "PAT_mine.npy", np.ones(3))
    (folder / "data" / "default" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 mine")
    return folder


class TestForceNeverTouchesTheUsersFiles:
    """Class 1: ``--force`` overwrote or deleted the user's files."""

    @pytest.mark.parametrize("force", [False, True])
    def test_folder_of_user_files(self, tmp_path, capsys, force):
        folder = user_folder(tmp_path)
        before = tree(folder)
        assert main(["--out", str(folder), *SMALL, *(["--force"] if force else [])]) == 2
        error = capsys.readouterr().err
        assert "5 file(s) that no export wrote" in error and error.count("\n") == 1
        assert tree(folder) == before and not (folder / LOCK_FILE).exists()

    def test_git_repository(self, tmp_path, capsys):
        repository = tmp_path / "repo"
        (repository / ".git").mkdir(parents=True)
        (repository / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        (repository / "README.md").write_text("# the repository's own card\n")
        assert main(["--out", str(repository), *SMALL, "--force"]) == 2
        assert "no export wrote (README.md)" in capsys.readouterr().err
        assert (repository / "README.md").read_text() == "# the repository's own card\n"

    def test_symlinked_images_folder_is_refused_and_its_target_kept(
        self, reference, tmp_path, capsys
    ):
        outside = tmp_path / "outside"
        outside.mkdir()
        for path in (reference / "images").glob("PAT_000[1-3]_*.npy"):
            shutil.copy(path, outside / path.name)
        copy = copy_of(reference, tmp_path)
        shutil.rmtree(copy / "images")
        (copy / "images").symlink_to(outside, target_is_directory=True)
        kept = tree(outside)
        for flags in ([], ["--force"], ["--num-patients", "13", "--force"]):
            assert main(["--out", str(copy), *SMALL, *flags]) == 2
            assert "images is a symbolic link" in capsys.readouterr().err
        assert tree(outside) == kept

    @pytest.mark.parametrize(
        "line",
        [
            '{"wrote": {"../outside.txt": "' + "0" * 64 + '"}}',
            '{"removed": ["/etc/hostname"]}',
            '["not", "a", "mapping"]',
            '{"wrote": {"images/a.npy": "not a digest"}}',
        ],
    )
    def test_a_doctored_record_is_refused(self, reference, tmp_path, capsys, line):
        """A record naming a path outside the folder would have ``--force`` delete it."""
        outside = tmp_path / "outside.txt"
        outside.write_text("mine")
        copy = copy_of(reference, tmp_path)
        with open(copy / RECORD_FILE, "a") as handle:
            handle.write(line + "\n")
        assert main(["--out", str(copy), *SMALL, "--num-patients", "9", "--force"]) == 2
        assert "not a line of a version 1 export record" in capsys.readouterr().err
        assert outside.read_text() == "mine"
        assert export_files(copy) == export_files(reference)

    def test_force_removes_only_the_recorded_files(self, reference, tmp_path):
        copy = copy_of(reference, tmp_path)
        assert main(["--out", str(copy), *SMALL, "--num-patients", "9", "--force"]) == 0
        assert not (copy / "images" / "PAT_0012_MRI.npy").exists()
        assert verify_manifest(copy).ok
        fresh = tmp_path / "fresh"
        assert main(["--out", str(fresh), *SMALL, "--num-patients", "9"]) == 0
        assert export_files(copy) == export_files(fresh)


class TestRerunNeverApprovesCorruption:
    """Class 2: a rerun kept flipped bytes and wrote a manifest approving them; a copied
    shard or an extra file was adopted."""

    @pytest.mark.parametrize(
        ("relative", "offset"),
        [
            ("data/default/train-00000-of-00001.parquet", 100),
            ("images/PAT_0002_CT.npy", 200),  # data
            ("images/PAT_0002_CT.npy", 10),  # header
            ("labels.csv", 3),
            ("README.md", 50),
        ],
    )
    def test_flipped_byte_is_repaired(self, reference, tmp_path, capsys, relative, offset):
        copy = copy_of(reference, tmp_path)
        data = bytearray((copy / relative).read_bytes())
        data[offset] ^= 0x01
        (copy / relative).write_bytes(bytes(data))
        assert main(["--out", str(copy), *SMALL]) == 0
        assert f"repairing {copy}/{relative}" in capsys.readouterr().err
        assert export_files(copy) == export_files(reference)
        assert verify_manifest(copy).ok

    def test_copied_shard_is_refused_not_counted(self, reference, tmp_path, capsys):
        copy = copy_of(reference, tmp_path)
        shard = copy / "data" / "default" / "train-00000-of-00001.parquet"
        shutil.copy(shard, shard.with_name("train-copy.parquet"))
        before = tree(copy)
        assert main(["--out", str(copy), *SMALL]) == 2
        assert "data/default/train-copy.parquet" in capsys.readouterr().err
        assert tree(copy) == before  # the manifest and the card are those of the export

    def test_extra_top_level_file_is_refused(self, reference, tmp_path, capsys):
        copy = copy_of(reference, tmp_path)
        (copy / "notes.txt").write_text("mine")
        assert main(["--out", str(copy), *SMALL]) == 2
        assert "did not write (notes.txt)" in capsys.readouterr().err
        (copy / "notes.txt").unlink()
        assert main(["--out", str(copy), *SMALL]) == 0 and verify_manifest(copy).ok

    def test_intact_rerun_writes_nothing(self, reference, tmp_path):
        copy = copy_of(reference, tmp_path)
        bookkeeping = (RECORD_FILE, LOCK_FILE)
        times = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.name not in bookkeeping}
        assert main(["--out", str(copy), *SMALL]) == 0
        assert {p: p.stat().st_mtime_ns for p in times} == times


class TestOneExportAtATime:
    """Class 3: two exports into one folder both succeeded and mixed their files."""

    def test_second_export_refused_while_the_first_holds_the_lock(self, tmp_path, capsys):
        out = tmp_path / "out"
        out.mkdir()
        with folder_lock(out):
            code = main(["--out", str(out), *SMALL, "--seed", "7", "--force"])
        assert code == 2
        assert f"another export (pid {os.getpid()} on" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]

    def test_concurrent_processes(self, tmp_path):
        """A real race: a slow export, then a second one 1 s later."""
        out = tmp_path / "out"
        command = [sys.executable, str(REPOSITORY / "generator" / "export.py"), "--out", str(out)]
        first = subprocess.Popen(
            [*command, "--num-patients", "120", "--image-size", "64", "--quiet", "--workers", "1"],
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)
        while not (out / LOCK_FILE).exists() and first.poll() is None:
            time.sleep(0.05)
        second = subprocess.run(
            [*command, *SMALL, "--seed", "7", "--force"], capture_output=True, text=True
        )
        _, first_error = first.communicate(timeout=300)
        assert first.returncode == 0, first_error
        assert second.returncode == 2 and "another export" in second.stderr
        assert ExportRecord.read(out).parameters["seed"] == 42
        assert verify_manifest(out).ok

    def test_a_killed_holder_leaves_no_stale_lock(self, tmp_path):
        out = tmp_path / "out"
        out.mkdir()
        code = f"from generator.folder_lock import folder_lock\nwith folder_lock({str(out)!r}):\n"
        code += "    print('locked', flush=True)\n    import time; time.sleep(60)\n"
        holder = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPOSITORY, stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout.readline().strip() == "locked"
        holder.kill()
        holder.communicate()
        assert main(["--out", str(out), *SMALL]) == 0


class TestLinks:
    """Class 4: a symlinked ``images/`` was dropped from the manifest on a rerun."""

    def test_verify_reports_the_link(self, reference, tmp_path, capsys):
        copy = copy_of(reference, tmp_path)
        shutil.move(copy / "images", tmp_path / "real-images")
        (copy / "images").symlink_to(tmp_path / "real-images", target_is_directory=True)
        assert main(["--verify", str(copy), "--quiet"]) == 1
        assert "link: images" in capsys.readouterr().err


class TestSignals:
    """Class 6: Ctrl-C printed tracebacks; workers outlived a killed export."""

    def _start(self, out: Path, workers: int = 2) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                str(REPOSITORY / "generator" / "export.py"),
                "--out",
                str(out),
                "--num-patients",
                "400",
                "--image-size",
                "64",
                "--quiet",
                "--workers",
                str(workers),
            ],
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def _wait_for_work(self, out: Path, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (out / "images").is_dir() and any((out / "images").iterdir()):
                return
            time.sleep(0.05)
        raise AssertionError("the export never started writing")

    @pytest.mark.parametrize(("sent", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
    def test_interrupt_is_one_line_and_resumable(self, tmp_path, sent, status):
        out = tmp_path / "out"
        process = self._start(out)
        self._wait_for_work(out, process)
        process.send_signal(sent)
        _, error = process.communicate(timeout=120)
        assert process.returncode == status
        assert "Traceback" not in error and error.count("\n") == 1, error
        assert "rerun the same command to resume" in error
        assert children_of(process.pid) == []

    def test_workers_die_with_a_killed_export(self, tmp_path):
        out = tmp_path / "out"
        process = self._start(out)
        self._wait_for_work(out, process)
        workers = children_of(process.pid)
        assert workers, "no pool worker found"
        process.kill()
        process.communicate()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)]
        flags = ["--num-patients", "400", "--image-size", "64", "--quiet", "--workers", "2"]
        assert main(["--out", str(out), *flags]) == 0
        assert verify_manifest(out).ok


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux ``/proc``), zombies excepted."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid) and not fields["State"].startswith("Z"):
            found.append(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class TestFullDisksAndTemporaryFiles:
    """Class 7: a full TMPDIR gave five tracebacks; a full disk a message naming nothing."""

    def test_nothing_is_written_to_tmpdir(self, tmp_path, monkeypatch):
        missing = tmp_path / "no-such-tmp"
        monkeypatch.setenv("TMPDIR", str(missing))
        out = tmp_path / "out"
        result = subprocess.run(
            [
                sys.executable,
                str(REPOSITORY / "generator" / "export.py"),
                "--out",
                str(out),
                *SMALL,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": str(missing)},
        )
        assert result.returncode == 0, result.stderr
        assert not missing.exists()

    def test_short_npy_write_names_the_disk_and_the_file(self, tmp_path, monkeypatch, capsys):
        def short_write(handle, array, allow_pickle):
            handle.write(b"\x93NUMPY")
            raise OSError("4096 requested and 4064 written")

        monkeypatch.setattr(np, "save", short_write)
        monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL]) == 1
        error = capsys.readouterr().err
        assert "disk full writing" in error and "PAT_0001_MRI.npy" in error
        assert error.count("\n") == 1
        assert not list(out.rglob("*.partial"))


class TestWorkers:
    """Class 9: ``--workers 100`` started 100 processes for 13 chunks."""

    def test_capped_at_the_cpus_and_the_jobs(self, tmp_path, monkeypatch):
        sizes = []
        real_pool = concurrent.futures.ProcessPoolExecutor

        def recording_pool(max_workers, **kwargs):
            sizes.append(max_workers)
            return real_pool(max_workers=max_workers, **kwargs)

        futures = generator.engines.concurrent.futures
        monkeypatch.setattr(futures, "ProcessPoolExecutor", recording_pool)
        flags = [*SMALL[:-2], "--workers", "100"]
        assert main(["--out", str(tmp_path / "out"), *flags]) == 0
        assert sizes and max(sizes) <= min(len(os.sched_getaffinity(0)), 3)


class TestMessages:
    """Class 10: tracebacks for unreadable files, a wrong description of user files."""

    def test_unreadable_file_in_verify(self, reference, tmp_path, capsys, monkeypatch):
        copy = copy_of(reference, tmp_path)
        real = generator.manifest.sha256_file

        def unreadable(path):
            if Path(path).name == "labels.csv":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(generator.manifest, "sha256_file", unreadable)
        assert main(["--verify", str(copy), "--quiet"]) == 1
        assert "unreadable: labels.csv (Permission denied)" in capsys.readouterr().err

    def test_unreadable_kept_file_on_rerun(self, reference, tmp_path, capsys, monkeypatch):
        copy = copy_of(reference, tmp_path)

        def unreadable(path):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(generator.folder_ownership, "sha256_file", unreadable)
        assert main(["--out", str(copy), *SMALL]) == 1
        error = capsys.readouterr().err
        assert "Permission denied on" in error and error.count("\n") == 1
        assert export_files(copy) == export_files(reference)


class TestHubDownload:
    """Class 12: a folder as the Hub gives it did not verify (``.gitattributes``)."""

    def _downloaded(self, reference: Path, tmp_path: Path) -> Path:
        copy = copy_of(reference, tmp_path)
        for name in (RECORD_FILE, LOCK_FILE):  # not uploaded
            (copy / name).unlink()
        (copy / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
        (copy / ".cache" / "huggingface" / "download").mkdir(parents=True)
        (copy / ".cache" / "huggingface" / "download" / "labels.csv.metadata").write_text("x\n")
        return copy

    def test_verifies(self, reference, tmp_path):
        assert verify_manifest(self._downloaded(reference, tmp_path)).ok

    def test_export_resumes_it_from_its_manifest(self, reference, tmp_path):
        copy = self._downloaded(reference, tmp_path)
        listed = read_manifest(copy)
        (copy / "images" / "PAT_0004_US.npy").unlink()
        assert main(["--out", str(copy), *SMALL]) == 0
        assert read_manifest(copy) == listed
        digest = hashlib.sha256((copy / "images" / "PAT_0004_US.npy").read_bytes()).hexdigest()
        assert digest == listed["images/PAT_0004_US.npy"]
        assert (copy / ".gitattributes").exists() and (copy / MANIFEST_FILE).exists()
