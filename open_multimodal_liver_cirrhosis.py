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

The splits are those that hold patients, as in the export's Parquet files: 1 to 5
patients leave ``validation`` or ``test`` empty, and an empty split is left out
(``train`` always holds one).
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
from generator.rows import CONFIG_NAMES, IMAGE_FORMATS, build_features, patient_example
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

#: The fields of ``GenerationParameters``, which the config holds as its own fields.
_PARAMETER_FIELDS = tuple(field.name for field in dataclasses.fields(GenerationParameters))
#: The image formats, sorted, as the refusals list them.
_FORMATS = sorted(set(IMAGE_FORMATS.values()))
#: The config of a builder given no config name.
DEFAULT_CONFIG_NAME = "default"
_VERSION = datasets.Version(GENERATOR_VERSION)


def check_image_format(image_format: object) -> str:
    """``image_format`` if it is a ``str`` among ``IMAGE_FORMATS``' values; else ``ValueError``."""
    if not isinstance(image_format, str) or image_format not in _FORMATS:
        raise ValueError(
            f"`image_format` must be one of {_FORMATS}, got image_format={image_format!r}"
        )
    return image_format


def _config_name(config_name: object, name: object) -> str:
    """The config named by the builder's ``config_name`` and ``name`` keyword (its alias).

    ``None`` for both is ``DEFAULT_CONFIG_NAME``; raise ``ValueError`` for anything but
    one of ``CONFIG_NAMES``, or for a ``name`` that is not the ``config_name`` given.
    """
    label, value = "config_name", config_name
    if name is not None:
        if config_name is not None and name != config_name:
            raise ValueError(
                f"`name` must be the config_name {config_name!r} if given, got name={name!r}"
            )
        label, value = "name", name
    if value is None:
        return DEFAULT_CONFIG_NAME
    if not isinstance(value, str) or value not in CONFIG_NAMES:
        raise ValueError(
            f"`{label}` must be one of {list(CONFIG_NAMES)} (None: {DEFAULT_CONFIG_NAME!r}), "
            f"got {label}={value!r}"
        )
    return value


def _check_config_format(config_name: str, image_format: object) -> None:
    """Raise ``ValueError`` unless ``image_format`` is the format of config ``config_name``."""
    check_image_format(image_format)
    expected = IMAGE_FORMATS[config_name]
    if image_format != expected:
        other = next(name for name, value in IMAGE_FORMATS.items() if value == image_format)
        raise ValueError(
            f"`image_format` must be {expected!r} in config {config_name!r} (for "
            f"{image_format!r} images use config_name={other!r}), got image_format={image_format!r}"
        )


def _check_version(version: object) -> None:
    """Raise ``ValueError`` unless ``version`` is the generator version (str or ``Version``)."""
    try:
        same = isinstance(version, str | datasets.Version) and _VERSION == version
    except (TypeError, ValueError):  # not a version string
        same = False
    if not same:
        raise ValueError(
            f"`version` must be {GENERATOR_VERSION!r} (the generator version, which names the "
            f"cache directory), got version={version!r}"
        )


@dataclasses.dataclass
class OpenMultimodalLiverCirrhosisConfig(datasets.BuilderConfig):
    """Generation parameters of one build.

    The three generation parameters are fields (``datasets`` sets them from the
    builder's keyword arguments); the builder reads them only as one validated record,
    :attr:`parameters`.

    Attributes
    ----------
    num_patients : int
        Patients in the dataset, 1..100_000_000 (``MAX_NUM_PATIENTS``; default 1000);
        split 70/15/15 by index.
    image_size : int
        Side of every (square) image in pixels, 32..1024 (default 224).
    seed : int
        Root random seed, 0..2**32 - 1 (``MAX_SEED``; default 42).
    image_format : str
        ``png`` (8-bit grayscale ``Image``) or ``float32`` (``Array2D`` float32); through
        the builder, the format of the config named (``default``: png).
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
        ``setattr`` after ``__post_init__``, so the builder checks them itself
        (``OpenMultimodalLiverCirrhosis._create_builder_config``) and calls this again.
        """
        parameters = self.parameters
        check_image_format(self.image_format)
        return parameters


class OpenMultimodalLiverCirrhosis(datasets.GeneratorBasedBuilder):
    """Synthetic multi-modal liver fibrosis patients, generated on the fly."""

    VERSION = _VERSION
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
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG_NAME
    DEFAULT_WRITER_BATCH_SIZE = WRITER_BATCH_SIZE

    def _create_builder_config(self, config_name=None, custom_features=None, **config_kwargs):
        """Check the config name and every keyword argument, then let ``datasets`` apply them.

        Runs in ``__init__`` before anything is written (the cache directory included).
        Left to itself, ``datasets`` skips a keyword argument that is ``None``, makes a
        config named after a ``config_name`` that is not a ``str``, and renames a
        predefined config after a ``name`` keyword; so each value is checked here, and a
        bad one raises ``ValueError`` naming the parameter and the value. The generation
        parameters travel on as the ``int`` values of their record.
        """
        name = _config_name(config_name, config_kwargs.pop("name", None))
        given = {key: config_kwargs[key] for key in _PARAMETER_FIELDS if key in config_kwargs}
        parameters = GenerationParameters(**given)
        config_kwargs.update({key: getattr(parameters, key) for key in given})
        if "image_format" in config_kwargs:
            _check_config_format(name, config_kwargs["image_format"])
        if "version" in config_kwargs:
            _check_version(config_kwargs["version"])
        config, config_id = super()._create_builder_config(
            config_name=name, custom_features=custom_features, **config_kwargs
        )
        self._validate(config)
        return config, config_id

    @staticmethod
    def _validate(config: OpenMultimodalLiverCirrhosisConfig) -> GenerationParameters:
        """``config.validate()``, and a predefined config's name, format and version."""
        parameters = config.validate()
        _config_name(config.name, None)
        _check_config_format(config.name, config.image_format)
        _check_version(config.version)
        return parameters

    def _info(self) -> datasets.DatasetInfo:
        # The first place the builder reads its config: validate here too (see
        # OpenMultimodalLiverCirrhosisConfig.validate).
        parameters = self._validate(self.config)
        label_names = ", ".join(f"{k} {v}" for k, v in sorted(LABEL_NAMES.items()))
        return datasets.DatasetInfo(
            description=f"{_DESCRIPTION}\nLabel map ids: {label_names}.\n",
            features=build_features(self.config.image_format, parameters.image_size),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        """One split generator per split that holds patients (``parquet_export.expected_rows``).

        1 to 5 patients leave ``validation`` or ``test`` empty; ``datasets`` cannot read
        back a split of no rows (``as_dataset`` raises "corresponds to no data"), so an
        empty split is left out, as the export leaves out its Parquet files. ``train``
        always holds a patient (``round(0.7 N) >= 1`` for ``N >= 1``), so some split does.
        """
        # ``info`` may have been passed in instead of built by ``_info``.
        parameters = self._validate(self.config)
        return [
            datasets.SplitGenerator(
                name=BUILDER_SPLIT_NAMES[split],
                gen_kwargs={"chunks": stream_shards(indices)},
            )
            for split, indices in split_indices(parameters.num_patients).items()
            if len(indices)
        ]

    def _get_examples_iterable_for_split(self, split_generator: datasets.SplitGenerator):
        """Streaming's examples: the split's, with the PNGs stored uncompressed.

        A streamed row is decoded at once and never kept, so compressing its images
        would only cost time (about 9 ms a patient at 224 px, most of what streaming adds
        to generation); its decoded images equal the prepared and exported rows'.
        """
        streamed = dataclasses.replace(
            split_generator, gen_kwargs={**split_generator.gen_kwargs, "compress_png": False}
        )
        return super()._get_examples_iterable_for_split(streamed)

    def _generate_more_gen_kwargs(self, chunks: list[range], compress_png: bool = True):
        """Reshard (``IterableDataset.reshard()`` on ``datasets`` 5): one patient a shard."""
        for chunk in chunks:
            for index in chunk:
                yield {"chunks": [range(index, index + 1)], "compress_png": compress_png}

    def _generate_examples(self, chunks: list[range], compress_png: bool = True):
        """Yield ``(patient_id, row)`` for every patient of every chunk, in order.

        ``compress_png``: whether the ``default`` config's PNGs are compressed (prepared
        datasets) or stored (streaming; ``_get_examples_iterable_for_split``). The key is
        the patient id on every ``datasets`` version: ``datasets`` < 4 checks keys for
        duplicates; ``datasets`` 5 accepts a ``str`` key (its ``Key`` type only feeds
        ``original_shard_lengths``, which it does not save by default).
        """
        parameters, image_format = self.config.parameters, self.config.image_format
        for chunk in chunks:
            for patient in render_chunk(parameters, chunk):
                example = patient_example(
                    patient, parameters.num_patients, image_format, compress_png=compress_png
                )
                yield example["patient_id"], example
