"""Croissant metadata of an export folder: valid for mlcroissant, true to the files on disk."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from generator.contract import GENERATOR_VERSION, STAGES, GenerationParameters
from generator.croissant import CROISSANT_FILE, croissant_metadata, write_croissant
from generator.encoding import quantize_to_uint8
from generator.export import main
from generator.manifest import sha256_file

mlc = pytest.importorskip("mlcroissant")
# mlcroissant 1.1's own deprecation warnings: an rdflib ConjunctiveGraph (rdflib 7) and
# reset_index(inplace=True) when it reads Parquet (pandas 3).
pytestmark = [
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index"),
]

PARAMETERS = GenerationParameters(num_patients=12, image_size=32, seed=42)
#: mlcroissant warns about this recommended property only: an export holds no date (its
#: bytes would change with the day it was written).
ALLOWED_WARNING = "datePublished"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("croissant") / "dataset"
    size = ["--num-patients", "12", "--image-size", "32", "--seed", "42"]
    assert (
        main(["--out", str(out), *size, "--quiet", "--workers", "1", "--formats", "npy,parquet"])
        == 0
    )
    write_croissant(out, PARAMETERS)
    return out


@pytest.fixture(scope="module")
def dataset(folder):
    return mlc.Dataset(jsonld=folder / CROISSANT_FILE)


@pytest.fixture(scope="module")
def labels(folder):
    with open(folder / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class TestValidation:
    def test_mlcroissant_finds_no_error(self, dataset):
        issues = dataset.metadata.ctx.issues
        assert not issues.errors
        assert all(ALLOWED_WARNING in warning for warning in issues.warnings), issues.warnings

    def test_dataset_fields(self, folder):
        metadata = json.loads((folder / CROISSANT_FILE).read_text())
        assert metadata["license"] == "https://creativecommons.org/licenses/by/4.0/"
        assert metadata["version"] == GENERATOR_VERSION
        assert "http://mlcommons.org/croissant/RAI/1.0" in metadata["conformsTo"]
        assert metadata["citeAs"].startswith("@misc{") and GENERATOR_VERSION in metadata["citeAs"]
        assert "{{" not in metadata["citeAs"]
        assert "12 patients" in metadata["description"]
        assert "Not for clinical use" in metadata["description"]

    def test_responsible_ai_fields(self, folder):
        metadata = json.loads((folder / CROISSANT_FILE).read_text())
        assert metadata["rai:dataCollection"].startswith("Synthetic")
        assert metadata["rai:personalSensitiveInformation"].startswith("None")
        assert "Not for clinical use" in metadata["rai:dataUseCases"]
        for key in ("rai:dataLimitations", "rai:dataBiases", "rai:dataReleaseMaintenancePlan"):
            assert metadata[key]


class TestDistribution:
    def test_every_parquet_file_and_labels_csv_with_its_sha256(self, folder):
        metadata = json.loads((folder / CROISSANT_FILE).read_text())
        objects = {d["contentUrl"]: d for d in metadata["distribution"] if "contentUrl" in d}
        on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.glob("data/*/*.parquet"))
        assert sorted(objects) == sorted([*on_disk, "labels.csv"])
        for relative, entry in objects.items():
            assert entry["sha256"] == sha256_file(folder / relative)
            assert entry["contentSize"] == f"{(folder / relative).stat().st_size} B"

    def test_deterministic(self, folder):
        assert croissant_metadata(folder, PARAMETERS) == croissant_metadata(folder, PARAMETERS)
        before = (folder / CROISSANT_FILE).read_bytes()
        write_croissant(folder, PARAMETERS)
        assert (folder / CROISSANT_FILE).read_bytes() == before

    def test_no_parquet_is_refused(self, tmp_path):
        with pytest.raises(ValueError, match="no Parquet"):
            croissant_metadata(tmp_path, PARAMETERS)


class TestRecords:
    def test_labels_record_set_is_labels_csv(self, dataset, labels):
        records = [
            {key.split("/")[1]: text(value) for key, value in record.items()}
            for record in dataset.records(record_set="labels")
        ]
        assert records == labels

    def test_splits(self, dataset):
        records = list(dataset.records(record_set="splits"))
        assert [text(r["splits/name"]) for r in records] == ["train", "validation", "test"]

    def test_default_config_matches_labels_and_images(self, dataset, labels, folder):
        by_id = {row["patient_id"]: row for row in labels}
        records = list(dataset.records(record_set="default"))
        assert sorted(text(r["default/patient_id"]) for r in records) == sorted(by_id)
        split_names = {"train": "train", "validation": "val", "test": "test"}
        for record in records:
            row = by_id[text(record["default/patient_id"])]
            assert STAGES[record["default/fibrosis_stage"]] == row["fibrosis_stage"]
            assert split_names[text(record["default/split"])] == row["split"]
            assert int(record["default/age"]) == int(row["age"])
            image = np.load(folder / "images" / f"{row['patient_id']}_US.npy")
            np.testing.assert_array_equal(
                np.asarray(record["default/ultrasound"]), quantize_to_uint8(image)
            )

    def test_float32_config_is_the_npy_files(self, folder):
        """In a fresh process: with ``datasets`` imported, pandas cannot concatenate its
        Array2D extension arrays across files and mlcroissant fails; users of
        mlcroissant alone are not affected."""
        script = textwrap.dedent(
            f"""
            import sys, numpy as np, mlcroissant as mlc
            folder = {str(folder)!r}
            dataset = mlc.Dataset(jsonld=folder + "/croissant.json")
            count = 0
            for record in dataset.records(record_set="float32"):
                pid = record["float32/patient_id"].decode()
                for column, name in (("mri", "MRI"), ("ct", "CT"), ("ultrasound", "US")):
                    array = np.array(record["float32/" + column], dtype=np.float32)
                    expected = np.load(folder + "/images/" + pid + "_" + name + ".npy")
                    assert np.array_equal(array, expected), (pid, column)
                count += 1
            print(count)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == "12"
