"""The dataset's rows: the ``datasets`` features of each config and one patient's row.

The builder (``open_multimodal_liver_cirrhosis.py``) and the export's Parquet writer
both read these, so a streamed, a prepared and an exported row are the same row.
"""

from __future__ import annotations

import numpy as np

from generator.cohort import patient_id
from generator.contract import BINARY_LABELS, SEXES, STAGES
from generator.encoding import png_bytes, quantize_to_uint8
from generator.lazy_import import lazy_module
from generator.modalities import MODALITY_COLUMNS
from generator.patient import Patient

datasets = lazy_module("datasets")

#: Image storage of each predefined config: ``png`` (uint8 grayscale PNG) or ``float32``.
IMAGE_FORMATS = {"default": "png", "float32": "float32"}
#: The configs, in the order they are written and listed in the card.
CONFIG_NAMES = tuple(IMAGE_FORMATS)


def build_features(image_format: str, image_size: int) -> datasets.Features:
    """The columns of a config.

    ``mri``, ``ct``, ``ultrasound``: the images, 8-bit grayscale PNG (``png``) or float32
    (S, S) in [0, 1] (``float32``). ``mri_label_map``, ``ct_label_map``,
    ``ultrasound_label_map``: uint8 (S, S) anatomy ids (``generator.label_ids.LABEL_NAMES``:
    0 background, 1 liver, then one id per structure and focal finding), PNG or
    ``Array2D`` uint8; they are free (the generator renders them anyway), compress to almost
    nothing as PNG, and give segmentation targets and liver regions of interest for
    every modality.
    """
    if image_format == "png":
        image_feature = datasets.Image()
        label_map_feature = datasets.Image()
    elif image_format == "float32":
        image_feature = datasets.Array2D((image_size, image_size), "float32")
        label_map_feature = datasets.Array2D((image_size, image_size), "uint8")
    else:
        raise ValueError(f"`image_format` must be 'png' or 'float32', got {image_format!r}")
    columns = {
        "patient_id": datasets.Value("string"),
        "fibrosis_stage": datasets.ClassLabel(names=list(STAGES)),
        "binary_label": datasets.ClassLabel(names=list(BINARY_LABELS)),
        "age": datasets.Value("int32"),
        "sex": datasets.ClassLabel(names=list(SEXES)),
        "liver_stiffness_kpa": datasets.Value("float32"),
    }
    for column in MODALITY_COLUMNS.values():
        columns[column] = image_feature
    for column in MODALITY_COLUMNS.values():
        columns[f"{column}_label_map"] = label_map_feature
    return datasets.Features(columns)


def patient_example(
    patient: Patient, num_patients: int, image_format: str, *, compress_png: bool = True
) -> dict:
    """One row (before ``datasets`` encoding) of ``patient`` among ``num_patients``.

    ``compress_png=False`` (streaming) stores the ``png`` images uncompressed
    (``generator.encoding.png_bytes``): the same pixels, decoded about seven times faster.
    """
    labels = patient.labels
    example = {
        "patient_id": patient_id(labels.index, num_patients),
        "fibrosis_stage": labels.fibrosis_stage,
        "binary_label": labels.binary_label,
        "age": labels.age,
        "sex": labels.sex,
        # Rounded here, not only by Arrow: streaming rows must equal the stored ones.
        "liver_stiffness_kpa": float(np.float32(labels.liver_stiffness_kpa)),
    }
    for modality, column in MODALITY_COLUMNS.items():
        image, label_map = patient.images[modality], patient.label_maps[modality]
        if image_format == "png":
            pixels = quantize_to_uint8(image)
            example[column] = {"path": None, "bytes": png_bytes(pixels, compress=compress_png)}
            example[f"{column}_label_map"] = {
                "path": None,
                "bytes": png_bytes(label_map, compress=compress_png),
            }
        else:
            example[column] = image
            example[f"{column}_label_map"] = label_map
    return example
