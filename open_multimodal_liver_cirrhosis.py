"""Hugging Face ``datasets`` builder of the Open Multi-Modal Liver Cirrhosis Dataset.

The builder holds no image maths: every row is ``generator.generate_patient(index,
seed=..., image_size=...)`` rendered into ``datasets`` features. It works three ways:

- ``datasets`` >= 4 (loading scripts removed from ``load_dataset``): instantiate the
  class, e.g. ``OpenMultimodalLiverCirrhosis(config_name="float32", num_patients=50)``,
  then ``download_and_prepare(num_proc=...)`` and ``as_dataset()``, or
  ``as_streaming_dataset()``;
- ``datasets`` < 4: ``load_dataset("path/to/open_multimodal_liver_cirrhosis.py",
  "float32", num_patients=50, trust_remote_code=True)``; the ``generator`` package must
  be importable (``pip install -e .`` in the repository);
- the export step builds Parquet from this builder, and ``load_dataset(folder)`` reads it.

Configs (``CONFIG_NAMES``): ``default`` stores the images as 8-bit grayscale PNG
(``datasets.Image``, quantised by :func:`quantize_to_uint8`); ``float32`` stores them as
``Array2D((S, S), "float32")``, bit-identical to the generator's arrays and to the
export's ``.npy`` files.
"""

from __future__ import annotations

import dataclasses
import io

import datasets
import numpy as np
import PIL.Image

from generator.cohort import patient_id, split_indices
from generator.contract import (
    BINARY_LABELS,
    BUILDER_SPLIT_NAMES,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    SEXES,
    STAGES,
    GenerationParameters,
)
from generator.label_ids import LABEL_NAMES
from generator.modalities import MODALITY_COLUMNS
from generator.patient import Patient, generate_patient

_CITATION = """\
@misc{open_multimodal_liver_cirrhosis,
  title  = {Open Multi-Modal Liver Cirrhosis Dataset: synthetic MRI, CT and ultrasound
            images of the liver with METAVIR fibrosis stages},
  note   = {Deterministic synthetic dataset generator},
  year   = {2026}
}
"""

_DESCRIPTION = """\
A fully synthetic, open dataset of paired T2-weighted MRI, CT and ultrasound images of
the liver with METAVIR fibrosis stages (F0-F4), a binary label (F3-F4 positive), age,
sex and a latent liver stiffness (kPa). Every patient is a pure function of (seed,
patient index, image size, generator version). Not for clinical use.
"""

#: No homepage yet: the Hub repository id is chosen at publish time
#: (``python generator/publish.py --repo-id ORG/NAME``).
_HOMEPAGE = ""

#: The generated data is released under CC BY 4.0.
_LICENSE = "cc-by-4.0"


#: Image storage of each predefined config: ``png`` (uint8 grayscale PNG) or ``float32``.
IMAGE_FORMATS = {"default": "png", "float32": "float32"}
CONFIG_NAMES = tuple(IMAGE_FORMATS)

#: Patients per shard (one entry of the ``chunks`` list in ``gen_kwargs``): the unit of
#: work of ``num_proc`` and of a streaming shard.
PATIENTS_PER_SHARD = 8

#: Rows buffered before the Arrow writer flushes. One 224 x 224 row is about 0.75 MB in
#: the float32 config (three float32 images and three uint8 label maps); without this,
#: ``datasets`` buffers 1000 rows. 8 rows keep the writer's buffer at ~6 MB (224 x 224)
#: and ~125 MB at the largest size (1024 x 1024), whatever the patient count.
WRITER_BATCH_SIZE = 8


def quantize_to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise a float image in [0, 1] to 8 bits: ``q = floor(255 * x + 0.5)``.

    Round half up; ``q / 255`` is within 0.5 / 255 of ``x``.

    Parameters
    ----------
    image : ndarray of float, shape (S, S), values in [0, 1]

    Returns
    -------
    ndarray of uint8, shape (S, S), values in 0..255 (grey levels).
    """
    image = np.asarray(image)
    if image.dtype.kind != "f":
        raise ValueError(f"`image` must be a float array, got dtype={image.dtype}")
    if image.size and not (np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1):
        raise ValueError(
            f"`image` values must be finite and in [0, 1], got min={np.nanmin(image)}, "
            f"max={np.nanmax(image)} (or a non-finite value)"
        )
    return np.floor(image.astype(np.float64) * 255 + 0.5).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 (S, S) array as an 8-bit grayscale (mode ``L``) PNG file's bytes."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim != 2:
        raise ValueError(
            f"`array` must be a 2-D uint8 array, got dtype={array.dtype}, shape={array.shape}"
        )
    buffer = io.BytesIO()
    PIL.Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclasses.dataclass
class OpenMultimodalLiverCirrhosisConfig(datasets.BuilderConfig):
    """Generation parameters of one build.

    The three generation parameters are fields (``datasets`` sets them from the
    builder's keyword arguments); the builder reads them only as one validated record,
    :attr:`parameters`.

    Attributes
    ----------
    num_patients : int
        Patients in the dataset, >= 1 (default 1000); split 70/15/15 by index.
    image_size : int
        Side of every (square) image in pixels, 32..1024 (default 224).
    seed : int
        Root random seed, >= 0 (default 42).
    image_format : str
        ``png`` (8-bit grayscale ``Image``) or ``float32`` (``Array2D`` float32).
    """

    num_patients: int = DEFAULT_NUM_PATIENTS
    image_size: int = DEFAULT_IMAGE_SIZE
    seed: int = DEFAULT_SEED
    image_format: str = "png"

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    @property
    def parameters(self) -> GenerationParameters:
        """``num_patients``, ``image_size`` and ``seed`` as one record, validated as it is made."""
        return GenerationParameters(self.num_patients, self.image_size, self.seed)

    def validate(self) -> GenerationParameters:
        """Return :attr:`parameters`; raise ``ValueError`` naming the first bad parameter.

        ``datasets`` applies keyword arguments given for a predefined config with
        ``setattr`` after ``__post_init__``, so the builder calls this again.
        """
        parameters = self.parameters
        if self.image_format not in IMAGE_FORMATS.values():
            raise ValueError(
                f"`image_format` must be one of {sorted(set(IMAGE_FORMATS.values()))}, "
                f"got image_format={self.image_format!r}"
            )
        return parameters


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


def patient_example(patient: Patient, num_patients: int, image_format: str) -> dict:
    """One row (before ``datasets`` encoding) of ``patient`` among ``num_patients``."""
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
            example[column] = {"path": None, "bytes": png_bytes(quantize_to_uint8(image))}
            example[f"{column}_label_map"] = {"path": None, "bytes": png_bytes(label_map)}
        else:
            example[column] = image
            example[f"{column}_label_map"] = label_map
    return example


def patient_chunks(indices: range, size: int = PATIENTS_PER_SHARD) -> list[range]:
    """Cut contiguous patient ``indices`` into shards of at most ``size`` patients."""
    return [indices[start : start + size] for start in range(0, len(indices), size)]


class OpenMultimodalLiverCirrhosis(datasets.GeneratorBasedBuilder):
    """Synthetic multi-modal liver fibrosis patients, generated on the fly."""

    VERSION = datasets.Version(GENERATOR_VERSION)
    BUILDER_CONFIG_CLASS = OpenMultimodalLiverCirrhosisConfig
    # Each predefined config carries VERSION: a config keeps its own version (0.0.0 if
    # none), which names the cache directory.
    BUILDER_CONFIGS = [  # noqa: RUF012 (the datasets template's class attribute)
        OpenMultimodalLiverCirrhosisConfig(
            name="default",
            version=VERSION,
            image_format="png",
            description="Images as 8-bit grayscale PNG (mode L), q = floor(255 x + 0.5).",
        ),
        OpenMultimodalLiverCirrhosisConfig(
            name="float32",
            version=VERSION,
            image_format="float32",
            description="Images as float32 (S, S) arrays in [0, 1], as the .npy files.",
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"
    DEFAULT_WRITER_BATCH_SIZE = WRITER_BATCH_SIZE

    def _info(self) -> datasets.DatasetInfo:
        # The first place the builder reads its config: validate here too (see
        # OpenMultimodalLiverCirrhosisConfig.validate).
        parameters = self.config.validate()
        label_names = ", ".join(f"{k} {v}" for k, v in sorted(LABEL_NAMES.items()))
        return datasets.DatasetInfo(
            description=f"{_DESCRIPTION}\nLabel map ids: {label_names}.\n",
            features=build_features(self.config.image_format, parameters.image_size),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        # ``info`` may have been passed in instead of built by ``_info``.
        parameters = self.config.validate()
        return [
            datasets.SplitGenerator(
                name=BUILDER_SPLIT_NAMES[split],
                gen_kwargs={"chunks": patient_chunks(indices)},
            )
            for split, indices in split_indices(parameters.num_patients).items()
        ]

    def _generate_more_gen_kwargs(self, chunks: list[range]):
        """Reshard (``IterableDataset.reshard()`` on ``datasets`` 5): one patient a shard."""
        for chunk in chunks:
            for index in chunk:
                yield {"chunks": [range(index, index + 1)]}

    def _generate_examples(self, chunks: list[range]):
        """Yield ``(patient_id, row)`` for every patient of every chunk, in order.

        The key is the patient id on every ``datasets`` version: ``datasets`` < 4 checks
        keys for duplicates; ``datasets`` 5 accepts a ``str`` key (its ``Key`` type only
        feeds ``original_shard_lengths``, which it does not save by default).
        """
        parameters, image_format = self.config.parameters, self.config.image_format
        for chunk in chunks:
            for index in chunk:
                patient = generate_patient(
                    index, seed=parameters.seed, image_size=parameters.image_size
                )
                example = patient_example(patient, parameters.num_patients, image_format)
                yield example["patient_id"], example
