"""Render ``dataset_card.md`` into the export folder's ``README.md`` (the Hub dataset card).

The source holds the hand-written YAML (name, licence, task, tags) and the body with
``{{placeholder}}`` fields. Rendering fills the fields with numbers computed from the
export itself (``labels.csv``, the Parquet files, the file sizes) and adds the YAML that
depends on the export: ``size_categories``, explicit ``configs`` whose ``data_files``
name only ``data/<config>/<split>-*``, and ``dataset_info`` (features and split sizes
read back from the Parquet files, in the form ``datasets`` writes itself).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow.parquet as pq

from generator.anatomy_figure import ANATOMY_FIGURE_FILE, shown_patient
from generator.contract import (
    BUILDER_SPLIT_NAMES,
    GENERATOR_VERSION,
    LABEL_COLUMNS,
    POSITIVE_STAGES,
    SPLIT_FRACTIONS,
    SPLITS,
    STAGE_PREVALENCE,
    STAGES,
    GenerationParameters,
)
from generator.files import human_size, write_text
from generator.label_ids import LABEL_NAMES
from generator.layout import CARD_FILE, CROISSANT_FILE, DICOM_DIR, NIFTI_DIR
from generator.lazy_import import lazy_module
from generator.modalities import MODALITY_TITLES
from generator.parquet_export import ARROW_BYTES_KEY, DATA_DIR, SHARD_NAME, config_dir
from generator.physical_space import spacing_table_markdown
from generator.progression_figure import PROGRESSION_FIGURE_FILE, shown_indices
from generator.raw import IMAGES_DIR, LABELS_FILE, METADATA_FILE
from generator.rows import CONFIG_NAMES
from generator.sample_grid import PER_STAGE, SAMPLE_GRID_FILE, patients_per_stage

datasets = lazy_module("datasets")
huggingface_hub = lazy_module("huggingface_hub")

#: The card source, beside the ``generator`` package.
CARD_SOURCE = Path(__file__).resolve().parent.parent / "dataset_card.md"
#: The baselines of the default dataset, written by ``python benchmarks/baselines.py``:
#: a Markdown table and the JSON it was rendered from (which names the generator version).
_BENCHMARKS = CARD_SOURCE.parent / "benchmarks"


@dataclasses.dataclass(frozen=True)
class BaselineSource:
    """A baselines table the card shows, its results (with ``generator_version``) and the
    script that writes both (relative to the repository)."""

    table: Path
    results: Path
    script: str


#: The card's "Baselines": the feature and pixel models, then the CNN.
BASELINE_SOURCES = (
    BaselineSource(
        _BENCHMARKS / "baselines.md", _BENCHMARKS / "baselines.json", "benchmarks/baselines.py"
    ),
    BaselineSource(
        _BENCHMARKS / "cnn_baselines.md",
        _BENCHMARKS / "cnn_baselines.json",
        "benchmarks/cnn_baseline.py",
    ),
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
#: The Hub's ``size_categories`` buckets: (upper bound, exclusive; label).
_SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
)


class CardError(Exception):
    """The card source cannot be rendered (unknown placeholder, bad YAML, missing part)."""


def read_labels(folder: Path) -> list[dict[str, str]]:
    """Rows of ``labels.csv`` as dicts, checking the header."""
    with open(Path(folder) / LABELS_FILE, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != LABEL_COLUMNS:
            raise CardError(
                f"{LABELS_FILE} header is {reader.fieldnames}, expected {list(LABEL_COLUMNS)}"
            )
        return list(reader)


def size_category(num_rows: int) -> str:
    """The Hub's ``size_categories`` label for ``num_rows`` rows (``1000`` -> ``1K<n<10K``)."""
    for bound, label in _SIZE_CATEGORIES:
        if num_rows < bound:
            return label
    return "n>1M"


def split_stage_counts(labels: Sequence[Mapping[str, str]]) -> dict[str, dict[str, int]]:
    """``counts[split][stage]`` from ``labels.csv`` rows (``labels.csv`` split names)."""
    counts = {split: dict.fromkeys(STAGES, 0) for split in SPLITS}
    for row in labels:
        counts[row["split"]][row["fibrosis_stage"]] += 1
    return counts


def split_stage_table(labels: Sequence[Mapping[str, str]]) -> str:
    """Markdown table of patients per split (rows) and stage (columns), with totals."""
    counts = split_stage_counts(labels)
    positive = sorted(POSITIVE_STAGES)
    header = ["split", *STAGES, "total", f"positive ({'-'.join((positive[0], positive[-1]))})"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals = dict.fromkeys(STAGES, 0)
    for split in SPLITS:
        row = counts[split]
        for stage in STAGES:
            totals[stage] += row[stage]
        lines.append(_count_row(f"{BUILDER_SPLIT_NAMES[split]} (`{split}`)", row))
    lines.append(_count_row("**all**", totals))
    return "\n".join(lines)


def _count_row(name: str, row: Mapping[str, int]) -> str:
    total = sum(row.values())
    positive = sum(row[stage] for stage in POSITIVE_STAGES)
    share = f"{positive} ({100 * positive / total:.1f} %)" if total else "0"
    return "| " + " | ".join([name, *(str(row[s]) for s in STAGES), str(total), share]) + " |"


def _files_below(folder: Path, relative: str) -> list[Path]:
    path = Path(folder) / relative
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []


def files_table(folder: Path) -> str:
    """Markdown table of the folder's parts with file counts and sizes (the card excepted)."""
    parts = [
        (f"`{LABELS_FILE}`, `{METADATA_FILE}`", [LABELS_FILE, METADATA_FILE], "labels, latent"),
        (f"`{IMAGES_DIR}/*.npy`", [IMAGES_DIR], "float32 arrays, three per patient"),
        *(
            (f"`{DATA_DIR}/{config}/`", [f"{DATA_DIR}/{config}"], f"Parquet, config `{config}`")
            for config in CONFIG_NAMES
        ),
        ("`assets/`", ["assets"], "pictures for this card"),
        (f"`{CROISSANT_FILE}`", [CROISSANT_FILE], "Croissant and RAI metadata"),
        (f"`{DICOM_DIR}/`", [DICOM_DIR], "DICOM: MR, CT (HU), US per patient"),
        (f"`{NIFTI_DIR}/`", [NIFTI_DIR], "NIfTI: images (CT in HU) and label maps"),
    ]
    lines = ["| part | files | size | content |", "|---|---|---|---|"]
    for name, entries, content in parts:
        files = [path for entry in entries for path in _files_below(folder, entry)]
        if files:
            size = human_size(sum(path.stat().st_size for path in files))
            lines.append(f"| {name} | {len(files)} | {size} | {content} |")
    return "\n".join(lines)


def parquet_files(folder: Path, config: str, split: str) -> list[Path]:
    """The Parquet files of ``split`` in ``config`` (named as the layout names them), in order."""
    return sorted(
        path
        for path in config_dir(folder, config).glob(f"{split}-*.parquet")
        if (match := SHARD_NAME.match(path.name)) and match["split"] == split
    )


def configs_metadata(folder: Path) -> list[dict]:
    """The ``configs`` YAML: one entry per config on disk, ``default`` marked as default.

    Every file is named, not matched by a pattern: a folder missing one (a partial
    download) then fails to load with the missing file's name."""
    entries = []
    for config in CONFIG_NAMES:
        splits = [s for s in BUILDER_SPLIT_NAMES.values() if parquet_files(folder, config, s)]
        if not splits:
            continue
        entry: dict = {"config_name": config}
        if config == "default":
            entry["default"] = True
        entry["data_files"] = [
            {
                "split": split,
                "path": [
                    path.relative_to(folder).as_posix()
                    for path in parquet_files(folder, config, split)
                ],
            }
            for split in splits
        ]
        entries.append(entry)
    return entries


def _arrow_nbytes(path: Path, parquet: pq.ParquetFile) -> int:
    """In-memory (Arrow) size of a Parquet file's table, as ``datasets`` counts ``num_bytes``:
    recorded in the file's footer when the export wrote it."""
    recorded = (parquet.metadata.metadata or {}).get(ARROW_BYTES_KEY.encode())
    if recorded is None:
        raise CardError(f"{path} lacks {ARROW_BYTES_KEY!r} in its footer: not written by an export")
    return int(recorded)


def dataset_infos(folder: Path) -> datasets.info.DatasetInfosDict:
    """Features and split sizes of every config, read back from its Parquet files."""
    infos = datasets.info.DatasetInfosDict()
    for config in CONFIG_NAMES:
        features, splits = None, datasets.SplitDict()
        download_size = 0
        for split in BUILDER_SPLIT_NAMES.values():
            files = parquet_files(folder, config, split)
            if not files:
                continue
            num_examples = num_bytes = 0
            for path in files:
                parquet = pq.ParquetFile(path)
                file_features = datasets.Features.from_arrow_schema(parquet.schema_arrow)
                if features is not None and file_features != features:
                    raise CardError(f"{path} has other features than the rest of {config!r}")
                features = file_features
                num_examples += parquet.metadata.num_rows
                num_bytes += _arrow_nbytes(path, parquet)
                download_size += path.stat().st_size
            splits.add(
                datasets.SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_examples)
            )
        if features is not None:
            infos[config] = datasets.DatasetInfo(
                features=features,
                splits=splits,
                download_size=download_size,
                dataset_size=sum(split.num_bytes for split in splits.values()),
            )
    return infos


def sample_grid_markdown(labels: Sequence[Mapping[str, str]]) -> str:
    """The card's picture and a caption naming the patients in each row."""
    chosen = patients_per_stage([row["fibrosis_stage"] for row in labels])
    rows = "; ".join(
        f"{stage} {', '.join(labels[index]['patient_id'] for index in indices) or 'none'}"
        for stage, indices in chosen.items()
    )
    return (
        f"![Sample images: one row per fibrosis stage, {PER_STAGE} patients per row, each "
        f"in {', '.join(MODALITY_TITLES.values())}]({SAMPLE_GRID_FILE})\n\n"
        f"*The first {PER_STAGE} patients of each stage in this export (rows: {rows}); for "
        "each patient its T2-weighted MRI, CT and ultrasound, as stored in the `default` "
        "config (8-bit grayscale).*"
    )


def anatomy_figure_markdown(labels: Sequence[Mapping[str, str]]) -> str:
    """The label-map picture and a caption naming its patient."""
    shown = labels[shown_patient([row["fibrosis_stage"] for row in labels])]
    return (
        f"![{shown['patient_id']}: each modality's image beside its label map, with a legend "
        f"of the label ids]({ANATOMY_FIGURE_FILE})\n\n"
        f"*{shown['patient_id']} ({shown['fibrosis_stage']}), the first patient of the most "
        "advanced stage in this export: each modality's image beside its label map (the "
        "`*_label_map` columns) with one colour per anatomy id, background black. The "
        "legend names every id in these maps (in grey, the maps an id appears in where not "
        "all); MRI and CT share the axial map, the ultrasound map is in the probe's view. "
        'All ids are listed under "Appearance model".*'
    )


def progression_figure_markdown(labels: Sequence[Mapping[str, str]]) -> str:
    """The progression picture (its caption is prose in the card source)."""
    ids = [labels[index]["patient_id"] for index in shown_indices(len(labels))]
    return (
        f"![Disease progression: {', '.join(ids)}, each at stages F0 to F4 (columns) "
        f"in {', '.join(MODALITY_TITLES.values())} (rows)]({PROGRESSION_FIGURE_FILE})"
    )


def baselines_markdown(sources: Sequence[BaselineSource] = BASELINE_SOURCES) -> str:
    """The baselines tables, each refused if it was measured on another generator version."""
    texts = []
    for source in sources:
        try:
            results = json.loads(source.results.read_text(encoding="utf-8"))
            measured_on = results["generator_version"]
            texts.append(source.table.read_text(encoding="utf-8").strip())
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CardError(
                f"cannot read the baselines ({source.results}, {source.table}): {error}"
            ) from None
        if measured_on != GENERATOR_VERSION:
            raise CardError(
                f"the baselines of {source.table.name} were measured on generator "
                f"{measured_on}, this is {GENERATOR_VERSION}: rerun `python {source.script}`"
            )
    return "\n\n".join(texts)


def card_fields(folder: Path, parameters: GenerationParameters) -> dict[str, str]:
    """Every placeholder's value, from the export in ``folder`` and its ``parameters``."""
    labels = read_labels(folder)
    counts = split_stage_counts(labels)
    split_sizes = " / ".join(str(sum(counts[split].values())) for split in SPLITS)
    return {
        "num_patients": str(len(labels)),
        "image_size": str(parameters.image_size),
        "seed": str(parameters.seed),
        "generator_version": GENERATOR_VERSION,
        "split_sizes": split_sizes,
        "split_stage_table": split_stage_table(labels),
        "files_table": files_table(folder),
        "sample_grid": sample_grid_markdown(labels),
        "anatomy_figure": anatomy_figure_markdown(labels),
        "progression_figure": progression_figure_markdown(labels),
        "spacing_table": spacing_table_markdown(),
        "baselines": baselines_markdown(),
        "num_label_ids": str(len(LABEL_NAMES)),
        "stage_prevalence": ", ".join(
            f"{stage} {100 * p:.1f} %" for stage, p in zip(STAGES, STAGE_PREVALENCE, strict=True)
        ),
        "positive_stages": "-".join((min(POSITIVE_STAGES), max(POSITIVE_STAGES))),
        "split_percentages": ", ".join(
            f"{BUILDER_SPLIT_NAMES[split]} {100 * f:.0f} %"
            for split, f in zip(SPLITS, SPLIT_FRACTIONS, strict=True)
        ),
    }


def fill_placeholders(text: str, fields: Mapping[str, str]) -> str:
    """Replace every ``{{name}}`` in ``text``; raise ``CardError`` for an unknown name."""
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in fields})
    if unknown:
        raise CardError(f"unknown placeholder(s) in the card source: {', '.join(unknown)}")
    return _PLACEHOLDER.sub(lambda match: fields[match[1]], text)


def render_card(source: str, folder: Path, parameters: GenerationParameters) -> str:
    """The rendered ``README.md`` text for the export in ``folder``."""
    card = huggingface_hub.DatasetCard(source, ignore_metadata_errors=False)
    if not card.data.to_dict():
        raise CardError("the card source has no YAML front matter")
    configs = configs_metadata(folder)
    if not configs:
        raise CardError(f"no Parquet in {Path(folder) / DATA_DIR}: the card needs the data")
    card.data.size_categories = [size_category(len(read_labels(folder)))]
    card.data.configs = configs
    dataset_infos(folder).to_dataset_card_data(card.data)
    card.text = fill_placeholders(card.text, card_fields(folder, parameters))
    return str(card)


def write_card(
    folder: Path, parameters: GenerationParameters, *, source: Path = CARD_SOURCE
) -> Path:
    """Render the card source into ``folder/README.md`` atomically; return its path."""
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise CardError(f"cannot read the card source {source}: {error.strerror}") from None
    path = Path(folder) / CARD_FILE
    write_text(path, render_card(text, folder, parameters))
    return path
