"""Croissant metadata (``croissant.json``): the export folder described for ML tools.

`Croissant <http://mlcommons.org/croissant/1.1>`_ (JSON-LD on schema.org) with its
Responsible-AI vocabulary (``rai:``). It is read from the folder it describes, so it
matches the files on disk:

- distribution: ``labels.csv`` and every Parquet file under ``data/<config>/``, each
  with its SHA-256, and one file set per config (``data/<config>/*.parquet``) that
  the config's records are read from;
- record sets: ``splits`` (train, validation, test), one per Parquet config (its
  columns, typed from the ``datasets`` features in the Parquet schema, plus the split
  read from each file's name) and ``labels`` (the columns of ``labels.csv``);
- the dataset's name, description, licence (CC BY 4.0), version (the generator's),
  citation (the card's) and the responsible-AI statements: synthetic data, not for
  clinical use.

``mlcroissant.Dataset(jsonld=folder / "croissant.json")`` validates it and reads its
records.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from pathlib import Path

import pyarrow.parquet as pq

from generator.card import CARD_SOURCE, fill_placeholders
from generator.contract import (
    AGE_MAX,
    AGE_MIN,
    DATASET_NAME,
    GENERATOR_VERSION,
    SPLIT_FRACTIONS,
    SPLITS,
    GenerationParameters,
)
from generator.files import write_text
from generator.label_ids import LABEL_NAMES
from generator.layout import CROISSANT_FILE
from generator.lazy_import import lazy_module
from generator.manifest import sha256_file
from generator.modalities import MODALITY_COLUMNS, MODALITY_TITLES
from generator.parquet_export import DATA_DIR, SHARD_NAME
from generator.raw import LABELS_FILE

datasets = lazy_module("datasets")

CONFORMS_TO = ("http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0")
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
#: The Croissant 1.1 JSON-LD context (as ``mlcroissant`` writes it), with ``rai:``.
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
#: Responsible-AI statements (Croissant RAI 1.0).
RAI = {
    "rai:dataCollection": (
        "Synthetic: every record is rendered by the project's open-source generator "
        "(the generator/ package) from (seed, patient index, image size, generator "
        "version). No data was collected from any person."
    ),
    "rai:dataCollectionType": "Synthetic data generation (software)",
    "rai:dataCollectionRawData": (
        "None: the images are rendered from a parametric model of the anatomy and of "
        "each modality's appearance, not derived from scans."
    ),
    "rai:dataAnnotationProtocol": (
        "No annotation: the fibrosis stage and liver stiffness are sampled first (stage "
        "prevalence of Singh et al. 2015, stiffness by stage of Takeda et al. 2006), the "
        "images are rendered from them, and the label maps are the rasterised anatomy."
    ),
    "rai:machineAnnotationTools": f"{DATASET_NAME} generator {GENERATOR_VERSION}",
    "rai:dataPreprocessingProtocol": (
        "The 'float32' config holds the images as generated; the 'default' config holds "
        "them as 8-bit PNG, q = floor(255 x + 0.5)."
    ),
    "rai:dataUseCases": (
        "Benchmarking and teaching: multi-modal fusion, data loaders, pre-processing "
        "pipelines, segmentation from the label maps. Not for clinical use: it must not "
        "be used to diagnose, stage or treat anyone, nor to validate a clinical tool."
    ),
    "rai:dataLimitations": (
        "Synthetic images of a parametric model (tissue look-up tables plus noise), not "
        "simulated scanner physics; one 2-D axial slice per patient; where the published "
        "seed's trends and radiology differ (MRI nodules, unenhanced CT liver density) "
        "the seed's trends are kept. Results on it are no clinical evidence."
    ),
    "rai:dataBiases": (
        "Stage prevalence follows one MR elastography cohort; age N(60, 10) within "
        "30-85; sexes balanced; no steatosis, no other liver disease, one body habitus "
        "model."
    ),
    "rai:personalSensitiveInformation": (
        "None: the patients are synthetic; no person's data, image or identifier."
    ),
    "rai:dataSocialImpact": (
        "Open, privacy-free data for method development; the risk is mistaking results "
        "on synthetic data for clinical performance."
    ),
    "rai:dataReleaseMaintenancePlan": (
        "Every change of generated bytes is a new generator version with a release note "
        "in the dataset card; any version regenerates from its code and parameters."
    ),
}
#: The split names of the Parquet files and their Croissant split types.
SPLIT_TYPES = {
    "train": "cr:TrainingSplit",
    "validation": "cr:ValidationSplit",
    "test": "cr:TestSplit",
}
#: Descriptions of the tabular columns (Parquet and ``labels.csv``).
COLUMN_DESCRIPTIONS = {
    "patient_id": "Patient id (PAT_0001, ...), unique in the dataset.",
    "fibrosis_stage": "METAVIR fibrosis stage, F0 to F4.",
    "binary_label": "positive for advanced fibrosis or cirrhosis (F3-F4), else negative.",
    "split": f"Split in labels.csv: {', '.join(SPLITS)} "
    f"({' / '.join(f'{round(100 * f)}' for f in SPLIT_FRACTIONS)} % by index).",
    "age": f"Age, years ({AGE_MIN}-{AGE_MAX}).",
    "sex": "Sex, M or F.",
    "liver_stiffness_kpa": "Latent liver stiffness (transient elastography scale), kPa.",
}
#: Croissant data types of the ``labels.csv`` columns.
LABEL_TYPES = {
    "patient_id": "sc:Text",
    "fibrosis_stage": "sc:Text",
    "binary_label": "sc:Text",
    "split": "sc:Text",
    "age": "sc:Integer",
    "sex": "sc:Text",
}
#: Croissant data types of the ``datasets`` value dtypes in the Parquet.
VALUE_TYPES = {
    "string": "sc:Text",
    "int32": "cr:Int32",
    "int64": "cr:Int64",
    "uint8": "cr:UInt8",
    "float32": "cr:Float32",
    "float64": "cr:Float64",
}
_IMAGE_COLUMNS = {column: modality for modality, column in MODALITY_COLUMNS.items()}
_LABEL_MAP_COLUMNS = {
    f"{column}_label_map": modality for modality, column in MODALITY_COLUMNS.items()
}


def croissant_metadata(
    folder: Path, parameters: GenerationParameters, *, digests: Mapping[str, str] | None = None
) -> dict:
    """The Croissant JSON-LD of the export in ``folder`` (made with ``parameters``).

    Reads ``labels.csv`` and the Parquet files under ``data/<config>/`` (their
    SHA-256 and schemas); ``digests`` (relative path -> hex SHA-256, the export's
    record) gives the SHA-256 of the files it lists instead. Raise ``ValueError`` if
    there is no Parquet, a Parquet name is not ``<split>-NNNNN-of-NNNNN.parquet`` or a
    column is not known here.
    """
    folder = Path(folder)
    digests = digests or {}
    configs = _parquet_files(folder)
    if not configs:
        raise ValueError(f"no Parquet files in {folder / DATA_DIR}: Croissant needs the data")
    distribution = [_file_object(folder, LABELS_FILE, "text/csv", digests)]
    record_sets = [_splits_record_set(configs)]
    for config, files in configs.items():
        distribution += [_file_object(folder, f, "application/x-parquet", digests) for f in files]
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": f"parquet-{config}",
                "name": f"parquet-{config}",
                "description": f"The Parquet files of the {config!r} config.",
                "encodingFormat": "application/x-parquet",
                "includes": f"{DATA_DIR}/{config}/*.parquet",
            }
        )
        record_sets.append(_config_record_set(folder, config, files, parameters.image_size))
    record_sets.append(_labels_record_set(folder))
    size = parameters.image_size
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": list(CONFORMS_TO),
        "name": DATASET_NAME,
        "description": (
            f"A fully synthetic dataset of {parameters.num_patients} patients, each with a "
            f"T2-weighted MRI, a CT and an ultrasound image of the liver ({size} x {size}), "
            "their label maps, a METAVIR fibrosis stage (F0-F4), a binary label (F3-F4 "
            "positive), age, sex and a latent liver stiffness. Generated with seed "
            f"{parameters.seed} by generator version {GENERATOR_VERSION}, which reproduces "
            "every byte. Not for clinical use."
        ),
        "license": LICENSE_URL,
        "version": GENERATOR_VERSION,
        "citeAs": _citation(),
        "keywords": ["synthetic", "medical imaging", "liver fibrosis", "MRI", "CT", "ultrasound"],
        "isLiveDataset": False,
        **RAI,
        "distribution": distribution,
        "recordSet": record_sets,
    }


def write_croissant(
    folder: Path, parameters: GenerationParameters, *, digests: Mapping[str, str] | None = None
) -> Path:
    """Write ``folder/croissant.json`` atomically (``digests``: see ``croissant_metadata``);
    return its path."""
    path = Path(folder) / CROISSANT_FILE
    metadata = croissant_metadata(folder, parameters, digests=digests)
    text = json.dumps(metadata, indent=2, ensure_ascii=False)
    write_text(path, text + "\n")
    return path


def _citation() -> str:
    """The BibTeX of the dataset card's "Citation" section, for this generator version."""
    match = re.search(r"^## Citation\n+```bibtex\n(.*?)```", CARD_SOURCE.read_text(), re.M | re.S)
    if match is None:
        raise ValueError(f"{CARD_SOURCE} has no '## Citation' section with a bibtex block")
    return fill_placeholders(match[1], {"generator_version": GENERATOR_VERSION})


def _parquet_files(folder: Path) -> dict[str, list[str]]:
    """Relative paths of the Parquet files of every config on disk, by config (sorted)."""
    configs = {}
    data = folder / DATA_DIR
    for config_dir in sorted(data.iterdir()) if data.is_dir() else ():
        if not config_dir.is_dir() or config_dir.name.startswith("."):
            continue
        files = sorted(path.name for path in config_dir.glob("*.parquet"))
        for name in files:
            match = SHARD_NAME.match(name)
            if match is None or match["split"] not in SPLIT_TYPES:
                raise ValueError(f"unexpected Parquet file {config_dir / name}")
        if files:
            configs[config_dir.name] = [f"{DATA_DIR}/{config_dir.name}/{name}" for name in files]
    return configs


def _file_object(folder: Path, relative: str, encoding: str, digests: Mapping[str, str]) -> dict:
    path = folder / relative
    return {
        "@type": "cr:FileObject",
        "@id": relative,
        "name": relative,
        "contentUrl": relative,
        "contentSize": f"{path.stat().st_size} B",
        "encodingFormat": encoding,
        "sha256": digests.get(relative) or sha256_file(path),
    }


def _field(record_set: str, name: str, data_type, description: str, source: dict) -> dict:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{name}",
        "name": name,
        "description": description,
        "dataType": data_type,
        "source": source,
    }


def _splits_record_set(configs: dict[str, list[str]]) -> dict:
    """The splits that some config has, as a ``cr:Split`` record set."""
    present = {SHARD_NAME.match(Path(f).name)["split"] for files in configs.values() for f in files}
    return {
        "@type": "cr:RecordSet",
        "@id": "splits",
        "name": "splits",
        "description": "The Parquet splits (labels.csv calls validation 'val').",
        "dataType": "cr:Split",
        "key": {"@id": "splits/name"},
        "field": [
            {"@type": "cr:Field", "@id": "splits/name", "name": "name", "dataType": "sc:Text"},
            {"@type": "cr:Field", "@id": "splits/url", "name": "url", "dataType": "sc:URL"},
        ],
        "data": [
            {"splits/name": split, "splits/url": split_type}
            for split, split_type in SPLIT_TYPES.items()
            if split in present
        ],
    }


def _config_record_set(folder: Path, config: str, files: list[str], image_size: int) -> dict:
    """The record set of one Parquet config: its columns, typed from its features."""
    features = datasets.Features.from_arrow_schema(pq.read_schema(folder / files[0]))
    file_set = {"fileSet": {"@id": f"parquet-{config}"}}
    split_regex = rf"^.*{DATA_DIR}/{re.escape(config)}/([a-z]+)-\d{{5}}-of-\d{{5}}\.parquet$"
    split = _field(
        config,
        "split",
        "sc:Text",
        "Split of the record, from its Parquet file's name.",
        {**file_set, "extract": {"fileProperty": "fullpath"}, "transform": {"regex": split_regex}},
    )
    # No ``references`` to ``splits/name``: mlcroissant 1.1 would apply the regex again
    # to the joined value and warn for every record.
    fields = [split]
    for column, feature in features.items():
        data_type, description = _describe(column, feature)
        field = _field(
            config, column, data_type, description, {**file_set, "extract": {"column": column}}
        )
        if isinstance(feature, datasets.Image):
            field["source"]["transform"] = {"jsonPath": "bytes"}
        elif isinstance(feature, datasets.Array2D):
            field["isArray"], field["arrayShape"] = True, ",".join(map(str, feature.shape))
        fields.append(field)
    return {
        "@type": "cr:RecordSet",
        "@id": config,
        "name": config,
        "description": f"One record per patient, from the {config!r} config's Parquet files "
        f"({image_size} x {image_size} images).",
        "key": {"@id": f"{config}/patient_id"},
        "field": fields,
    }


def _labels_record_set(folder: Path) -> dict:
    """The record set of ``labels.csv``: its header's columns."""
    with open(folder / LABELS_FILE, newline="") as handle:
        header = next(csv.reader(handle))
    unknown = [column for column in header if column not in LABEL_TYPES]
    if unknown:
        raise ValueError(f"{LABELS_FILE} has columns unknown to Croissant: {unknown}")
    source = {"fileObject": {"@id": LABELS_FILE}}
    return {
        "@type": "cr:RecordSet",
        "@id": "labels",
        "name": "labels",
        "description": f"{LABELS_FILE}: one row per patient.",
        "key": {"@id": "labels/patient_id"},
        "field": [
            _field(
                "labels",
                column,
                LABEL_TYPES[column],
                COLUMN_DESCRIPTIONS[column],
                {**source, "extract": {"column": column}},
            )
            for column in header
        ],
    }


def _describe(column: str, feature) -> tuple[str | list[str], str]:
    """The Croissant data type and the description of a Parquet column."""
    modality = _IMAGE_COLUMNS.get(column) or _LABEL_MAP_COLUMNS.get(column)
    if modality is not None:
        is_label_map = column in _LABEL_MAP_COLUMNS
        what = "label map" if is_label_map else "image"
        if isinstance(feature, datasets.Image):
            data_type = (
                ["sc:ImageObject", "cr:SegmentationMask"] if is_label_map else "sc:ImageObject"
            )
            stored = "8-bit grayscale PNG"
        else:
            data_type, stored = _value_type(feature.dtype), f"{feature.dtype} array"
        if is_label_map:
            ids = ", ".join(f"{i} {name}" for i, name in LABEL_NAMES.items())
            content = f"label ids: {ids}"
        elif isinstance(feature, datasets.Image):
            content = "grey level q = floor(255 x + 0.5) of the image x in [0, 1]"
        else:
            content = "values in [0, 1]"
        return data_type, f"{MODALITY_TITLES[modality]} {what}, {stored}; {content}."
    if column not in COLUMN_DESCRIPTIONS:
        raise ValueError(f"column {column!r} has no description for Croissant")
    if isinstance(feature, datasets.ClassLabel):
        names = ", ".join(f"{i} {name}" for i, name in enumerate(feature.names))
        return "sc:Integer", f"{COLUMN_DESCRIPTIONS[column]} Class index: {names}."
    return _value_type(feature.dtype), COLUMN_DESCRIPTIONS[column]


def _value_type(dtype: str) -> str:
    if dtype not in VALUE_TYPES:
        raise ValueError(f"no Croissant data type for the dtype {dtype!r}")
    return VALUE_TYPES[dtype]
