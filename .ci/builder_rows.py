"""Build both configs of the builder script with the installed ``datasets`` and digest the rows.

``datasets`` < 4: ``load_dataset(SCRIPT, config, trust_remote_code=True, num_patients=...,
image_size=...)`` (the legacy route); ``datasets`` >= 4: the builder class from SCRIPT,
``download_and_prepare()`` then ``as_dataset()``. Every row must equal
``generator.generate_patient`` and ``num_patients=0`` must raise ``ValueError``, else the
exit status is 1. A JSON digest of all rows goes to ``--out`` so that two ``datasets``
versions can be compared byte for byte (``cmp``). Used by ``.ci/run``; run it from any
working directory once the project is installed.

example: python .ci/builder_rows.py "$PWD/open_multimodal_liver_cirrhosis.py" --out rows.json
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import datasets
import numpy as np

from generator import generate_patient, patient_id
from generator.contract import DEFAULT_SEED
from generator.encoding import quantize_to_uint8
from generator.modalities import MODALITY_COLUMNS


def digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-order bytes."""
    array = np.ascontiguousarray(array)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()


def build(script: Path, config_name: str, num_patients: int, image_size: int, cache: str):
    """The ``DatasetDict`` of ``config_name`` and the script's module."""
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    parameters = {"num_patients": num_patients, "image_size": image_size, "cache_dir": cache}
    if int(datasets.__version__.split(".")[0]) < 4:
        dataset = datasets.load_dataset(
            str(script), config_name, trust_remote_code=True, **parameters
        )
    else:
        builder = module.OpenMultimodalLiverCirrhosis(config_name=config_name, **parameters)
        builder.download_and_prepare()
        dataset = builder.as_dataset()
    return dataset, module


def check_refusal(script: Path, cache: str) -> str | None:
    """A bad keyword argument for a predefined config must raise ``ValueError`` naming it."""
    try:
        build(script, "float32", 0, 64, cache)
    except ValueError as error:
        return None if "num_patients=0" in str(error) else f"unclear refusal: {error}"
    return "num_patients=0 was accepted"


def row_digest(row: dict, features: datasets.Features, image_format: str) -> dict:
    """Labels by name and a digest of every image and label map of one row."""
    out = {
        "patient_id": row["patient_id"],
        "fibrosis_stage": features["fibrosis_stage"].int2str(row["fibrosis_stage"]),
        "binary_label": features["binary_label"].int2str(row["binary_label"]),
        "age": int(row["age"]),
        "sex": features["sex"].int2str(row["sex"]),
        "liver_stiffness_kpa": float(row["liver_stiffness_kpa"]).hex(),
    }
    for column in MODALITY_COLUMNS.values():
        for name in (column, f"{column}_label_map"):
            value = row[name]
            if image_format == "png":
                if value.mode != "L" or value.format != "PNG":
                    raise SystemExit(
                        f"{name}: expected a mode L PNG, got {value.mode} {value.format}"
                    )
                array = np.asarray(value)
            else:
                dtype = np.float32 if name == column else np.uint8
                array = np.asarray(value, dtype=dtype)
            out[name] = digest(array)
    return out


def expected_digest(index: int, num_patients: int, image_size: int, module, image_format: str):
    """What ``row_digest`` must give for patient ``index``, straight from the generator."""
    patient = generate_patient(index, seed=DEFAULT_SEED, image_size=image_size)
    labels = patient.labels
    out = {
        "patient_id": patient_id(index, num_patients),
        "fibrosis_stage": labels.fibrosis_stage,
        "binary_label": labels.binary_label,
        "age": labels.age,
        "sex": labels.sex,
        "liver_stiffness_kpa": float(np.float32(labels.liver_stiffness_kpa)).hex(),
    }
    for modality, column in MODALITY_COLUMNS.items():
        image = patient.images[modality]
        out[column] = digest(quantize_to_uint8(image) if image_format == "png" else image)
        out[f"{column}_label_map"] = digest(patient.label_maps[modality])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path, help="absolute path of the builder script")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the row digests")
    parser.add_argument("--num-patients", type=int, default=20, help="patients (default: 20)")
    parser.add_argument("--image-size", type=int, default=64, help="image side (default: 64)")
    args = parser.parse_args(argv)

    result, failures = {}, []
    with tempfile.TemporaryDirectory() as cache:
        for config_name in ("default", "float32"):
            dataset, module = build(
                args.script.resolve(), config_name, args.num_patients, args.image_size, cache
            )
            image_format = module.IMAGE_FORMATS[config_name]
            for split_name, split in dataset.items():
                rows = [row_digest(row, split.features, image_format) for row in split]
                result[f"{config_name}/{split_name}"] = rows
                for row in rows:
                    index = int(row["patient_id"][4:]) - 1
                    expected = expected_digest(
                        index, args.num_patients, args.image_size, module, image_format
                    )
                    if row != expected:
                        failures.append(f"{config_name}/{split_name}/{row['patient_id']}")
            ids = [
                row["patient_id"]
                for key, rows in result.items()
                for row in rows
                if key.startswith(f"{config_name}/")
            ]
            if sorted(ids) != [patient_id(i, args.num_patients) for i in range(args.num_patients)]:
                failures.append(f"{config_name}: patients missing or repeated across splits")
        refusal = check_refusal(args.script.resolve(), cache)
        if refusal:
            failures.append(refusal)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    sizes = {key: len(rows) for key, rows in result.items()}
    print(f"datasets {datasets.__version__}: {sizes}")
    if failures:
        print("rows that differ from the generator: " + ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
