"""The raw export command: files, determinism, resume, refusals, bad input."""

from __future__ import annotations

import csv
import errno
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import generator.shards
from generator import generate_patient
from generator.contract import LABEL_COLUMNS
from generator.export import main
from generator.layout import LOCK_FILE, RECORD_FILE
from generator.modalities import MODALITIES

SMALL = ["--num-patients", "10", "--image-size", "32", "--quiet", "--workers", "1"]


def run(out: Path, *extra: str) -> int:
    return main(["--out", str(out), *SMALL, *extra])


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every raw file (images and CSVs), keyed by relative path."""
    paths = sorted(folder.glob("images/*.npy")) + sorted(folder.glob("*.csv"))
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "dataset"
    assert run(out) == 0
    return out


class TestFolder:
    def test_labels_csv_exact_columns_and_rows(self, exported):
        with open(exported / "labels.csv", newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == LABEL_COLUMNS
        assert [row[0] for row in rows[1:]] == [f"PAT_{i:04d}" for i in range(1, 11)]
        assert [row[3] for row in rows[1:]] == ["train"] * 7 + ["val"] * 2 + ["test"]
        for _, stage, binary, _, age, sex in rows[1:]:
            assert binary == ("positive" if stage in ("F3", "F4") else "negative")
            assert 30 <= int(age) <= 85 and sex in ("M", "F")

    def test_metadata_csv_keyed_by_patient_id(self, exported):
        with open(exported / "metadata.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["patient_id"] for row in rows] == [f"PAT_{i:04d}" for i in range(1, 11)]
        assert all(float(row["liver_stiffness_kpa"]) > 0 for row in rows)

    def test_images_load_without_pickle_and_equal_the_generator(self, exported):
        assert len(list((exported / "images").glob("*.npy"))) == 30
        patient = generate_patient(2, image_size=32)
        for modality in MODALITIES:
            image = np.load(exported / "images" / f"PAT_0003_{modality}.npy", allow_pickle=False)
            assert image.dtype == np.float32 and image.shape == (32, 32)
            np.testing.assert_array_equal(image, patient.images[modality])

    def test_no_leftover_temporary_files(self, exported):
        hidden = sorted(p.relative_to(exported).as_posix() for p in exported.rglob(".*"))
        assert hidden == [LOCK_FILE, RECORD_FILE]  # the export's own bookkeeping only


class TestDeterminism:
    def test_two_exports_identical(self, exported, tmp_path):
        assert run(tmp_path / "again") == 0
        assert digests(tmp_path / "again") == digests(exported)

    def test_two_workers_identical_to_one(self, exported, tmp_path):
        assert main(["--out", str(tmp_path / "w2"), *SMALL, "--workers", "2"]) == 0
        assert digests(tmp_path / "w2") == digests(exported)

    def test_other_seed_other_data(self, exported, tmp_path):
        assert run(tmp_path / "s7", "--seed", "7") == 0
        assert digests(tmp_path / "s7") != digests(exported)

    def test_patient_independent_of_patient_count(self, exported, tmp_path):
        out = tmp_path / "twenty"
        assert main(["--out", str(out), *SMALL, "--num-patients", "20"]) == 0
        for name, digest in digests(exported).items():
            if name.startswith("images/"):
                assert digests(out)[name] == digest, name


class TestBadInput:
    @pytest.mark.parametrize(
        ("flags", "message"),
        [
            (["--num-patients", "0"], "num_patients=0"),
            (["--image-size", "31"], "image_size=31"),
            (["--image-size", "1025"], "image_size=1025"),
            (["--seed", "-1"], "seed=-1"),
            (["--workers", "0"], "--workers must be >= 1"),
        ],
    )
    def test_bad_values_one_line_nonzero_nothing_written(self, tmp_path, capsys, flags, message):
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL, *flags]) != 0
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1
        assert not out.exists()

    def test_non_integer_is_an_argparse_error(self, tmp_path, capsys):
        with pytest.raises(SystemExit) as exit_info:
            main(["--out", str(tmp_path / "out"), "--num-patients", "many"])
        assert exit_info.value.code == 2
        assert "invalid int value: 'many'" in capsys.readouterr().err

    def test_out_is_a_file(self, tmp_path, capsys):
        target = tmp_path / "file.txt"
        target.write_text("keep me")
        assert run(target) != 0
        assert "is not a folder" in capsys.readouterr().err
        assert target.read_text() == "keep me"

    def test_out_below_a_file(self, tmp_path, capsys):
        (tmp_path / "file.txt").write_text("")
        assert run(tmp_path / "file.txt" / "sub") != 0
        assert "is not a folder" in capsys.readouterr().err

    def test_out_not_writable(self, tmp_path, capsys, monkeypatch):
        monkeypatch.setattr(os, "access", lambda path, mode: False)
        assert run(tmp_path / "out") != 0
        assert "is not writable" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()

    def test_help(self, capsys):
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"])
        assert exit_info.value.code == 0
        help_text = capsys.readouterr().out
        for flag in ("--out", "--num-patients", "--image-size", "--seed", "--workers", "--quiet"):
            assert flag in help_text
        assert "example:" in help_text


class TestParameterMixing:
    def test_other_parameters_refused_without_force(self, exported, tmp_path, capsys):
        before = digests(exported)
        assert main(["--out", str(exported), *SMALL, "--num-patients", "12"]) != 0
        assert "other parameters" in capsys.readouterr().err
        assert digests(exported) == before

    def test_force_replaces_the_export(self, tmp_path):
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL, "--num-patients", "12"]) == 0
        assert run(out, "--force") == 0
        assert len(list((out / "images").glob("*.npy"))) == 30
        assert digests(out) == digests_of_fresh(tmp_path / "fresh")

    def test_non_export_folder_refused(self, tmp_path, capsys):
        (tmp_path / "notes.txt").write_text("mine")
        assert run(tmp_path) != 0
        assert "that no export wrote (notes.txt)" in capsys.readouterr().err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def digests_of_fresh(out: Path) -> dict[str, str]:
    assert run(out) == 0
    return digests(out)


class TestInterruptions:
    def test_interrupted_export_resumes_without_redoing_patients(
        self, tmp_path, monkeypatch, capsys
    ):
        """Chunks (train 0-6, val 7-8, test 9) are the unit of work: the finished train
        chunk is kept, the interrupted val chunk is redone."""
        out = tmp_path / "out"
        real_generate = generator.shards.generate_patient
        calls = []

        def interrupt_in_second_chunk(index, **kwargs):
            if len(calls) == 8:
                raise KeyboardInterrupt
            calls.append(index)
            return real_generate(index, **kwargs)

        monkeypatch.setattr(generator.shards, "generate_patient", interrupt_in_second_chunk)
        assert run(out) == 130
        assert "rerun the same command to resume" in capsys.readouterr().err
        assert len(list((out / "images").glob("*.npy"))) == 3 * 7
        assert not (out / "labels.csv").exists()
        assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]

        calls.clear()

        def count_calls(index, **kwargs):
            calls.append(index)
            return real_generate(index, **kwargs)

        monkeypatch.setattr(generator.shards, "generate_patient", count_calls)
        assert run(out) == 0
        assert calls == [7, 8, 9]
        assert digests(out) == digests_of_fresh(tmp_path / "fresh")

    def test_killed_write_leftover_is_swept(self, tmp_path):
        out = tmp_path / "out"
        assert run(out) == 0
        (out / "images" / "PAT_0001_MRI.npy").unlink()
        (out / "images" / ".PAT_0001_MRI.npy.4242.partial").write_bytes(b"\x93NUMPY half")
        assert run(out) == 0
        assert not list(out.rglob("*.partial"))
        assert digests(out) == digests_of_fresh(tmp_path / "fresh")

    def test_disk_full_clear_message_and_no_half_file(self, tmp_path, monkeypatch, capsys):
        out = tmp_path / "out"

        def full_disk(handle, array, allow_pickle):
            handle.write(b"\x93NUMPY partial")
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(np, "save", full_disk)
        assert run(out) == 1
        assert "disk full" in capsys.readouterr().err
        assert not list((out / "images").iterdir())


@pytest.mark.parametrize(
    ("signal_name", "status", "word"),
    [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")],
)
def test_a_signal_is_named_even_when_a_library_rewraps_its_exception(
    tmp_path, monkeypatch, capsys, signal_name, status, word
):
    """Ray's ``ray.wait`` turns an exception raised by a signal handler into a plain
    ``KeyboardInterrupt``; SIGTERM must still exit 143 and say "terminated"."""
    import signal

    import generator.export

    def export_inside_ray_wait(*args, **kwargs):
        try:
            os.kill(os.getpid(), getattr(signal, signal_name))
        except KeyboardInterrupt:  # what Ray raises instead of the handler's exception
            raise KeyboardInterrupt from None

    monkeypatch.setattr(generator.export, "export", export_inside_ray_wait)
    assert main(["--out", str(tmp_path / "out"), "--num-patients", "2", "--quiet"]) == status
    assert capsys.readouterr().err.strip() == f"export.py: {word}; rerun the same command to resume"
