"""The export folder as a Hub dataset repository: Parquet, card, sample grid, manifest.

One small export (20 patients, 64 x 64) is made once per module and read the ways users
read it: ``load_dataset(folder)`` on the installed ``datasets``, the card's YAML with
``huggingface_hub``, the Parquet cells with Pillow, ``sha256sum -c``. No network.
"""

from __future__ import annotations

import collections
import csv
import io
import os
import re
import shutil
import subprocess

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json

import datasets
import huggingface_hub
import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard
from PIL import Image

import generator.export
import generator.parquet_export
import generator.shards
from generator.card import (
    BASELINE_SOURCES,
    BaselineSource,
    CardError,
    baselines_markdown,
    fill_placeholders,
    render_card,
    size_category,
)
from generator.contract import BUILDER_SPLIT_NAMES, DATASET_NAME, STAGES, GenerationParameters
from generator.encoding import quantize_to_uint8 as quantize
from generator.export import main
from generator.layout import LOCK_FILE, RECORD_FILE
from generator.manifest import MANIFEST_FILE, read_manifest, verify_manifest
from generator.modalities import MODALITY_COLUMNS
from generator.parquet_export import (
    MAX_ROW_GROUP_BYTES,
    MAX_SHARD_BYTES,
    ROW_GROUP_TARGET_BYTES,
    row_bytes_bound,
    rows_per_file,
    rows_per_group,
)
from generator.rows import CONFIG_NAMES

NUM_PATIENTS, SIZE = 20, 64
SMALL = ["--num-patients", str(NUM_PATIENTS), "--image-size", str(SIZE), "--quiet"]
SMALL += ["--workers", "1"]
TAGS = {"medical", "synthetic", "liver", "cirrhosis", "mri", "ct", "ultrasound", "multimodal"}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test reaches the network, whatever the environment says."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / DATASET_NAME
    assert main(["--out", str(out), *SMALL]) == 0
    return out


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf-cache"))


@pytest.fixture(scope="module")
def labels(folder):
    with open(folder / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def copy_of(folder, tmp_path):
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


class TestLoadDataset:
    def test_default_config_splits_features_images(self, folder, labels, cache_dir):
        loaded = datasets.load_dataset(str(folder), cache_dir=cache_dir)
        assert set(loaded) == {"train", "validation", "test"}
        for split, name in BUILDER_SPLIT_NAMES.items():
            ids = [row["patient_id"] for row in labels if row["split"] == split]
            assert loaded[name]["patient_id"] == ids
        features = loaded["train"].features
        assert features["fibrosis_stage"] == datasets.ClassLabel(names=list(STAGES))
        assert features["binary_label"] == datasets.ClassLabel(names=["negative", "positive"])
        assert features["sex"] == datasets.ClassLabel(names=["M", "F"])
        row = loaded["test"][0]
        assert features["fibrosis_stage"].int2str(row["fibrosis_stage"]) == next(
            r["fibrosis_stage"] for r in labels if r["patient_id"] == row["patient_id"]
        )
        for column in MODALITY_COLUMNS.values():
            assert isinstance(features[column], datasets.Image)
            image = row[column]
            assert image.mode == "L" and image.size == (SIZE, SIZE)

    def test_default_images_are_the_quantised_npy(self, folder, cache_dir):
        loaded = datasets.load_dataset(str(folder), split="validation", cache_dir=cache_dir)
        for row in loaded:
            for suffix, column in MODALITY_COLUMNS.items():
                raw = np.load(folder / "images" / f"{row['patient_id']}_{suffix}.npy")
                np.testing.assert_array_equal(np.asarray(row[column]), quantize(raw))

    def test_float32_config_equals_npy_files(self, folder, cache_dir):
        loaded = datasets.load_dataset(str(folder), "float32", cache_dir=cache_dir)
        assert set(loaded) == {"train", "validation", "test"}
        count = 0
        for split in loaded.values():
            for row in split.with_format("numpy"):
                for suffix, column in MODALITY_COLUMNS.items():
                    raw = np.load(folder / "images" / f"{row['patient_id']}_{suffix}.npy")
                    assert row[column].dtype == np.float32
                    np.testing.assert_array_equal(row[column], raw)
                count += 1
        assert count == NUM_PATIENTS

    def test_streaming(self, folder, labels):
        stream = datasets.load_dataset(str(folder), split="train", streaming=True)
        rows = list(stream)
        assert [row["patient_id"] for row in rows] == [
            row["patient_id"] for row in labels if row["split"] == "train"
        ]
        assert rows[0]["mri"].mode == "L"
        arrays = datasets.load_dataset(str(folder), "float32", split="test", streaming=True)
        first = next(iter(arrays))
        raw = np.load(folder / "images" / f"{first['patient_id']}_US.npy")
        np.testing.assert_array_equal(np.asarray(first["ultrasound"], dtype=np.float32), raw)

    def test_no_loading_script_in_the_folder(self, folder):
        assert not (folder / f"{folder.name}.py").exists()
        assert not list(folder.rglob("*.py"))


class TestCard:
    def test_front_matter_fields(self, folder):
        card = DatasetCard.load(folder / "README.md")
        data = card.data
        assert data.pretty_name == "Open Multi-Modal Liver Cirrhosis Dataset"
        assert data.license == "cc-by-4.0"
        assert "image-classification" in data.task_categories
        assert set(data.tags) >= TAGS
        assert data.size_categories == ["n<1K"]
        configs = {entry["config_name"]: entry for entry in data.configs}
        assert set(configs) == {"default", "float32"}
        assert configs["default"].get("default") is True
        assert not configs["float32"].get("default")
        for name, entry in configs.items():
            paths = {item["split"]: item["path"] for item in entry["data_files"]}
            assert paths == {
                s: [f"data/{name}/{s}-00000-of-00001.parquet"]
                for s in ("train", "validation", "test")
            }

    def test_data_files_name_every_parquet_file_once(self, folder):
        card = DatasetCard.load(folder / "README.md")
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        named = [
            path
            for entry in card.data.configs
            for item in entry["data_files"]
            for path in item["path"]
        ]
        assert sorted(named) == sorted(path for path in files if path.startswith("data/"))
        assert all(path.endswith(".parquet") for path in named)

    def test_a_missing_parquet_file_is_named_when_loading(self, folder, tmp_path, cache_dir):
        copy = copy_of(folder, tmp_path)
        (copy / "data" / "default" / "test-00000-of-00001.parquet").unlink()
        with pytest.raises(FileNotFoundError, match=r"test-00000-of-00001\.parquet"):
            datasets.load_dataset(str(copy), cache_dir=cache_dir)

    def test_dataset_info_agrees_with_the_data(self, folder, cache_dir):
        infos = DatasetInfosDict.from_dataset_card_data(DatasetCard.load(folder / "README.md").data)
        assert set(infos) == {"default", "float32"}
        for config, info in infos.items():
            loaded = datasets.load_dataset(str(folder), config, cache_dir=cache_dir)
            assert info.features == loaded["train"].features
            assert {name: split.num_examples for name, split in info.splits.items()} == {
                name: len(split) for name, split in loaded.items()
            }
            for name, split in info.splits.items():
                files = sorted((folder / "data" / config).glob(f"{name}-*.parquet"))
                # The Arrow bytes of the rows as written; a read-back table lays out the nested
                # Array2D offsets otherwise, so the two agree within a few per cent.
                read_back = sum(pq.read_table(path).nbytes for path in files)
                assert split.num_bytes == pytest.approx(read_back, rel=0.05)

    def test_split_stage_table_matches_labels_csv(self, folder, labels):
        text = (folder / "README.md").read_text()
        table = {}
        for line in text.splitlines():
            match = re.match(r"^\| (train|validation|test) \(`(\w+)`\) \|(.*)\|$", line)
            if match:
                cells = [cell.strip() for cell in match[3].split("|")]
                table[match[2]] = [int(cell) for cell in cells[: len(STAGES) + 1]]
        counts = collections.Counter((row["split"], row["fibrosis_stage"]) for row in labels)
        assert set(table) == {"train", "val", "test"}
        for split, numbers in table.items():
            expected = [counts[(split, stage)] for stage in STAGES]
            assert numbers == [*expected, sum(expected)]

    def test_body_is_filled_in(self, folder, labels):
        text = (folder / "README.md").read_text()
        assert "{{" not in text and "}}" not in text
        assert "not for clinical use" in text.lower()
        assert f"{len(labels)} synthetic patients" in text
        for heading in ("## Overview", "## Dataset structure", "## Metadata", "## Citation"):
            assert heading in text
        assert "## Generation process" in text and "## Release notes" in text
        assert "](assets/sample_grid.png)" in text

    def test_sample_grid_picture(self, folder, labels):
        with Image.open(folder / "assets" / "sample_grid.png") as grid:
            assert grid.format == "PNG" and grid.mode == "L"
            assert grid.height > len(STAGES) * 128 and grid.width > 2 * 3 * 128
        first_f4 = next(row["patient_id"] for row in labels if row["fibrosis_stage"] == "F4")
        assert f"F4 {first_f4}" in (folder / "README.md").read_text()

    @pytest.mark.parametrize("source", BASELINE_SOURCES, ids=lambda s: s.table.name)
    def test_baselines_tables_from_their_scripts(self, folder, source):
        text = (folder / "README.md").read_text()
        table = source.table.read_text().strip()
        assert "## Baselines" in text and table in text
        assert "| modality | model |" in table

    def test_baselines_of_another_version_refused(self, tmp_path):
        results = tmp_path / "cnn_baselines.json"
        results.write_text(json.dumps({"generator_version": "0.0.1"}))
        stale = BaselineSource(BASELINE_SOURCES[1].table, results, "benchmarks/cnn_baseline.py")
        with pytest.raises(CardError, match=r"generator 0\.0\.1.*rerun `python benchmarks/cnn"):
            baselines_markdown([BASELINE_SOURCES[0], stale])

    def test_unknown_placeholder_refused(self):
        with pytest.raises(CardError, match="typo_field"):
            fill_placeholders("a {{typo_field}} b", {"num_patients": "3"})

    def test_card_needs_the_parquet(self, folder, tmp_path):
        copy = copy_of(folder, tmp_path)
        shutil.rmtree(copy / "data")
        source = "---\nlicense: cc-by-4.0\n---\n# x\n"
        with pytest.raises(CardError, match="no Parquet"):
            render_card(source, copy, GenerationParameters(image_size=64))

    @pytest.mark.parametrize(
        ("rows", "label"), [(1, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (20000, "10K<n<100K")]
    )
    def test_size_category(self, rows, label):
        assert size_category(rows) == label


class TestParquet:
    def test_default_images_are_8bit_png(self, folder):
        files = sorted((folder / "data" / "default").glob("*.parquet"))
        assert files
        cells = 0
        for path in files:
            table = pq.read_table(path)
            for column in MODALITY_COLUMNS.values():
                for cell in table.column(column).to_pylist():
                    data = cell["bytes"]
                    assert data.startswith(b"\x89PNG\r\n\x1a\n")  # not TIFF, not a path
                    image = Image.open(io.BytesIO(data))
                    assert image.format == "PNG" and image.mode == "L"
                    for fmt in ("JPEG", "PNG"):
                        image.save(io.BytesIO(), format=fmt)
                    cells += 1
        assert cells == 3 * NUM_PATIENTS

    def test_file_names_and_row_groups(self, folder):
        for config in ("default", "float32"):
            names = sorted(p.name for p in (folder / "data" / config).iterdir())
            assert names == [
                f"{split}-00000-of-00001.parquet" for split in ("test", "train", "validation")
            ]
            for path in (folder / "data" / config).iterdir():
                metadata = pq.ParquetFile(path).metadata
                for group in range(metadata.num_row_groups):
                    assert metadata.row_group(group).total_byte_size <= MAX_ROW_GROUP_BYTES

    def test_row_groups_and_files_follow_the_layout(self, folder, tmp_path, monkeypatch):
        """Files of ``rows_per_file`` rows and row groups of ``rows_per_group`` rows, in
        patient order, whatever the chunks."""
        monkeypatch.setattr(generator.parquet_export, "rows_per_file", lambda c, s: 6)
        monkeypatch.setattr(generator.parquet_export, "rows_per_group", lambda c, s: 4)
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL, "--formats", "parquet"]) == 0
        paths = sorted((out / "data" / "float32").glob("train-*.parquet"))
        assert [p.name for p in paths] == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
        ids = []
        for path in paths:
            parquet = pq.ParquetFile(path)
            sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
            assert sizes == ([4, 2] if len(ids) < 12 else [2])
            ids += parquet.read(columns=["patient_id"]).column(0).to_pylist()
        assert ids == [f"PAT_{i:04d}" for i in range(1, 15)]

    @pytest.mark.parametrize("config", CONFIG_NAMES)
    def test_row_size_bound_holds(self, folder, config):
        """Real rows stay below the bound the layout is computed from, so files stay within
        the Hub's 500 MB and row groups within 64 MB (the Hub's limit is 100 MB)."""
        bound = row_bytes_bound(config, SIZE)
        assert rows_per_group(config, SIZE) * bound <= ROW_GROUP_TARGET_BYTES
        assert rows_per_file(config, SIZE) * bound <= MAX_SHARD_BYTES
        for path in (folder / "data" / config).iterdir():
            metadata = pq.ParquetFile(path).metadata
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                assert row_group.total_byte_size <= row_group.num_rows * bound

    def test_deleted_parquet_file_is_written_again(self, folder, tmp_path):
        copy = copy_of(folder, tmp_path)
        deleted = copy / "data" / "default" / "test-00000-of-00001.parquet"
        deleted.unlink()
        assert main(["--out", str(copy), *SMALL]) == 0
        assert deleted.read_bytes() == (folder / deleted.relative_to(copy)).read_bytes()
        assert verify_manifest(copy).ok


class TestManifest:
    def test_sha256sum_check_passes(self, folder):
        if shutil.which("sha256sum") is None:
            pytest.skip("sha256sum not installed")
        result = subprocess.run(
            ["sha256sum", "--check", "--strict", MANIFEST_FILE],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_manifest_lists_every_file(self, folder):
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert set(read_manifest(folder)) == files - {MANIFEST_FILE, RECORD_FILE, LOCK_FILE}
        assert {"README.md", "labels.csv", "assets/sample_grid.png"} <= files
        assert {"assets/progression.png", "assets/anatomy.png"} <= files
        assert "images/PAT_0001_MRI.npy" in files
        assert "data/float32/train-00000-of-00001.parquet" in files

    def test_verify_command_ok(self, folder, capsys):
        assert main(["--verify", str(folder), "--quiet"]) == 0
        assert f"all {len(read_manifest(folder))} files match" in capsys.readouterr().out

    def test_corrupted_missing_extra_reported(self, folder, tmp_path, capsys):
        copy = copy_of(folder, tmp_path)
        npy = copy / "images" / "PAT_0002_CT.npy"
        data = npy.read_bytes()
        npy.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
        (copy / "data" / "default" / "train-00000-of-00001.parquet").unlink()
        (copy / "notes.txt").write_text("stray")
        assert main(["--verify", str(copy), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "corrupted: images/PAT_0002_CT.npy" in err
        assert "missing: data/default/train-00000-of-00001.parquet" in err
        assert "extra: notes.txt" in err
        assert "1 missing, 1 corrupted, 1 extra" in err

    def test_verify_without_manifest(self, folder, tmp_path, capsys):
        copy = copy_of(folder, tmp_path)
        (copy / MANIFEST_FILE).unlink()
        assert main(["--verify", str(copy), "--quiet"]) == 2
        assert "manifest-sha256.txt does not exist" in capsys.readouterr().err

    def test_interrupted_export_resumes_to_a_verified_folder(self, folder, tmp_path, monkeypatch):
        """Killed while assembling float32: the default config is kept, float32's parts
        are reused, and no patient is rendered again."""
        out = tmp_path / DATASET_NAME
        real_assemble = generator.export.assemble_file
        assembled = []

        def interrupt_in_float32(out_folder, parameters, job):
            if job.config == "float32":
                raise KeyboardInterrupt
            assembled.append(job.config)
            return real_assemble(out_folder, parameters, job)

        monkeypatch.setattr(generator.export, "assemble_file", interrupt_in_float32)
        assert main(["--out", str(out), *SMALL]) == 130
        assert not (out / MANIFEST_FILE).exists()
        assert assembled == ["default"] * 3  # one file per split
        assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]

        rendered = []
        real_generate = generator.shards.generate_patient

        def count(index, **kwargs):
            rendered.append(index)
            return real_generate(index, **kwargs)

        monkeypatch.setattr(generator.export, "assemble_file", real_assemble)
        monkeypatch.setattr(generator.shards, "generate_patient", count)
        assert main(["--out", str(out), *SMALL]) == 0
        assert rendered == []
        assert not (out / ".parts").exists()
        assert verify_manifest(out).ok
        assert (out / MANIFEST_FILE).read_text() == (folder / MANIFEST_FILE).read_text()

    def test_two_workers_write_the_same_folder(self, folder, tmp_path):
        out = tmp_path / DATASET_NAME
        assert main(["--out", str(out), *SMALL, "--workers", "2"]) == 0
        assert (out / MANIFEST_FILE).read_text() == (folder / MANIFEST_FILE).read_text()

    def test_force_replaces_every_part(self, tmp_path):
        out = tmp_path / "out"
        flags = ["--out", str(out), "--image-size", "32", "--quiet", "--workers", "1"]
        assert main([*flags, "--num-patients", "12"]) == 0
        assert main([*flags, "--num-patients", "7", "--force"]) == 0
        assert len(list((out / "images").glob("*.npy"))) == 21
        assert verify_manifest(out).ok
        loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
        assert sum(len(split) for split in loaded.values()) == 7


class TestFormats:
    def test_npy_only(self, tmp_path):
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL, "--formats", "npy"]) == 0
        assert not (out / "data").exists() and not (out / "README.md").exists()
        assert len(list((out / "images").glob("*.npy"))) == 3 * NUM_PATIENTS
        assert verify_manifest(out).ok

    def test_card_from_parquet_without_npy(self, folder, tmp_path):
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL, "--formats", "parquet,card"]) == 0
        assert not (out / "images").exists()
        assert verify_manifest(out).ok
        grid = (out / "assets" / "sample_grid.png").read_bytes()
        assert grid == (folder / "assets" / "sample_grid.png").read_bytes()

    def test_unknown_format_is_an_argparse_error(self, tmp_path, capsys):
        with pytest.raises(SystemExit) as exit_info:
            main(["--out", str(tmp_path / "out"), *SMALL, "--formats", "npy,tiff"])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert "unknown format 'tiff'" in error and error.count("\n") == 1

    def test_card_without_parquet_refused(self, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["--out", str(out), *SMALL, "--formats", "npy,card"]) == 2
        error = capsys.readouterr().err
        assert "'card' describes the Parquet" in error and error.count("\n") == 1
        assert not out.exists()
