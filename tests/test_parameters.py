"""``GenerationParameters``: validation, the record, ``generation.json``, and the same
one-line refusals from the export CLI and the builder."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generator.cohort import patient_id
from generator.contract import (
    DEFAULT_IMAGE_SIZE,
    DEFAULT_NUM_PATIENTS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    MAX_IMAGE_SIZE,
    MAX_NUM_PATIENTS,
    MAX_SEED,
    MIN_IMAGE_SIZE,
    GenerationParameters,
)
from generator.export import main
from generator.export_record import ExportRecord
from generator.patient import generate_patient
from generator.provenance import provenance
from generator.random_streams import Stream, StreamFamily, stream_rng
from open_multimodal_liver_cirrhosis import (
    OpenMultimodalLiverCirrhosis,
    OpenMultimodalLiverCirrhosisConfig,
)

SMALL = ["--num-patients", "10", "--image-size", "32", "--quiet", "--workers", "1"]
NPY_ONLY = [*SMALL, "--formats", "npy"]

#: (field, bad value, text the message must contain).
OUT_OF_RANGE = (
    ("num_patients", 0, "num_patients=0"),
    ("num_patients", -3, "num_patients=-3"),
    ("num_patients", MAX_NUM_PATIENTS + 1, f"num_patients={MAX_NUM_PATIENTS + 1}"),
    ("num_patients", 10**20 - 1, "num_patients=99999999999999999999"),
    ("num_patients", 10**30, f"num_patients={10**30}"),
    ("image_size", 16, "image_size=16"),
    ("image_size", MIN_IMAGE_SIZE - 1, f"image_size={MIN_IMAGE_SIZE - 1}"),
    ("image_size", MAX_IMAGE_SIZE + 1, f"image_size={MAX_IMAGE_SIZE + 1}"),
    ("seed", -1, "seed=-1"),
    ("seed", MAX_SEED + 1, f"seed={MAX_SEED + 1}"),
    ("seed", 2**64, f"seed={2**64}"),
)
#: The range each refusal states.
RANGES = {
    "num_patients": f"between 1 and {MAX_NUM_PATIENTS}",
    "image_size": f"between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}",
    "seed": f"between 0 and {MAX_SEED}",
}
NOT_INTEGERS = (True, False, np.True_, 64.0, 1000.0, 1.5, "20", "1000", None, [10])
FIELDS = ("num_patients", "image_size", "seed")
REPOSITORY = Path(__file__).resolve().parent.parent


def refusal(**values) -> str:
    """The message of the ``ValueError`` that ``GenerationParameters(**values)`` raises."""
    with pytest.raises(ValueError) as info:
        GenerationParameters(**values)
    return str(info.value)


def generation_json(num_patients: int, image_size: int, seed: int, version: str) -> str:
    """``generation.json`` exactly as every export has written it (keys in this order)."""
    return (
        f'{{\n  "generator_version": "{version}",\n  "num_patients": {num_patients},\n'
        f'  "image_size": {image_size},\n  "seed": {seed}\n}}\n'
    )


class TestValidation:
    def test_defaults(self):
        parameters = GenerationParameters()
        assert (parameters.num_patients, parameters.image_size, parameters.seed) == (
            DEFAULT_NUM_PATIENTS,
            DEFAULT_IMAGE_SIZE,
            DEFAULT_SEED,
        )

    @pytest.mark.parametrize(
        "values",
        [(1, MIN_IMAGE_SIZE, 0), (MAX_NUM_PATIENTS, MAX_IMAGE_SIZE, MAX_SEED), (1000, 224, 42)],
    )
    def test_bounds_accepted(self, values):
        assert dataclasses.astuple(GenerationParameters(*values)) == values

    def test_bounds(self):
        assert MAX_NUM_PATIENTS == 100_000_000 and MAX_SEED == 2**32 - 1

    @pytest.mark.parametrize(("field", "value", "text"), OUT_OF_RANGE)
    def test_out_of_range_names_field_value_and_range(self, field, value, text):
        message = refusal(**{field: value})
        assert message == f"`{field}` must be {RANGES[field]}, got {text}"

    @pytest.mark.parametrize("field", FIELDS)
    def test_an_int_too_long_to_print_is_refused_in_one_line(self, field):
        """Above 4300 digits ``repr`` itself raises: the refusal still names the field."""
        message = refusal(**{field: 10**5000})
        assert (
            message
            == f"`{field}` must be {RANGES[field]}, got {field}=<an integer of about 5001 digits>"
        )

    def test_patient_ids_and_headers_hold_at_the_bounds(self):
        """The largest id and the longest provenance line fit the NIfTI header fields."""
        last = MAX_NUM_PATIENTS - 1
        assert patient_id(last, MAX_NUM_PATIENTS) == "PAT_100000000"
        assert len(patient_id(last, MAX_NUM_PATIENTS)) <= 24  # NIfTI-1 aux_file
        patient = generate_patient(last, seed=MAX_SEED, image_size=MIN_IMAGE_SIZE)
        largest = np.zeros((MAX_IMAGE_SIZE, MAX_IMAGE_SIZE), np.float32)
        patient = dataclasses.replace(patient, images=dict.fromkeys(patient.images, largest))
        line = provenance(patient, GenerationParameters(MAX_NUM_PATIENTS, MAX_IMAGE_SIZE, MAX_SEED))
        assert line == f"generator {GENERATOR_VERSION} seed={MAX_SEED} index={last} size=1024"
        assert len(f"synthetic {line}".encode("ascii")) <= 80  # NIfTI-1 descrip
        assert json.loads(json.dumps(MAX_SEED)) == MAX_SEED

    def test_a_seed_above_max_seed_would_alias_another_seed(self):
        """Why MAX_SEED is one 32-bit word: SeedSequence pads its words with zeros.

        Seed 2**32 + 5 would be the words (5, 1): patient 0's label stream would be
        patient 1's of seed 5. Within the bound, the named streams differ.
        """
        aliased = stream_rng(2**32 + 5, 0, Stream.LABELS).random(4)
        assert np.array_equal(aliased, stream_rng(5, 1, Stream.LABELS).random(4))
        assert not np.array_equal(
            stream_rng(MAX_SEED, 0, Stream.LABELS).random(4),
            stream_rng(MAX_SEED - 1, 0, Stream.LABELS).random(4),
        )
        family = StreamFamily(MAX_SEED, MAX_NUM_PATIENTS - 1, "anatomy")
        assert family.rng("liver").random() != family.rng("spleen").random()

    @pytest.mark.parametrize("field", FIELDS)
    @pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
    def test_non_integers_refused(self, field, value):
        assert refusal(**{field: value}) == f"`{field}` must be an integer, got {value!r}"

    def test_first_bad_field_is_named(self):
        assert "num_patients=0" in refusal(num_patients=0, image_size=16, seed=-1)
        assert "image_size=16" in refusal(image_size=16, seed=-1)

    def test_numpy_integers_stored_as_int(self):
        parameters = GenerationParameters(np.int64(10), np.int32(64), np.uint8(7))
        assert parameters == GenerationParameters(10, 64, 7)
        assert all(type(value) is int for value in dataclasses.astuple(parameters))
        json.dumps(parameters.as_dict())  # plain ints serialise


class TestRecord:
    @pytest.mark.parametrize("field", FIELDS)
    def test_frozen(self, field):
        parameters = GenerationParameters()
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(parameters, field, 0)

    def test_equal_and_hashable(self):
        assert GenerationParameters(10, 32, 1) == GenerationParameters(10, 32, 1)
        assert GenerationParameters(10, 32, 1) != GenerationParameters(10, 32, 2)
        assert len({GenerationParameters(), GenerationParameters()}) == 1

    def test_as_dict_is_the_generation_json_mapping(self):
        assert list(GenerationParameters(10, 32, 7).as_dict().items()) == [
            ("generator_version", GENERATOR_VERSION),
            ("num_patients", 10),
            ("image_size", 32),
            ("seed", 7),
        ]

    def test_round_trip_through_json(self):
        parameters = GenerationParameters(12, 48, 3)
        text = json.dumps(parameters.as_dict(), indent=2)
        assert GenerationParameters.from_mapping(json.loads(text)) == parameters

    @pytest.mark.parametrize("key", ["generator_version", *FIELDS])
    def test_from_mapping_refuses_a_missing_key(self, key):
        mapping = GenerationParameters().as_dict()
        del mapping[key]
        with pytest.raises(ValueError, match=f"missing: {key}, extra: none"):
            GenerationParameters.from_mapping(mapping)

    def test_from_mapping_refuses_an_extra_key(self):
        mapping = GenerationParameters().as_dict() | {"workers": 4}
        with pytest.raises(ValueError, match="missing: none, extra: workers"):
            GenerationParameters.from_mapping(mapping)

    @pytest.mark.parametrize("mapping", [None, [], ["seed"], "seed", 42])
    def test_from_mapping_refuses_a_non_mapping(self, mapping):
        with pytest.raises(ValueError, match="must be a mapping"):
            GenerationParameters.from_mapping(mapping)

    def test_from_mapping_refuses_another_generator_version(self):
        mapping = GenerationParameters().as_dict() | {"generator_version": "0.0.1"}
        with pytest.raises(ValueError, match=r"generator_version='0\.0\.1'"):
            GenerationParameters.from_mapping(mapping)

    @pytest.mark.parametrize(("field", "value", "text"), OUT_OF_RANGE)
    def test_from_mapping_validates_values(self, field, value, text):
        mapping = GenerationParameters().as_dict() | {field: value}
        with pytest.raises(ValueError, match=text):
            GenerationParameters.from_mapping(mapping)

    def test_from_mapping_refuses_an_out_of_range_seed_from_an_older_export(self):
        mapping = json.loads(generation_json(10, 32, 2**40, GENERATOR_VERSION))
        with pytest.raises(ValueError, match=f"between 0 and {MAX_SEED}, got seed={2**40}"):
            GenerationParameters.from_mapping(mapping)

    def test_from_mapping_refuses_a_json_boolean(self):
        mapping = json.loads(json.dumps(GenerationParameters().as_dict() | {"seed": True}))
        with pytest.raises(ValueError, match="`seed` must be an integer, got True"):
            GenerationParameters.from_mapping(mapping)


class TestExportCli:
    @pytest.mark.parametrize(("field", "value", "text"), OUT_OF_RANGE)
    def test_bad_value_same_one_line_message(self, tmp_path, capsys, field, value, text):
        out = tmp_path / "out"
        flag = "--" + field.replace("_", "-")
        assert main(["--out", str(out), *NPY_ONLY, flag, str(value)]) == 2
        assert capsys.readouterr().err == f"export.py: error: {refusal(**{field: value})}\n"
        assert not out.exists()

    @pytest.mark.parametrize(
        ("flag", "value"),
        [
            ("--num-patients", "99999999999999999999"),  # was: OverflowError, a traceback
            ("--num-patients", str(10**12)),  # was: no output for minutes (file lists)
            ("--num-patients", str(MAX_NUM_PATIENTS + 1)),
            ("--seed", str(MAX_SEED + 1)),
            ("--seed", str(2**64)),
        ],
    )
    def test_huge_value_exits_2_at_once_in_one_line_writing_nothing(self, tmp_path, flag, value):
        out = tmp_path / "x"
        result = subprocess.run(
            [sys.executable, "generator/export.py", flag, value, "--out", str(out), "--quiet"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        field = flag[2:].replace("-", "_")
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert result.stderr == (
            f"export.py: error: `{field}` must be {RANGES[field]}, got {field}={value}\n"
        )
        assert not out.exists()
        assert list(tmp_path.iterdir()) == []

    def test_generation_json_holds_the_parameters_then_the_pixel_spacing(self, tmp_path):
        assert main(["--out", str(tmp_path), *NPY_ONLY, "--seed", "7"]) == 0
        written = (tmp_path / "generation.json").read_text()
        head = generation_json(10, 32, 7, GENERATOR_VERSION).rstrip("\n}")
        assert written.startswith(head + ',\n  "pixel_spacing_mm": {')
        record = json.loads(written)
        assert record["pixel_spacing_mm"] == {"MRI": 11.25, "CT": 11.25, "US": 5.273438}

    @pytest.mark.parametrize(
        "text", [generation_json(10, 32, 42, GENERATOR_VERSION), "[1, 2]\n", "{not json\n"]
    )
    def test_a_generation_json_no_export_wrote_is_not_adopted(self, tmp_path, capsys, text):
        (tmp_path / "generation.json").write_text(text)
        assert main(["--out", str(tmp_path), *NPY_ONLY]) == 2
        error = capsys.readouterr().err
        assert "1 file(s) that no export wrote (generation.json)" in error
        assert error.count("\n") == 1
        assert [p.name for p in tmp_path.iterdir()] == ["generation.json"]
        assert (tmp_path / "generation.json").read_text() == text

    @pytest.mark.parametrize(
        ("recorded", "described"),
        [
            (
                {"generator_version": "0.0.1"},
                "generator_version=0.0.1, num_patients=10, image_size=32, seed=42",
            ),
            (
                {"num_patients": 11},
                f"generator_version={GENERATOR_VERSION}, num_patients=11, image_size=32, seed=42",
            ),
        ],
    )
    def test_other_parameters_refused(self, tmp_path, capsys, recorded, described):
        """An export whose record names other parameters (another version: as if made by it)."""
        assert main(["--out", str(tmp_path), *NPY_ONLY, "--num-patients", "10"]) == 0
        record = ExportRecord.read(tmp_path)
        record.parameters.update(recorded)
        record.save()
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        capsys.readouterr()
        assert main(["--out", str(tmp_path), *NPY_ONLY]) == 2
        error = capsys.readouterr().err
        assert f"made with other parameters ({described})" in error and error.count("\n") == 1
        assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


class TestBuilder:
    def test_config_holds_the_record(self, tmp_path):
        builder = OpenMultimodalLiverCirrhosis(
            config_name="float32", num_patients=12, image_size=32, seed=7, cache_dir=str(tmp_path)
        )
        assert builder.config.parameters == GenerationParameters(12, 32, 7)
        assert OpenMultimodalLiverCirrhosisConfig(name="x").parameters == GenerationParameters()

    @pytest.mark.parametrize(
        ("field", "value"),
        [(field, value) for field, value, _ in OUT_OF_RANGE]
        + [(field, value) for field in FIELDS for value in (True, 64.0, "20", None)],
    )
    def test_bad_value_same_message(self, tmp_path, field, value):
        expected = refusal(**{field: value})
        cache = tmp_path / "cache"
        with pytest.raises(ValueError) as custom:
            OpenMultimodalLiverCirrhosisConfig(name="custom", **{field: value})
        with pytest.raises(ValueError) as predefined:
            OpenMultimodalLiverCirrhosis(
                config_name="default", cache_dir=str(cache), **{field: value}
            )
        assert str(custom.value) == str(predefined.value) == expected
        assert not cache.exists()

    def test_changed_config_refused_when_read(self, tmp_path):
        builder = OpenMultimodalLiverCirrhosis(num_patients=12, cache_dir=str(tmp_path))
        builder.config.image_size = 16
        with pytest.raises(ValueError, match="image_size=16"):
            builder.config.parameters  # noqa: B018 (reading the record validates it)
