"""The Hugging Face builder on the installed ``datasets`` (5.x): configs, splits, features,
equality with the generator and the export, parallel and streaming builds, caching and
bad configs. ``datasets`` 3.6 (``load_dataset(script)``) is checked by ``.ci/run``.
"""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import pytest

import open_multimodal_liver_cirrhosis as script
from generator import generate_patient, patient_id, sample_labels, split_indices
from generator.contract import (
    BINARY_LABELS,
    GENERATOR_VERSION,
    MAX_NUM_PATIENTS,
    MAX_SEED,
    STAGES,
    GenerationParameters,
)
from generator.encoding import png_bytes, quantize_to_uint8
from generator.export import export
from generator.modalities import MODALITY_COLUMNS
from generator.rows import CONFIG_NAMES, IMAGE_FORMATS, build_features
from generator.shards import STREAM_SHARDS, stream_shards
from open_multimodal_liver_cirrhosis import (
    OpenMultimodalLiverCirrhosis,
    OpenMultimodalLiverCirrhosisConfig,
)

N, S = 20, 64  # patients, image side: 14 / 3 / 3 (every split in 840 shards)
SPLITS = {"train": "train", "val": "validation", "test": "test"}
IMAGE_COLUMNS = tuple(MODALITY_COLUMNS.values())
LABEL_MAP_COLUMNS = tuple(f"{column}_label_map" for column in IMAGE_COLUMNS)


def make_builder(cache_dir, config_name="default", **kwargs) -> OpenMultimodalLiverCirrhosis:
    kwargs = {"num_patients": N, "image_size": S} | kwargs
    return OpenMultimodalLiverCirrhosis(config_name=config_name, cache_dir=str(cache_dir), **kwargs)


def build(cache_dir, config_name="default", num_proc=None, **kwargs) -> datasets.DatasetDict:
    builder = make_builder(cache_dir, config_name, **kwargs)
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset()


def rows_as_numpy(dataset) -> list[dict]:
    """Every row with images as numpy arrays and other values as Python scalars."""
    rows = []
    for row in dataset:
        row = {column: np.asarray(value) for column, value in row.items()}
        for column, value in row.items():
            if column not in IMAGE_COLUMNS + LABEL_MAP_COLUMNS:
                row[column] = value.item()
        rows.append(row)
    return rows


def assert_same_rows(left: list[dict], right: list[dict]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.keys() == b.keys()
        for column, value in a.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == b[column].dtype and np.array_equal(value, b[column])
            else:
                assert value == b[column], column


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, datasets.DatasetDict]:
    cache = tmp_path_factory.mktemp("hf-cache")
    return {name: build(cache, name) for name in CONFIG_NAMES}


@pytest.fixture(scope="module")
def patients():
    return [generate_patient(index, image_size=S) for index in range(N)]


class TestBuild:
    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_split_sizes_follow_the_contract(self, built, config_name):
        expected = {SPLITS[name]: len(indices) for name, indices in split_indices(N).items()}
        assert {split: built[config_name][split].num_rows for split in built[config_name]} == (
            expected
        )
        assert expected == {"train": 14, "validation": 3, "test": 3}

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_features_are_the_declared_features(self, built, config_name, tmp_path):
        image_format = IMAGE_FORMATS[config_name]
        declared = build_features(image_format, S)
        builder = make_builder(tmp_path, config_name)
        assert builder.info.features == declared
        for split in built[config_name].values():
            assert split.features == declared
            assert split.info.version == datasets.Version(GENERATOR_VERSION)

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_every_patient_in_exactly_one_split_in_order(self, built, config_name):
        for name, indices in split_indices(N).items():
            ids = built[config_name][SPLITS[name]]["patient_id"]
            assert ids == [patient_id(index, N) for index in indices]
        every = [pid for split in built[config_name].values() for pid in split["patient_id"]]
        assert sorted(every) == [patient_id(index, N) for index in range(N)]

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_labels_equal_the_cohort(self, built, config_name):
        features = built[config_name]["train"].features
        for split in built[config_name].values():
            for row in split.remove_columns(list(IMAGE_COLUMNS + LABEL_MAP_COLUMNS)):
                labels = sample_labels(int(row["patient_id"][4:]) - 1, seed=42)
                assert features["fibrosis_stage"].int2str(row["fibrosis_stage"]) == (
                    labels.fibrosis_stage
                )
                assert features["binary_label"].int2str(row["binary_label"]) == (
                    labels.binary_label
                )
                assert features["sex"].int2str(row["sex"]) == labels.sex
                assert row["age"] == labels.age
                assert row["liver_stiffness_kpa"] == np.float32(labels.liver_stiffness_kpa)

    def test_class_label_names(self, built):
        features = built["default"]["train"].features
        assert features["fibrosis_stage"].names == list(STAGES)
        assert features["binary_label"].names == list(BINARY_LABELS)
        assert features["sex"].names == ["M", "F"]

    def test_writer_flushes_small_batches(self, built):
        """Arrow record batches hold at most WRITER_BATCH_SIZE rows: memory stays flat."""
        table = built["float32"]["train"].data.table
        assert table.num_rows == 14
        assert max(batch.num_rows for batch in table.to_batches()) <= script.WRITER_BATCH_SIZE


class TestFloat32:
    def test_arrow_storage_is_float32_images_and_uint8_label_maps(self, built):
        schema = built["float32"]["train"].data.schema
        for column in IMAGE_COLUMNS:
            assert schema.field(column).type.value_type == pa.float32()
            assert schema.field(column).type.shape == (S, S)
        for column in LABEL_MAP_COLUMNS:
            assert schema.field(column).type.value_type == pa.uint8()

    def test_images_and_label_maps_equal_the_generator(self, built, patients):
        # The numpy format gives float32 for float arrays and int64 for integer arrays
        # (datasets' NumpyFormatter default); the storage types are checked above.
        for split in built["float32"].values():
            for row in rows_as_numpy(split.with_format("numpy")):
                patient = patients[int(row["patient_id"][4:]) - 1]
                for modality, column in MODALITY_COLUMNS.items():
                    image = row[column]
                    assert image.dtype == np.float32 and image.shape == (S, S)
                    assert image.tobytes() == patient.images[modality].tobytes()
                    label_map = row[f"{column}_label_map"]
                    assert np.array_equal(label_map, patient.label_maps[modality])

    def test_images_equal_the_export_npy_files(self, built, tmp_path):
        folder = tmp_path / "export"
        export(folder, GenerationParameters(N, S, 42), quiet=True, formats=("npy",))
        for split in built["float32"].values():
            for row in rows_as_numpy(split.with_format("numpy")):
                for modality, column in MODALITY_COLUMNS.items():
                    path = folder / "images" / f"{row['patient_id']}_{modality}.npy"
                    assert row[column].tobytes() == np.load(path).tobytes()


class TestDefault:
    def test_images_are_8_bit_grayscale_within_one_grey_level(self, built, patients):
        for split in built["default"].values():
            for row in split:
                patient = patients[int(row["patient_id"][4:]) - 1]
                for modality, column in MODALITY_COLUMNS.items():
                    image = row[column]
                    assert image.mode == "L" and image.size == (S, S)
                    assert image.format == "PNG"
                    pixels = np.asarray(image)
                    assert np.abs(pixels / 255 - patient.images[modality]).max() <= 0.5 / 255 + 1e-6
                    assert np.array_equal(pixels, quantize_to_uint8(patient.images[modality]))
                    label_map = row[f"{column}_label_map"]
                    assert label_map.mode == "L"
                    assert np.array_equal(np.asarray(label_map), patient.label_maps[modality])


class TestQuantisation:
    def test_rule_is_round_to_nearest_grey_level(self):
        levels = np.arange(256)
        below = ((levels + 0.25) / 255).clip(0, 1)  # rounds down to the level
        above = ((levels - 0.25) / 255).clip(0, 1)  # rounds up to the level
        assert quantize_to_uint8(below.astype(np.float32)).tolist() == levels.tolist()
        assert quantize_to_uint8(above.astype(np.float32)).tolist() == levels.tolist()
        # An exact tie (127.5) goes up.
        assert quantize_to_uint8(np.array([0.0, 0.5, 1.0], np.float32)).tolist() == [0, 128, 255]

    def test_random_values_within_half_a_grey_level(self):
        values = np.random.default_rng(0).random((40, 40), dtype=np.float32)
        quantised = quantize_to_uint8(values)
        assert quantised.dtype == np.uint8 and quantised.shape == (40, 40)
        assert np.abs(quantised / 255 - values).max() <= 0.5 / 255 + 1e-7

    @pytest.mark.parametrize("bad", [1.5, -0.25, np.nan])
    def test_out_of_range_values_are_refused(self, bad):
        image = np.zeros((4, 4), np.float32)
        image[1, 2] = bad
        with pytest.raises(ValueError, match="in \\[0, 1\\]"):
            quantize_to_uint8(image)

    def test_integer_input_is_refused(self):
        with pytest.raises(ValueError, match="dtype=uint8"):
            quantize_to_uint8(np.zeros((4, 4), np.uint8))

    @pytest.mark.parametrize("compress", [True, False])
    def test_png_round_trip_and_refusal(self, compress):
        import io

        import PIL.Image

        array = np.random.default_rng(1).integers(0, 256, (9, 8), dtype=np.uint8)
        image = PIL.Image.open(io.BytesIO(png_bytes(array, compress=compress)))
        assert image.format == "PNG" and image.mode == "L"
        assert np.array_equal(np.asarray(image), array)
        with pytest.raises(ValueError, match="dtype=float32"):
            png_bytes(array.astype(np.float32), compress=compress)

    def test_stored_png_holds_the_raw_rows_and_compressed_png_is_smaller(self):
        array = np.tile(np.arange(32, dtype=np.uint8), (32, 1))
        stored, compressed = png_bytes(array, compress=False), png_bytes(array)
        unfiltered_rows = b"".join(b"\x00" + row.tobytes() for row in array)
        assert unfiltered_rows in stored  # zlib level 0: stored blocks, no filter
        assert len(compressed) < len(unfiltered_rows) / 4 < len(stored)


class TestParallelAndStreaming:
    def test_num_proc_2_gives_the_same_rows_in_the_same_order(self, built, tmp_path):
        parallel = build(tmp_path, "float32", num_proc=2)
        for split in built["float32"]:
            assert_same_rows(
                rows_as_numpy(parallel[split].with_format("numpy")),
                rows_as_numpy(built["float32"][split].with_format("numpy")),
            )

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_streaming_yields_the_rows_of_as_dataset(self, built, config_name, tmp_path):
        streamed = make_builder(tmp_path, config_name).as_streaming_dataset()
        assert set(streamed) == set(built[config_name])
        for split, iterable in streamed.items():
            # The numpy format on both sides: in the python format, streaming passes the
            # generator's arrays through while as_dataset() gives nested lists.
            assert_same_rows(
                rows_as_numpy(iterable.with_format("numpy")),
                rows_as_numpy(built[config_name][split].with_format("numpy")),
            )

    def test_streamed_pngs_are_stored_and_decode_to_the_prepared_pixels(self, built, tmp_path):
        """Streaming skips compression; its images are the prepared (compressed) ones."""
        import io

        import PIL.Image

        columns = IMAGE_COLUMNS + LABEL_MAP_COLUMNS
        undecoded = {column: datasets.Image(decode=False) for column in columns}
        streamed = make_builder(tmp_path, "default").as_streaming_dataset(split="train")
        streamed_rows = list(streamed.cast(datasets.Features({**streamed.features, **undecoded})))
        prepared_rows = built["default"]["train"].cast(
            datasets.Features({**built["default"]["train"].features, **undecoded})
        )
        for streamed_row, prepared_row in zip(streamed_rows, prepared_rows, strict=True):
            for column in columns:
                stored, compressed = streamed_row[column]["bytes"], prepared_row[column]["bytes"]
                assert len(stored) > S * (S + 1) > len(compressed)
                pixels = [np.asarray(PIL.Image.open(io.BytesIO(b))) for b in (stored, compressed)]
                assert np.array_equal(*pixels)

    def test_every_split_has_840_shards_for_nodes_and_dataloader_workers(self, tmp_path):
        streamed = make_builder(tmp_path, "default").as_streaming_dataset()
        assert STREAM_SHARDS == 840
        assert {split: iterable.num_shards for split, iterable in streamed.items()} == {
            split: STREAM_SHARDS for split in streamed
        }

    @pytest.mark.skipif(
        not hasattr(datasets.IterableDataset, "reshard"), reason="reshard() is datasets >= 5"
    )
    def test_reshard_gives_one_patient_a_shard_and_keeps_rows(self, built, tmp_path):
        streamed = make_builder(tmp_path, "float32").as_streaming_dataset(split="train")
        resharded = streamed.reshard()
        assert resharded.num_shards == 14
        assert_same_rows(
            rows_as_numpy(resharded.with_format("numpy")),
            rows_as_numpy(built["float32"]["train"].with_format("numpy")),
        )

    def test_shards_split_across_dataloader_workers(self, tmp_path):
        """DataLoader workers take every n-th shard (``contiguous=False``)."""
        streamed = make_builder(tmp_path, "default").as_streaming_dataset(split="train")
        first = [row["patient_id"] for row in streamed.shard(2, 0, contiguous=False)]
        second = [row["patient_id"] for row in streamed.shard(2, 1, contiguous=False)]
        assert first == [patient_id(i, N) for i in range(0, 14, 2)]
        assert second == [patient_id(i, N) for i in range(1, 14, 2)]

    @pytest.mark.parametrize("world_size", [2, 3, 4, 8])
    def test_nodes_get_disjoint_complete_equal_shares_and_render_only_theirs(
        self, tmp_path, monkeypatch, world_size
    ):
        from datasets.distributed import split_dataset_by_node

        import generator.shards

        rendered = []
        real_generate = generator.shards.generate_patient

        def record(index, **kwargs):
            rendered.append(index)
            return real_generate(index, **kwargs)

        monkeypatch.setattr(generator.shards, "generate_patient", record)
        streamed = make_builder(tmp_path, "float32").as_streaming_dataset(split="train")
        shares = []
        for rank in range(world_size):
            rendered.clear()
            node = split_dataset_by_node(streamed, rank=rank, world_size=world_size)
            shares.append([row["patient_id"] for row in node])
            assert [patient_id(i, N) for i in rendered] == shares[-1]  # nothing dropped
        ids = [pid for share in shares for pid in share]
        assert sorted(ids) == [patient_id(i, N) for i in range(14)]  # disjoint and complete
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


class TestCacheAndVersion:
    def test_predefined_configs_carry_the_generator_version(self):
        assert OpenMultimodalLiverCirrhosis.VERSION == datasets.Version(GENERATOR_VERSION)
        for config in OpenMultimodalLiverCirrhosis.BUILDER_CONFIGS:
            assert config.version == OpenMultimodalLiverCirrhosis.VERSION

    @pytest.mark.parametrize("config_name", CONFIG_NAMES)
    def test_cache_directory_names_the_version(self, tmp_path, config_name):
        for builder in (
            OpenMultimodalLiverCirrhosis(config_name=config_name, cache_dir=str(tmp_path)),
            make_builder(tmp_path, config_name),
        ):
            assert builder.config.version == datasets.Version(GENERATOR_VERSION)
            assert GENERATOR_VERSION in builder.cache_dir.split("/")

    def test_different_parameters_never_share_a_cache_directory(self, tmp_path):
        variants = [
            {},
            {"num_patients": 21},
            {"image_size": 32},
            {"seed": 7},
            {"num_patients": 21, "image_size": 32, "seed": 7},
        ]
        directories = [
            make_builder(tmp_path, name, **variant).cache_dir
            for name in CONFIG_NAMES
            for variant in variants
        ]
        directories.append(
            OpenMultimodalLiverCirrhosis(config_name="default", cache_dir=str(tmp_path)).cache_dir
        )
        assert len(set(directories)) == len(directories)
        assert make_builder(tmp_path, seed=7).cache_dir == make_builder(tmp_path, seed=7).cache_dir

    def test_parameters_change_the_data_where_they_should(self, built, tmp_path):
        reference = built["float32"]["train"].with_format("numpy")[0]
        other_seed = build(tmp_path, "float32", seed=7)["train"].with_format("numpy")[0]
        assert reference["patient_id"] == other_seed["patient_id"] == "PAT_0001"
        assert not np.array_equal(reference["mri"], other_seed["mri"])
        other_size = build(tmp_path, "float32", image_size=32)["train"].with_format("numpy")[0]
        assert other_size["mri"].shape == (32, 32)
        # A patient does not depend on the patient count, only its split does.
        more = build(tmp_path, "float32", num_patients=30)
        assert more["train"].num_rows == 21
        first = more["train"].with_format("numpy")[0]
        assert first["mri"].tobytes() == reference["mri"].tobytes()
        assert first["fibrosis_stage"] == reference["fibrosis_stage"]


BAD_VALUES = (
    ("num_patients", 0),
    ("num_patients", -3),
    ("num_patients", "20"),
    ("num_patients", "1000"),
    ("num_patients", 1000.0),
    ("num_patients", True),
    ("num_patients", None),
    ("num_patients", MAX_NUM_PATIENTS + 1),
    ("num_patients", 10**30),
    ("image_size", 31),
    ("image_size", 1025),
    ("image_size", 64.0),
    ("image_size", False),
    ("image_size", None),
    ("seed", -1),
    ("seed", MAX_SEED + 1),
    ("seed", True),
    ("seed", "42"),
    ("seed", None),
    ("image_format", "jpeg"),
    ("image_format", "PNG"),
    ("image_format", ""),
    ("image_format", None),
    ("image_format", b"png"),
    ("image_format", ["png"]),
    ("image_format", 1),
)


def assert_names(error: pytest.ExceptionInfo, key: str, value: object) -> None:
    """The refusal is one line naming the parameter and the bad value."""
    message = str(error.value)
    assert error.type is ValueError and "\n" not in message
    assert message.startswith(f"`{key}` must be ")
    assert f"{key}={value!r}" in message or f"got {value!r}" in message


class TestValidation:
    @pytest.mark.parametrize(("key", "value"), BAD_VALUES)
    def test_config_post_init_names_the_bad_value(self, key, value):
        with pytest.raises(ValueError) as error:
            OpenMultimodalLiverCirrhosisConfig(name="custom", **{key: value})
        assert_names(error, key, value)

    @pytest.mark.parametrize("config_name", [*CONFIG_NAMES, None])
    @pytest.mark.parametrize(("key", "value"), BAD_VALUES)
    def test_keyword_arguments_for_a_predefined_config_are_validated(
        self, tmp_path, config_name, key, value
    ):
        """Refused before anything is written: ``None`` too, which ``datasets`` skips."""
        cache = tmp_path / "cache"
        with pytest.raises(ValueError) as error:
            OpenMultimodalLiverCirrhosis(
                config_name=config_name, cache_dir=str(cache), **{key: value}
            )
        assert_names(error, key, value)
        assert not cache.exists()

    def test_a_config_changed_after_construction_is_refused_before_generation(self, tmp_path):
        builder = make_builder(tmp_path)
        builder.config.num_patients = 0
        with pytest.raises(ValueError, match="num_patients=0"):
            builder.download_and_prepare()
        with pytest.raises(ValueError, match="num_patients=0"):
            builder.as_streaming_dataset()

    @pytest.mark.parametrize("config_name", ["png", "", "Default", "custom", 5, b"default"])
    def test_unknown_config_name_is_refused(self, tmp_path, config_name):
        cache = tmp_path / "cache"
        with pytest.raises(ValueError) as error:
            OpenMultimodalLiverCirrhosis(config_name=config_name, cache_dir=str(cache))
        assert_names(error, "config_name", config_name)
        assert "['default', 'float32']" in str(error.value)
        assert not cache.exists()

    def test_unknown_keyword_is_refused(self, tmp_path):
        with pytest.raises(ValueError, match="num_patient"):
            OpenMultimodalLiverCirrhosis(num_patient=5, cache_dir=str(tmp_path))


@pytest.mark.parametrize("num_patients", [0, 5, 839, 840, 841, 1000, 12345])
def test_stream_shards_cover_in_order_and_balance_every_world_size(num_patients):
    shards = stream_shards(range(num_patients))
    assert len(shards) == STREAM_SHARDS
    assert [i for shard in shards for i in shard] == list(range(num_patients))
    for world_size in range(1, 9):
        totals = [sum(map(len, shards[rank::world_size])) for rank in range(world_size)]
        assert max(totals) - min(totals) <= 1, (world_size, totals)
