"""The builder at its edges: 1-8 patients (splits with no patient), config names and
formats, the version, and refusals that write nothing even when ``info`` is passed in."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from test_builder import assert_same_rows, rows_as_numpy

from generator import generate_patient, patient_id, split_indices
from generator.contract import GENERATOR_VERSION, MIN_IMAGE_SIZE
from generator.modalities import MODALITY_COLUMNS
from generator.parquet_export import expected_rows
from generator.rows import CONFIG_NAMES
from open_multimodal_liver_cirrhosis import OpenMultimodalLiverCirrhosis

S = MIN_IMAGE_SIZE
SPLITS = {"train": "train", "val": "validation", "test": "test"}


def make_builder(cache_dir, config_name="default", **kwargs) -> OpenMultimodalLiverCirrhosis:
    kwargs = {"image_size": S} | kwargs
    return OpenMultimodalLiverCirrhosis(config_name=config_name, cache_dir=str(cache_dir), **kwargs)


class TestFewPatients:
    def test_train_is_never_empty(self):
        """So every patient count the contract accepts leaves the builder a split."""
        assert all(len(split_indices(n)["train"]) for n in range(1, 20_000))

    @pytest.mark.parametrize("num_patients", [*range(1, 21), 99, 1000])
    def test_splits_are_the_parquet_splits(self, tmp_path, num_patients):
        """The builder lists exactly the splits that hold patients, as the export does."""
        builder = make_builder(tmp_path, num_patients=num_patients)
        names = [generator.name for generator in builder._split_generators(None)]
        assert names == list(expected_rows(num_patients))
        assert "train" in names

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    @pytest.mark.parametrize("num_patients", range(1, 9))
    def test_as_dataset_and_streaming_give_every_patient(self, tmp_path, config_name, num_patients):
        """1 to 5 patients leave a split empty: it was listed and as_dataset() raised
        'Instruction "validation" corresponds to no data!'."""
        builder = make_builder(tmp_path, config_name, num_patients=num_patients)
        builder.download_and_prepare()
        built = builder.as_dataset()
        rows = expected_rows(num_patients)
        assert {split: dataset.num_rows for split, dataset in built.items()} == rows
        for name, indices in split_indices(num_patients).items():
            if len(indices):
                ids = built[SPLITS[name]]["patient_id"]
                assert ids == [patient_id(index, num_patients) for index in indices]
        streamed = builder.as_streaming_dataset()
        assert list(streamed) == list(built)
        for split, iterable in streamed.items():
            assert_same_rows(
                rows_as_numpy(iterable.with_format("numpy")),
                rows_as_numpy(built[split].with_format("numpy")),
            )

    def test_rows_of_one_patient_equal_the_generator(self, tmp_path):
        builder = make_builder(tmp_path, "float32", num_patients=1, seed=7)
        builder.download_and_prepare()
        (row,) = builder.as_dataset()["train"].with_format("numpy")
        patient = generate_patient(0, seed=7, image_size=S)
        for modality, column in MODALITY_COLUMNS.items():
            assert row[column].tobytes() == patient.images[modality].tobytes()

    def test_asking_for_an_empty_split_names_the_splits_there_are(self, tmp_path):
        builder = make_builder(tmp_path, num_patients=1)
        builder.download_and_prepare()
        with pytest.raises(ValueError, match=r"validation.*\['train'\]"):
            builder.as_dataset(split="validation")
        with pytest.raises(ValueError, match=r"validation.*\['train'\]"):
            builder.as_streaming_dataset(split="validation")
        assert builder.as_dataset(split="train").num_rows == 1
        assert [row["patient_id"] for row in builder.as_streaming_dataset(split="train")] == [
            "PAT_0001"
        ]


class TestConfigNames:
    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_name_keyword_is_the_config_name(self, tmp_path, config_name):
        by_name = OpenMultimodalLiverCirrhosis(name=config_name, cache_dir=str(tmp_path))
        by_config_name = OpenMultimodalLiverCirrhosis(
            config_name=config_name, cache_dir=str(tmp_path)
        )
        assert by_name.config == by_config_name.config
        assert by_name.cache_dir == by_config_name.cache_dir

    @pytest.mark.parametrize(
        ("kwargs", "text"),
        [
            # was: the default config renamed 'foo', cached under foo/
            ({"name": "foo"}, "`name` must be one of ['default', 'float32'] (None: 'default'), "),
            ({"config_name": "float32", "name": "default"}, "`name` must be the config_name"),
            # was: a 'default' config of float32 images
            ({"config_name": "default", "image_format": "float32"}, "use config_name='float32'"),
            ({"image_format": "float32"}, "`image_format` must be 'png' in config 'default'"),
            ({"config_name": "float32", "image_format": "png"}, "use config_name='default'"),
            ({"version": "1.0.0"}, f"`version` must be '{GENERATOR_VERSION}'"),
            ({"version": datasets.Version("2.0.0")}, "got version=2.0.0"),
            ({"version": "not a version"}, "got version='not a version'"),
            ({"version": 3}, "got version=3"),
        ],
    )
    def test_refused_writing_nothing(self, tmp_path, kwargs, text):
        cache = tmp_path / "cache"
        with pytest.raises(ValueError) as error:
            OpenMultimodalLiverCirrhosis(cache_dir=str(cache), **kwargs)
        assert text in str(error.value) and "\n" not in str(error.value)
        assert not cache.exists()

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_matching_format_and_version_are_accepted(self, tmp_path, config_name):
        builder = OpenMultimodalLiverCirrhosis(
            config_name=config_name,
            cache_dir=str(tmp_path),
            image_format=builder_format(config_name),
            version=GENERATOR_VERSION,
        )
        assert builder.config.version == datasets.Version(GENERATOR_VERSION)

    def test_a_config_renamed_after_construction_is_refused(self, tmp_path):
        builder = make_builder(tmp_path, num_patients=3)
        builder.config.image_format = "float32"
        with pytest.raises(ValueError, match="`image_format` must be 'png' in config 'default'"):
            builder.download_and_prepare()


def builder_format(config_name: str) -> str:
    return OpenMultimodalLiverCirrhosis.builder_configs[config_name].image_format


class TestRefusalsWriteNothing:
    @pytest.mark.parametrize(
        "kwargs",
        [{"num_patients": 0}, {"num_patients": None}, {"seed": 2**40}, {"image_format": "jpeg"}],
    )
    def test_with_info_passed_in(self, tmp_path, kwargs):
        """``info`` skips ``_info()``, where the values used to be checked: the cache
        directory was made and the builder accepted."""
        cache = tmp_path / "cache"
        with pytest.raises(ValueError) as error:
            OpenMultimodalLiverCirrhosis(
                cache_dir=str(cache), info=datasets.DatasetInfo(), **kwargs
            )
        key = next(iter(kwargs))
        assert str(error.value).startswith(f"`{key}` must be ")
        assert not cache.exists()

    def test_numpy_integers_are_stored_and_cached_as_int(self, tmp_path):
        numpy = make_builder(tmp_path, num_patients=np.int64(12), seed=np.uint32(7))
        plain = make_builder(tmp_path, num_patients=12, seed=7)
        assert type(numpy.config.num_patients) is int and type(numpy.config.seed) is int
        assert numpy.cache_dir == plain.cache_dir
