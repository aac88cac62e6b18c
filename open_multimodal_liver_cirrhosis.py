"""Hugging Face ``datasets`` builder of the Open Multi-Modal Liver Cirrhosis Dataset.

The builder holds no image maths: its shards are ``generator.shards.stream_shards`` of
each split, their patients ``generator.shards.render_chunk``, and every row
``generator.rows.patient_example`` in the features of ``generator.rows.build_features``.
It works three ways:

- ``datasets`` >= 4 (loading scripts removed from ``load_dataset``): instantiate the
  class, e.g. ``OpenMultimodalLiverCirrhosis(config_name="float32", num_patients=50)``,
  then ``download_and_prepare(num_proc=...)`` and ``as_dataset()``, or
  ``as_streaming_dataset()``;
- ``datasets`` < 4: ``load_dataset("path/to/open_multimodal_liver_cirrhosis.py",
  "float32", num_patients=50, trust_remote_code=True)``; the ``generator`` package must
  be importable (``pip install -e .`` in the repository);
- the export writes the same rows (``generator.rows``) as Parquet, and
  ``load_dataset(folder)`` reads it.

Configs (``generator.rows.CONFIG_NAMES``): ``default`` stores the images as 8-bit grayscale PNG
(``datasets.Image``, quantised by ``generator.encoding``); ``float32`` stores them as
``Array2D((S, S), "float32")``, bit-identical to the generator's arrays and to the
export's ``.npy`` files.
"""

from __future__ import annotations

import dataclasses

import datasets

from generator.cohort import split_indices
from generator.contract import (
    BUILDER_SPLIT_NAMES,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    GenerationParameters,
)
from generator.label_ids import LABEL_NAMES
from generator.rows import IMAGE_FORMATS, build_features, patient_example
from generator.shards import render_chunk, stream_shards

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


#: Rows buffered before the Arrow writer flushes. One 224 x 224 row is about 0.75 MB in
#: the float32 config (three float32 images and three uint8 label maps); without this,
#: ``datasets`` buffers 1000 rows. 8 rows keep the writer's buffer at ~6 MB (224 x 224)
#: and ~125 MB at the largest size (1024 x 1024), whatever the patient count.
WRITER_BATCH_SIZE = 8


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
                gen_kwargs={"chunks": stream_shards(indices)},
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
            for patient in render_chunk(parameters, chunk):
                example = patient_example(patient, parameters.num_patients, image_format)
                yield example["patient_id"], example
